/** Operator actions over the store: revoke, list grants, query audit, show policy. */
import type { Auditor } from '../audit/auditor.js';
import type { Clock } from '../clock.js';
import { StintError } from '../errors.js';
import type { AuditEvent, AuditFilter, Grant, GrantFilter, Store } from '../store/store.js';
import type { StintMetrics } from '../telemetry/metrics.js';
import type { ProviderLookup } from './contracts.js';
import type { GrantRef } from '../credentials/provider.js';

/** The outcome of a revocation. */
export interface RevocationResult {
  readonly grants: Grant[];
  /** What revocation means for each kind revoked, said plainly. */
  readonly notes: string[];
}

/** Admin operations; the transports authenticate the admin before calling these. */
export class AdminService {
  constructor(
    private readonly deps: { store: Store; auditor: Auditor; providers: ProviderLookup; clock: Clock; metrics: StintMetrics; onRevoked?: () => void },
  ) {}

  /** Revoke one grant: store first, then the provider; audited. */
  async revokeGrant(id: string, reason: string, actor: string): Promise<RevocationResult> {
    if (!id) throw new StintError('ERR_INVALID_REQUEST', 'grant id is required', { field: 'grant_id' });
    const existing = await this.deps.store.getGrant(id);
    if (!existing) throw new StintError('ERR_NOT_FOUND', `no grant ${JSON.stringify(id.slice(0, 64))}`, { grantId: id });
    if (existing.state !== 'active') return { grants: [existing], notes: [`grant ${id} was already ${existing.state}`] };
    const now = Math.floor(this.deps.clock.now() / 1000);
    const grant = (await this.deps.store.revokeGrant(id, now, reason || 'revoked by operator'))!;
    return { grants: [grant], notes: await this.afterRevoke([grant], reason, actor) };
  }

  /** Revoke every active grant of an identity. */
  async revokeIdentity(identity: string, reason: string, actor: string): Promise<RevocationResult> {
    if (!identity) throw new StintError('ERR_INVALID_REQUEST', 'identity is required', { field: 'identity' });
    const now = Math.floor(this.deps.clock.now() / 1000);
    const grants = await this.deps.store.revokeIdentity(identity, now, reason || 'revoked by operator');
    return { grants, notes: await this.afterRevoke(grants, reason, actor) };
  }

  /** List grants, newest first. */
  listGrants(filter: GrantFilter): Promise<Grant[]> {
    return this.deps.store.listGrants({ ...filter, limit: clampLimit(filter.limit) });
  }

  /** Query the audit trail, newest first. */
  queryAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.deps.store.queryAudit({ ...filter, limit: clampLimit(filter.limit) });
  }

  private async afterRevoke(grants: Grant[], reason: string, actor: string): Promise<string[]> {
    const notes = new Set<string>();
    for (const grant of grants) {
      const started = process.hrtime.bigint();
      let result = 'ok';
      let note: string | undefined;
      let effective = false;
      try {
        const r = await this.deps.providers.get(grant.kind).revoke(grantRef(grant));
        note = r.note;
        effective = r.effective;
      } catch (e) {
        result = 'error';
        note = `upstream revocation failed: ${(e as StintError).code ?? 'ERR_INTERNAL'}`;
      }
      if (note) notes.add(`${grant.kind}: ${note}`);
      this.deps.metrics.revocations.inc({ credential_kind: grant.kind, result });
      await this.deps.auditor.record({
        type: 'grant.revoked',
        requestId: null,
        identity: grant.identity,
        rule: grant.rule,
        outcome: result === 'ok' ? 'info' : 'error',
        reason: reason || 'revoked by operator',
        grantIds: [grant.id],
        data: { actor, kind: grant.kind, upstreamEffective: effective, result, seconds: Number(process.hrtime.bigint() - started) / 1e9 },
      });
    }
    this.deps.onRevoked?.();
    return [...notes];
  }
}

/** The provider's view of a recorded grant. */
export function grantRef(g: Grant): GrantRef {
  return { id: g.id, kind: g.kind, identity: g.identity, target: g.target, audience: g.audience, expiresAt: g.expiresAt, revocationHandle: g.revocationHandle };
}

function clampLimit(limit: number | undefined): number {
  if (!limit || limit <= 0) return 100;
  return Math.min(limit, 1000);
}
