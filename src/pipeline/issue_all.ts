/**
 * Issue-all-or-revoke: the credentials of one allowed decision are issued through their providers
 * and recorded (the grants and their audit event in one store write) together, or not at all. A
 * provider failing part-way, or the record failing, revokes upstream what this call already created
 * (best effort: a revoke that fails too is left to reconciliation), and the first error surfaces
 * unchanged. The exchange and the break-glass release issue through here.
 */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import type { Auditor } from '../audit/auditor.js';
import type { CredentialProvider, IssuedCredential } from '../credentials/provider.js';
import { activeGrant } from '../grants/active_grant.js';
import { grantRef } from '../grants/grant_ref.js';
import type { GrantedCredential } from '../grants/granted.js';
import { uuidv7 } from '../ids.js';
import type { AuditEvent, Grant } from '../store/store.js';
import type { PipelineDeps, ProviderLookup } from './contracts.js';

/** One issued credential with its grant. */
export interface IssuedGrant {
  readonly grant: Grant;
  readonly granted: GrantedCredential;
  readonly credential: IssuedCredential;
  /** The provider can extend this grant in place (POST /renew) instead of issuing a new credential. */
  readonly renewable: boolean;
}

/** What issue-all-or-revoke needs of the pipeline. */
export type IssueAllDeps = Pick<PipelineDeps, 'providers' | 'clock' | 'maxTtlSeconds' | 'limits'> & {
  readonly auditor: Pick<Auditor, 'recordIssuance'>;
};

/** The credentials one allowed decision grants an identity. */
export interface IssueRequest {
  readonly identity: WorkloadIdentity;
  /** The rule that allowed them. */
  readonly rule: string;
  readonly credentials: readonly GrantedCredential[];
  /** Epoch seconds of the decision: every grant's issuedAt. */
  readonly nowSeconds: number;
}

/** A granted TTL within a provider's limits: never above its maximum or the global cap, never below the upstream's minimum. */
export function providerTtl(requested: number, provider: Pick<CredentialProvider, 'maxTtlSeconds' | 'minTtlSeconds'>, maxTtlSeconds: number): number {
  const capped = Math.min(requested, provider.maxTtlSeconds, maxTtlSeconds);
  return Math.max(capped, Math.min(provider.minTtlSeconds ?? 1, provider.maxTtlSeconds));
}

/**
 * Issue every credential of `request`, then record the grants with the audit event `eventOf`
 * builds from them. On any failure what was issued is revoked again and the error is rethrown:
 * nothing is handed out or left recorded as active.
 */
export async function issueAll(deps: IssueAllDeps, request: IssueRequest, eventOf: (issued: readonly IssuedGrant[]) => AuditEvent): Promise<IssuedGrant[]> {
  const issued = await issueEach(deps, request);
  const grants = issued.map((i) => i.grant);
  // The grant and its audit event are durable before the credential leaves the process.
  await recordOrRevoke(deps, grants, eventOf(issued));
  return issued;
}

/** Issue the credentials one by one; if one fails, revoke those already issued (all or nothing) and rethrow. */
async function issueEach(deps: IssueAllDeps, request: IssueRequest): Promise<IssuedGrant[]> {
  const { identity, rule, nowSeconds } = request;
  const issued: IssuedGrant[] = [];
  try {
    for (const granted of request.credentials) {
      const provider = deps.providers.get(granted.kind);
      deps.limits?.checkUpstream(granted.kind, deps.clock.now());
      // Provider limits: never above its maximum (capped), never below the upstream's minimum (raised).
      const ttl = providerTtl(granted.ttlSeconds, provider, deps.maxTtlSeconds);
      const final: GrantedCredential = ttl !== granted.ttlSeconds ? { ...granted, ttlSeconds: ttl, ttlCapped: granted.ttlCapped || ttl < granted.ttlSeconds } : granted;
      const draft = { id: uuidv7(deps.clock.now()), identity, rule, granted: final, issuedAt: nowSeconds, expiresAt: nowSeconds + final.ttlSeconds };
      const credential = await provider.issue(draft);
      issued.push({ granted: final, credential, renewable: provider.renew !== undefined, grant: activeGrant({ draft, credential }) });
    }
  } catch (err) {
    // All or nothing: what was already created upstream for this request is revoked again.
    await revokeAll(deps.providers, issued.map((i) => i.grant));
    throw err;
  }
  return issued;
}

/**
 * Record grants and their event in one store write. If they cannot be recorded, what was created
 * upstream is revoked again at once (reconciliation backs this up) and the store's error is rethrown.
 */
export async function recordOrRevoke(deps: Pick<IssueAllDeps, 'providers' | 'auditor'>, grants: readonly Grant[], event: AuditEvent): Promise<void> {
  try {
    await deps.auditor.recordIssuance(grants, event);
  } catch (err) {
    await revokeAll(deps.providers, grants);
    throw err;
  }
}

/** Best-effort revocation of credentials that will not be handed out: every one is attempted, in order; a failure is left to reconciliation. */
export async function revokeAll(providers: Pick<ProviderLookup, 'get'>, grants: readonly Grant[]): Promise<void> {
  for (const grant of grants) await providers.get(grant.kind).revoke(grantRef(grant), 'rollback').catch(() => undefined);
}
