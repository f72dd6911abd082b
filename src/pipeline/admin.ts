/** Operator actions over the store: revoke, list grants, query audit, show policy. */
import type { Auditor } from '../audit/auditor.js';
import type { Clock } from '../clock.js';
import { StintError } from '../errors.js';
import type { AuditEvent, AuditFilter, Grant, GrantFilter, Store } from '../store/store.js';
import type { Reaper } from '../lifecycle/reaper.js';

/** The outcome of a revocation. */
export interface RevocationResult {
  readonly grants: Grant[];
  /** What revocation means for each kind revoked, said plainly. */
  readonly notes: string[];
}

/** Admin operations; the transports authenticate the admin before calling these. */
export class AdminService {
  constructor(private readonly deps: { store: Store; auditor: Auditor; reaper: Reaper; clock: Clock; onRevoked?: () => void }) {}

  /** Revoke one grant: store first, then upstream inline; a failed upstream revoke is retried by the reaper. */
  async revokeGrant(id: string, reason: string, actor: string): Promise<RevocationResult> {
    if (!id) throw new StintError('ERR_INVALID_REQUEST', 'grant id is required', { field: 'grant_id' });
    const existing = await this.deps.store.getGrant(id);
    if (!existing) throw new StintError('ERR_NOT_FOUND', `no grant ${JSON.stringify(id.slice(0, 64))}`, { grantId: id });
    if (existing.state !== 'active') return { grants: [existing], notes: [`grant ${id} was already ${existing.state}`] };
    const now = Math.floor(this.deps.clock.now() / 1000);
    const grant = (await this.deps.store.revokeGrant(id, now, reason || 'revoked by operator'))!;
    return this.afterRevoke([grant], actor);
  }

  /** Revoke every active grant of an identity. */
  async revokeIdentity(identity: string, reason: string, actor: string): Promise<RevocationResult> {
    if (!identity) throw new StintError('ERR_INVALID_REQUEST', 'identity is required', { field: 'identity' });
    const now = Math.floor(this.deps.clock.now() / 1000);
    const grants = await this.deps.store.revokeIdentity(identity, now, reason || 'revoked by operator');
    return this.afterRevoke(grants, actor);
  }

  /** Mark a stuck cleanup as resolved by hand (the operator removed the upstream object). */
  async resolveGrant(id: string, note: string, actor: string): Promise<Grant> {
    const grant = await this.deps.store.resolveCleanup(id);
    if (!grant) throw new StintError('ERR_NOT_FOUND', `no grant ${JSON.stringify(id.slice(0, 64))}`, { grantId: id });
    if (grant.cleanup !== 'resolved') throw new StintError('ERR_INVALID_REQUEST', `grant ${id} has no pending cleanup (cleanup ${grant.cleanup})`, { grantId: id });
    await this.deps.auditor.record({
      type: 'grant.resolved',
      requestId: null,
      identity: grant.identity,
      rule: grant.rule,
      outcome: 'info',
      reason: note || 'resolved by operator',
      grantIds: [grant.id],
      data: { actor, kind: grant.kind, attempts: grant.cleanupAttempts, lastError: grant.cleanupError },
    });
    return grant;
  }

  /** List grants, newest first. */
  listGrants(filter: GrantFilter): Promise<Grant[]> {
    return this.deps.store.listGrants({ ...filter, limit: clampLimit(filter.limit) });
  }

  /** Query the audit trail, newest first. */
  queryAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.deps.store.queryAudit({ ...filter, limit: clampLimit(filter.limit) });
  }

  private async afterRevoke(grants: Grant[], actor: string): Promise<RevocationResult> {
    const notes = new Set<string>();
    const updated: Grant[] = [];
    for (const grant of grants) {
      const r = await this.deps.reaper.cleanup(grant, actor);
      if (r.note) notes.add(`${grant.kind}: ${r.note}`);
      if (!r.ok) notes.add(`${grant.kind}: upstream revocation of ${grant.id} failed (${r.error}); the reaper retries it with backoff`);
      updated.push((await this.deps.store.getGrant(grant.id)) ?? grant);
    }
    this.deps.onRevoked?.();
    return { grants: updated, notes: [...notes] };
  }
}

function clampLimit(limit: number | undefined): number {
  if (!limit || limit <= 0) return 100;
  return Math.min(limit, 1000);
}
