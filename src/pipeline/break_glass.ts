/**
 * Break-glass: an emergency path for when policy or an upstream blocks a fix. A sealed credential,
 * configured ahead, is released only after distinct admins approved the request (the requester and
 * at least one other: two admin credentials), once, with a short TTL, a grant, a loud audit trail
 * (warn logs, `breakglass.*` events), a metric and a paging alert. The request's state lives in the
 * audit trail itself (every replica reads the same events); the release is claimed once in the Store.
 */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import type { Auditor } from '../audit/auditor.js';
import { breakGlassApprovedEvent, breakGlassReleasedEvent, breakGlassRequestedEvent, type BreakGlassSubject } from '../audit/events.js';
import type { Clock } from '../clock.js';
import type { BreakGlassConfig } from '../config/break_glass.js';
import type { IssuedCredential } from '../credentials/provider.js';
import { ConfigError, StintError } from '../errors.js';
import { uuidv7 } from '../ids.js';
import { activeGrant } from '../grants/active_grant.js';
import type { GrantedCredential } from '../policy/decision.js';
import type { AuditEvent, Grant, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { StintMetrics } from '../telemetry/metrics.js';
import type { ProviderLookup } from './contracts.js';
import { recordOrRevoke } from './issue_all.js';
import { BreakGlassTicketApprovals, BreakGlassTicketVerifier } from './break_glass_ticket.js';

/** Where a request stands. */
export type BreakGlassState = 'pending' | 'approved' | 'released' | 'expired';

/** A break-glass request as operators see it. */
export interface BreakGlassStatus {
  readonly id: string;
  readonly credential: string;
  readonly state: BreakGlassState;
  readonly requester: string;
  readonly approvers: readonly string[];
  readonly approvalsNeeded: number;
  readonly reason: string;
  readonly ticket: string | null;
  /** Epoch milliseconds. */
  readonly requestedAt: number;
  readonly expiresAt: number;
  readonly grantId: string | null;
}

/** What a release hands to the requester, once. */
export interface BreakGlassRelease {
  readonly status: BreakGlassStatus;
  readonly grant: Grant;
  readonly credential: IssuedCredential;
}

/** Dependencies of the break-glass service. */
export interface BreakGlassDeps {
  readonly config: BreakGlassConfig;
  readonly store: Store;
  readonly auditor: Auditor;
  readonly providers: ProviderLookup;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Pick<StintMetrics, 'breakGlass'>;
  readonly trustDomain: string;
  /** Hard cap on any credential TTL, in seconds. */
  readonly maxTtlSeconds: number;
}

const MAX_REASON = 1024;
const MAX_TICKET = 256;

/** The break-glass requests: request, approve, status, release. Admin-only (the transports authenticate). */
export class BreakGlassService {
  /** Approvals by a signed ticket (breakGlass.ticket), null when not configured. */
  private readonly tickets: BreakGlassTicketApprovals | null;

  constructor(private readonly deps: BreakGlassDeps) {
    deps.config.credentials.forEach((c, i) => {
      if (!deps.providers.has(c.kind)) throw new ConfigError('ERR_CONFIG_INVALID', `breakGlass.credentials.${i}.kind`, `no ${c.kind} provider is configured for break-glass credential ${c.name}`);
    });
    for (const event of ['requested', 'approved', 'released', 'refused'] as const) deps.metrics.breakGlass.inc({ event }, 0);
    this.tickets = deps.config.ticket
      ? new BreakGlassTicketApprovals({ verifier: new BreakGlassTicketVerifier(deps.config.ticket, { store: deps.store, clock: deps.clock }), requests: this, auditor: deps.auditor, logger: deps.logger, metrics: deps.metrics, trustDomain: deps.trustDomain })
      : null;
  }

  /** Approve a request with a signed ticket from breakGlass.ticket's issuer: the ticket is the approval (the caller may be the requester). */
  async approveWithTicket(id: string, ticket: string, actor: string): Promise<BreakGlassStatus> {
    if (!this.tickets) throw this.refused('ERR_INVALID_REQUEST', 'break-glass tickets are not configured (breakGlass.ticket)', 'tickets_unconfigured');
    return this.tickets.approve(id, ticket, actor);
  }

  /** Open a request for a sealed credential; the requester's own admin credential is the first approval. */
  async request(credential: string, reason: string, ticket: string | undefined, actor: string): Promise<BreakGlassStatus> {
    const sealed = this.deps.config.credentials.find((c) => c.name === credential);
    if (!sealed) throw this.refused('ERR_NOT_FOUND', `no break-glass credential ${JSON.stringify(String(credential).slice(0, 64))} is configured`, 'unknown_credential');
    if (!reason || reason.length > MAX_REASON) throw this.refused('ERR_INVALID_REQUEST', `a reason of 1 to ${MAX_REASON} characters is required`, 'reason_required');
    if (ticket !== undefined && ticket.length > MAX_TICKET) throw this.refused('ERR_INVALID_REQUEST', `ticket: at most ${MAX_TICKET} characters`, 'ticket_too_long');
    const now = this.deps.clock.now();
    const id = uuidv7(now);
    await this.deps.auditor.record(
      breakGlassRequestedEvent(this.subject(id, sealed.name), { kind: sealed.kind, requester: actor, reason, ticket: ticket ?? null, expiresAt: now + this.deps.config.requestTtl * 1000 }),
    );
    this.loud('break-glass requested', { id, credential: sealed.name, requester: actor });
    this.deps.metrics.breakGlass.inc({ event: 'requested' });
    return this.status(id);
  }

  /** Approve a request as another admin; refused for the requester or a repeated approver. */
  async approve(id: string, actor: string): Promise<BreakGlassStatus> {
    const status = await this.status(id);
    if (status.state === 'expired') throw this.refused('ERR_INVALID_REQUEST', `break-glass request ${id} expired`, 'request_expired');
    if (status.state === 'released') throw this.refused('ERR_INVALID_REQUEST', `break-glass request ${id} was already released`, 'already_released');
    if (actor === status.requester || status.approvers.includes(actor)) {
      throw this.refused('ERR_INVALID_REQUEST', 'a break-glass approval must come from a distinct admin credential', 'approver_not_distinct');
    }
    await this.deps.auditor.record(breakGlassApprovedEvent(this.subject(id, status.credential), { approver: actor, requester: status.requester }));
    this.loud('break-glass approved', { id, credential: status.credential, approver: actor });
    this.deps.metrics.breakGlass.inc({ event: 'approved' });
    return this.status(id);
  }

  /** A request's state, from its audit events (the same on every replica). */
  async status(id: string): Promise<BreakGlassStatus> {
    if (!id || id.length > 64) throw new StintError('ERR_INVALID_REQUEST', 'a break-glass request id is required', { field: 'id' });
    const events = await this.deps.store.queryAudit({ requestId: id, limit: 100 });
    const requested = events.find((e) => e.type === 'breakglass.requested');
    if (!requested) throw new StintError('ERR_NOT_FOUND', `no break-glass request ${JSON.stringify(id)}`, { field: 'id' });
    const data = requested.data as { credential: string; requester: string; ticket: string | null; expiresAt: number };
    const approvers = [...new Set(events.filter((e) => e.type === 'breakglass.approved').map((e) => String((e.data as { approver?: unknown }).approver)))].filter((a) => a !== data.requester);
    const released = events.find((e: AuditEvent) => e.type === 'breakglass.released');
    const approvalsNeeded = this.deps.config.approvals;
    const approved = 1 + approvers.length >= approvalsNeeded;
    const state: BreakGlassState = released ? 'released' : this.deps.clock.now() >= data.expiresAt ? 'expired' : approved ? 'approved' : 'pending';
    return {
      id,
      credential: data.credential,
      state,
      requester: data.requester,
      approvers,
      approvalsNeeded,
      reason: requested.reason ?? '',
      ticket: data.ticket,
      requestedAt: requested.time,
      expiresAt: data.expiresAt,
      grantId: released?.grantIds[0] ?? null,
    };
  }

  /** Issue the sealed credential to its requester, once, after the approvals. */
  async release(id: string, actor: string): Promise<BreakGlassRelease> {
    const { deps } = this;
    const status = await this.status(id);
    if (status.state !== 'approved') {
      throw this.refused('ERR_INVALID_REQUEST', `break-glass request ${id} is ${status.state}${status.state === 'pending' ? ` (${1 + status.approvers.length} of ${status.approvalsNeeded} approvals)` : ''}`, `request_${status.state}`);
    }
    if (actor !== status.requester) throw this.refused('ERR_INVALID_REQUEST', 'only the requester receives a break-glass credential', 'not_requester');
    const sealed = deps.config.credentials.find((c) => c.name === status.credential);
    if (!sealed || !deps.providers.has(sealed.kind)) throw this.refused('ERR_INVALID_REQUEST', `break-glass credential ${status.credential} is no longer configured`, 'unknown_credential');
    const nowMs = deps.clock.now();
    // Once, on every replica: the first release claims the request in the Store.
    const claim = await deps.store.bindAttestation({ kind: 'break-glass-release', key: id, binding: actor, now: nowMs, expiresAt: status.expiresAt + 86_400_000 });
    if (!claim.firstUse) throw this.refused('ERR_INVALID_REQUEST', `break-glass request ${id} was already released`, 'already_released');
    const provider = deps.providers.get(sealed.kind);
    const now = Math.floor(nowMs / 1000);
    const ttlSeconds = Math.max(1, Math.min(sealed.ttl, provider.maxTtlSeconds, deps.maxTtlSeconds));
    const identity: WorkloadIdentity = {
      attestor: 'break-glass',
      attestorName: 'break-glass',
      issuer: 'stint:break-glass',
      subject: status.requester,
      id: identityOf(deps.trustDomain, sealed.name),
      claims: { requester: status.requester, approvers: [...status.approvers], ticket: status.ticket, break_glass_request: id },
      expiresAt: now + ttlSeconds,
    };
    const granted: GrantedCredential = {
      request: { kind: sealed.kind, audience: sealed.audience, target: sealed.target, ttlSeconds, scopes: sealed.scopes },
      kind: sealed.kind,
      ...(sealed.audience ? { audience: sealed.audience } : {}),
      ...(sealed.target ? { target: sealed.target } : {}),
      scopes: sealed.scopes ?? [],
      ttlSeconds,
      ttlCapped: ttlSeconds < sealed.ttl,
      passClaims: { break_glass_request: id },
      options: {},
    };
    const draft = { id: uuidv7(nowMs), identity, rule: ruleOf(sealed.name), granted, issuedAt: now, expiresAt: now + ttlSeconds };
    const credential = await provider.issue(draft);
    const grant: Grant = activeGrant({ draft, credential });
    const event = deps.auditor.build(
      breakGlassReleasedEvent(this.subject(id, sealed.name), { kind: sealed.kind, reason: status.reason, requester: status.requester, approvers: status.approvers, ticket: status.ticket, ttlSeconds, grant }),
    );
    // Never hand out what could not be recorded: revoke it upstream again at once.
    await recordOrRevoke(deps, [grant], event);
    this.loud('break-glass credential released', { id, credential: sealed.name, requester: status.requester, approvers: status.approvers, grant: grant.id, ttlSeconds });
    deps.metrics.breakGlass.inc({ event: 'released' });
    return { status: await this.status(id), grant, credential };
  }

  /** The request an event of credential `name` belongs to, with the identity and rule it is recorded under. */
  private subject(requestId: string, name: string): BreakGlassSubject {
    return { requestId, identity: identityOf(this.deps.trustDomain, name), rule: ruleOf(name), credential: name };
  }

  private loud(message: string, fields: Record<string, unknown>): void {
    this.deps.logger.warn({ breakGlass: true, ...fields }, message);
  }

  private refused(code: 'ERR_INVALID_REQUEST' | 'ERR_NOT_FOUND', message: string, reason: string): StintError {
    this.deps.metrics.breakGlass.inc({ event: 'refused' });
    return new StintError(code, message, { reason });
  }
}

function identityOf(trustDomain: string, name: string): string {
  return `spiffe://${trustDomain}/break-glass/${name}`;
}

function ruleOf(name: string): string {
  return `break-glass:${name}`;
}
