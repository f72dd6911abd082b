/**
 * Operator actions over the store: revoke (and quarantine), list grants, query audit, report the
 * shadow policy and explain recorded decisions. The Admin transports are adapters over this class:
 * they authenticate the admin, translate messages and call one method; the work is here.
 */
import type { RevokeCause } from '../credentials/provider.js';
import type { Auditor } from '../audit/auditor.js';
import { grantResolvedEvent, identityQuarantinedEvent, identityUnquarantinedEvent } from '../audit/events.js';
import type { Clock } from '../clock.js';
import { parseDuration } from '../duration.js';
import { StintError } from '../errors.js';
import { explain, explainRecorded, type Explanation } from '../policy/explain.js';
import { shadowReport, type ShadowReport } from '../policy/report.js';
import { recordedDecision } from '../policy/simulate.js';
import type { AuditEvent, AuditFilter, Grant, GrantFilter, Quarantine, Store } from '../store/store.js';
import type { Reaper } from '../lifecycle/reaper.js';
import type { PolicySource } from './contracts.js';
import type { PolicyInfo } from './policy_source.js';
import type { QuarantineView } from './quarantine.js';

export type { AuditEvent, AuditType, Grant, GrantState, Quarantine } from '../store/store.js';

/** Longest quarantine a revocation may set with a duration (a longer one: leave it open-ended and lift it). */
export const MAX_QUARANTINE_SECONDS = 366 * 86400;

/** A quarantine to set with a revocation: for this many seconds, or (null) until lifted. */
export interface QuarantineRequest {
  readonly seconds: number | null;
}

/** The outcome of a revocation. */
export interface RevocationResult {
  readonly grants: Grant[];
  /** What revocation means for each kind revoked, said plainly. */
  readonly notes: string[];
  /** The quarantine set with it, when one was asked for. */
  readonly quarantine?: Quarantine;
}

/** What ExplainDecision answers: the recorded event, the decision as recorded, and the decision the loaded policy makes now. */
export interface DecisionExplanation {
  readonly event: AuditEvent;
  readonly recorded: Explanation;
  readonly current: Explanation & { readonly digest: string };
}

/** What ShadowReport answers. */
export interface ShadowReportResult {
  readonly report: ShadowReport;
  /** Events read; equal to the limit when older ones were left out. */
  readonly events: number;
  readonly enforcedDigest: string;
  readonly shadowDigest: string;
}

/** Dependencies of the admin service. */
export interface AdminDeps {
  readonly store: Store;
  readonly auditor: Auditor;
  readonly reaper: Reaper;
  readonly clock: Clock;
  /** Called after grants are revoked (gauges). */
  readonly onRevoked?: () => void;
  /** The loaded policy, for shadow reports and explanations. */
  readonly policy?: PolicySource & { info(): PolicyInfo };
  /** This replica's view of quarantines, told at once of a change made here. */
  readonly quarantines?: QuarantineView;
}

/** Admin operations; the transports authenticate the admin before calling these. */
export class AdminService {
  constructor(private readonly deps: AdminDeps) {}

  /** Revoke one grant: store first, then upstream inline; a failed upstream revoke is retried by the reaper. With `quarantine`, its identity is quarantined too. */
  async revokeGrant(id: string, reason: string, actor: string, quarantine?: QuarantineRequest, cause: RevokeCause = 'operator'): Promise<RevocationResult> {
    if (!id) throw new StintError('ERR_INVALID_REQUEST', 'grant id is required', { field: 'grant_id' });
    const existing = await this.deps.store.getGrant(id);
    if (!existing) throw new StintError('ERR_NOT_FOUND', `no grant ${JSON.stringify(id.slice(0, 64))}`, { grantId: id });
    // The quarantine first: from this moment the identity cannot exchange for a replacement.
    const q = quarantine ? await this.quarantine(existing.identity, reason || 'revoked by operator', actor, quarantine.seconds) : undefined;
    if (existing.state !== 'active') return { grants: [existing], notes: [`grant ${id} was already ${existing.state}`], ...(q ? { quarantine: q } : {}) };
    const now = Math.floor(this.deps.clock.now() / 1000);
    const grant = (await this.deps.store.revokeGrant(id, now, reason || 'revoked by operator'))!;
    return { ...(await this.afterRevoke([grant], actor, cause)), ...(q ? { quarantine: q } : {}) };
  }

  /** Revoke every active grant of an identity; with `quarantine`, quarantine it first so it cannot exchange again. */
  async revokeIdentity(identity: string, reason: string, actor: string, quarantine?: QuarantineRequest): Promise<RevocationResult> {
    if (!identity) throw new StintError('ERR_INVALID_REQUEST', 'identity is required', { field: 'identity' });
    const q = quarantine ? await this.quarantine(identity, reason || 'revoked by operator', actor, quarantine.seconds) : undefined;
    const now = Math.floor(this.deps.clock.now() / 1000);
    const grants = await this.deps.store.revokeIdentity(identity, now, reason || 'revoked by operator');
    return { ...(await this.afterRevoke(grants, actor)), ...(q ? { quarantine: q } : {}) };
  }

  /**
   * Quarantine an identity on every replica: new exchanges and renewals are refused with
   * ERR_IDENTITY_QUARANTINED for `seconds` (null: until lifted). Replaces a quarantine it has. Audited.
   */
  async quarantine(identity: string, reason: string, actor: string, seconds: number | null): Promise<Quarantine> {
    if (!identity) throw new StintError('ERR_INVALID_REQUEST', 'identity is required', { field: 'identity' });
    if (seconds !== null && (!Number.isInteger(seconds) || seconds <= 0 || seconds > MAX_QUARANTINE_SECONDS)) {
      throw new StintError('ERR_INVALID_REQUEST', `quarantine_seconds must be a whole number from 1 to ${MAX_QUARANTINE_SECONDS}`, { field: 'quarantine_seconds' });
    }
    const at = this.deps.clock.now();
    const q: Quarantine = { identity, reason: reason || 'quarantined by operator', actor, at, until: seconds === null ? null : at + seconds * 1000 };
    await this.deps.store.quarantineIdentity(q);
    this.deps.quarantines?.apply(identity, q);
    await this.deps.auditor.record(identityQuarantinedEvent(q));
    return q;
  }

  /** Lift an identity's quarantine (`stint unrevoke`); false when none was in force. Audited when one was lifted. */
  async liftQuarantine(identity: string, reason: string, actor: string): Promise<{ lifted: boolean; quarantine: Quarantine | null }> {
    if (!identity) throw new StintError('ERR_INVALID_REQUEST', 'identity is required', { field: 'identity' });
    const now = this.deps.clock.now();
    const before = await this.deps.store.activeQuarantine(identity, now);
    const lifted = await this.deps.store.liftQuarantine(identity, now);
    this.deps.quarantines?.apply(identity, null);
    if (lifted) {
      await this.deps.auditor.record(identityUnquarantinedEvent(identity, reason, actor, before));
    }
    return { lifted, quarantine: lifted ? before : null };
  }

  /** The quarantines in force now, most recent first. */
  listQuarantines(): Promise<Quarantine[]> {
    return this.deps.store.listQuarantines(this.deps.clock.now());
  }

  /** Mark a stuck cleanup as resolved by hand (the operator removed the upstream object). */
  async resolveGrant(id: string, note: string, actor: string): Promise<Grant> {
    const grant = await this.deps.store.resolveCleanup(id);
    if (!grant) throw new StintError('ERR_NOT_FOUND', `no grant ${JSON.stringify(id.slice(0, 64))}`, { grantId: id });
    if (grant.cleanup !== 'resolved') throw new StintError('ERR_INVALID_REQUEST', `grant ${id} has no pending cleanup (cleanup ${grant.cleanup})`, { grantId: id });
    await this.deps.auditor.record(grantResolvedEvent(grant, note, actor));
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

  /** A `since` given as RFC 3339 or as a duration back from now (`24h`), in epoch ms; empty: none. */
  since(text: string): number | undefined {
    if (!text) return undefined;
    if (/^\d+(ms|s|m|h|d)$/.test(text)) return this.deps.clock.now() - parseDuration(text) * 1000;
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw new StintError('ERR_INVALID_REQUEST', 'since must be RFC 3339 or a duration like 24h', { field: 'since' });
    return t;
  }

  /** The shadow policy's disagreements since then (default the last 24 h), by kind, rule and identity. */
  async shadowReport(sinceText: string, limit: number | undefined): Promise<ShadowReportResult> {
    const policy = this.policy();
    const events = await this.deps.store.queryAudit({ since: this.since(sinceText || '24h'), type: 'policy.shadow_disagreement', limit: limit && limit > 0 ? Math.min(limit, 100_000) : 1000 });
    const info = policy.info();
    return { report: shadowReport(events), events: events.length, enforcedDigest: info.digest, shadowDigest: info.shadowDigest ?? '' };
  }

  /** A recorded decision (by request id, audit event id or grant id) as recorded, and what the loaded policy decides now. */
  async explainDecision(ref: { requestId?: string; eventId?: string; grantId?: string }): Promise<DecisionExplanation> {
    const policy = this.policy();
    const event = await this.decisionEvent(ref);
    const record = recordedDecision(event);
    if (!record) throw new StintError('ERR_NOT_FOUND', 'no exchange.allowed or exchange.denied event matches');
    const engine = policy.current();
    return { event, recorded: explainRecorded(record, event.data), current: { ...explain(engine.decide(record.identity, record.requests, record.now, record.context)), digest: engine.digest } };
  }

  /** The decision event of a request id, audit event id or grant id (newest matching), each through a store query. */
  private async decisionEvent(ref: { requestId?: string; eventId?: string; grantId?: string }): Promise<AuditEvent> {
    const { requestId, eventId, grantId } = ref;
    if (!requestId && !eventId && !grantId) throw new StintError('ERR_INVALID_REQUEST', 'give a request_id, event_id or grant_id', { field: 'request_id' });
    const isDecision = (e: AuditEvent): boolean => e.type === 'exchange.allowed' || e.type === 'exchange.denied';
    const filter: AuditFilter = grantId ? { grantId } : requestId ? { requestId } : { eventId: eventId! };
    const found = (await this.deps.store.queryAudit({ ...filter, limit: 100 })).find(isDecision);
    if (found) return found;
    throw new StintError('ERR_NOT_FOUND', `no decision recorded for ${grantId ? `grant ${grantId}` : requestId ? `request ${requestId}` : `event ${eventId}`}`);
  }

  private policy(): PolicySource & { info(): PolicyInfo } {
    if (!this.deps.policy) throw new StintError('ERR_INVALID_REQUEST', 'no policy is loaded in this admin service');
    return this.deps.policy;
  }

  private async afterRevoke(grants: Grant[], actor: string, cause: RevokeCause = 'operator'): Promise<RevocationResult> {
    const notes = new Set<string>();
    const updated: Grant[] = [];
    for (const grant of grants) {
      const r = await this.deps.reaper.cleanup(grant, actor, cause);
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
