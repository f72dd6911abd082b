/**
 * What a workload may do with its own grants, proving it is still the same identity with a fresh
 * subject token: revoke one (a CI job's post step, a sidecar on shutdown) or renew one in place where
 * the upstream allows (a Vault lease, a PostgreSQL role's VALID UNTIL). A grant of another identity is
 * reported exactly like an unknown one. Renewal is decided by the current policy, like an exchange.
 */
import type { SubjectToken, WorkloadIdentity } from '../attestation/attestor.js';
import { JWT_TOKEN_TYPE } from '../attestation/token_types.js';
import { grantRenewedEvent } from '../audit/events.js';
import { PolicyDeniedError, StintError } from '../errors.js';
import type { Grant, Store } from '../store/store.js';
import type { AdminService, RevocationResult } from './admin.js';
import type { PipelineDeps, PresentedToken } from './contracts.js';
import { grantRef } from '../grants/grant_ref.js';
import { providerTtl } from './issue_all.js';
import { renewAfterOf } from '../credentials/provider.js';
import type { QuarantineView } from './quarantine.js';

/** Dependencies of workload grant operations. */
export interface WorkloadGrantsDeps extends PipelineDeps {
  /** The pipeline's verifier (behind its verified-identity cache). */
  readonly attest: (token: PresentedToken) => Promise<WorkloadIdentity>;
  readonly store: Store;
  readonly admin: AdminService;
  /** Quarantined identities: renewals refused, status reports it. */
  readonly quarantines?: Pick<QuarantineView, 'check' | 'get'>;
}

/** What POST /grants/status answers: the grant's state as a workload should act on it, and whether its identity is quarantined. */
export interface GrantStatus {
  readonly grantId: string;
  /** `revoked`: stop serving it now; `expired`: past its expiry (or reaped); `active`: keep serving. */
  readonly state: 'active' | 'revoked' | 'expired';
  readonly quarantined: boolean;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** Revocation and renewal of a workload's own grants. */
export class WorkloadGrants {
  constructor(private readonly deps: WorkloadGrantsDeps) {}

  /** Verify the subject token, check the grant is the caller's own, revoke it. */
  async revoke(subjectToken: SubjectToken | string, grantId: string, reason: string): Promise<RevocationResult> {
    const { identity } = await this.ownGrant(subjectToken, grantId);
    return this.deps.admin.revokeGrant(grantId, reason || 'revoked by its workload', identity.id, undefined, 'workload');
  }

  /**
   * The state of the caller's own grant, for a sidecar polling whether to keep serving it: proven
   * with a fresh subject token like /revoke (through the verified-identity cache, so a poll costs a
   * hash, a map lookup and one store read by primary key). Never refused for a quarantine: it says so.
   */
  async status(subjectToken: SubjectToken | string, grantId: string): Promise<GrantStatus> {
    const { identity, grant } = await this.ownGrant(subjectToken, grantId);
    const now = Math.floor(this.deps.clock.now() / 1000);
    const state = grant.state === 'revoked' ? 'revoked' : grant.state === 'active' && grant.expiresAt > now ? 'active' : 'expired';
    return { grantId: grant.id, state, quarantined: this.deps.quarantines?.get(identity.id) != null, expiresAt: grant.expiresAt };
  }

  /**
   * Extend the caller's own active grant upstream, for at most what the policy allows now. Returns
   * the grant as extended and when to renew next (two thirds of the way to the new expiry).
   */
  async renew(subjectToken: SubjectToken | string, grantId: string, ttlSeconds: number | undefined): Promise<{ grant: Grant; renewAfter: number }> {
    const { deps } = this;
    const { identity, grant } = await this.ownGrant(subjectToken, grantId);
    deps.quarantines?.check(identity.id);
    const now = Math.floor(deps.clock.now() / 1000);
    if (grant.state !== 'active' || grant.expiresAt <= now) {
      throw new StintError('ERR_INVALID_REQUEST', `grant ${grant.id} is ${grant.state === 'active' ? 'expired' : grant.state}: exchange again`, { field: 'grant_id' });
    }
    const provider = deps.providers.get(grant.kind);
    deps.limits?.checkIdentity(identity.id, deps.clock.now());
    if (!provider.renew) throw new StintError('ERR_INVALID_REQUEST', `${grant.kind} credentials cannot be renewed in place: exchange again`, { field: 'grant_id' });
    const decision = deps.policy.current().decide(
      identity,
      [{ kind: grant.kind, audience: grant.audience ?? undefined, target: grant.target ?? undefined, ttlSeconds }],
      now,
    );
    deps.metrics.policyDecisions.inc({ outcome: decision.outcome, reason: decision.reason });
    if (decision.outcome === 'deny') {
      throw new PolicyDeniedError('ERR_POLICY_DENIED', `renewal denied by policy (${decision.reason})`, null, decision.reason);
    }
    const granted = decision.credentials[0]!;
    deps.limits?.checkUpstream(grant.kind, deps.clock.now());
    const ttl = providerTtl(granted.ttlSeconds, provider, deps.maxTtlSeconds);
    const { expiresAt: upstreamExpiresAt } = await provider.renew(grantRef(grant), ttl);
    // The upstream may grant more than asked (Vault can ignore the increment): the grant never
    // outlives what the rule allows now. The stored expiry is capped, so the reaper revokes the
    // upstream credential at the cap, and the over-grant is audited.
    const cap = now + ttl;
    const overGranted = upstreamExpiresAt > cap;
    const updated = (await deps.store.extendGrant(grant.id, Math.max(grant.expiresAt, Math.min(upstreamExpiresAt, cap)))) ?? grant;
    await deps.auditor.record(grantRenewedEvent({ identity: identity.id, rule: decision.rule, grant, expiresAt: updated.expiresAt, ttlSeconds: ttl, ...(overGranted ? { upstreamExpiresAt } : {}) }));
    return { grant: updated, renewAfter: renewAfterOf(now, updated.expiresAt) };
  }

  /**
   * The caller's own grant: same identity string, verified by the same attestor instance and
   * issuer, and an attestation that the grant's rule would still admit for this grant's kind,
   * audience and target (so a token from an untrusted cluster, or a job on another branch with the
   * same `sub`, cannot touch it). Anything else is reported exactly like an unknown grant.
   */
  private async ownGrant(subject: SubjectToken | string, grantId: string): Promise<{ identity: WorkloadIdentity; grant: Grant }> {
    const token = typeof subject === 'string' ? { type: JWT_TOKEN_TYPE, value: subject } : subject;
    if (!token.value) throw new StintError('ERR_INVALID_REQUEST', 'subject_token is required', { field: 'subject_token' });
    if (!grantId) throw new StintError('ERR_INVALID_REQUEST', 'grant_id is required', { field: 'grant_id' });
    const identity = await this.deps.attest(token);
    const grant = await this.deps.store.getGrant(grantId);
    const notFound = (): StintError => new StintError('ERR_NOT_FOUND', 'no such grant for this identity', { field: 'grant_id' });
    if (!grant || grant.identity !== identity.id || grant.attestor !== identity.attestorName || grant.issuer !== identity.issuer) throw notFound();
    const now = Math.floor(this.deps.clock.now() / 1000);
    const decision = this.deps.policy.current().decide(identity, [{ kind: grant.kind, audience: grant.audience ?? undefined, target: grant.target ?? undefined }], now, undefined, { explain: false });
    if (decision.outcome !== 'allow' || decision.rule !== grant.rule) throw notFound();
    return { identity, grant };
  }
}
