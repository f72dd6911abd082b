/**
 * The shapes of Stint's audit events, built in one place: an exchange's decision (allowed, denied,
 * error, a shadow disagreement), a grant's renewal, revocation, reaping and manual resolution, a
 * quarantine, and the break-glass trail. Callers pass what happened; these return the draft the
 * Auditor records, so every writer of one event type writes the same fields. Fingerprints only: no
 * builder takes a token. The audit layer sits below attestation and policy, so identities and
 * decisions are taken by the fields an event records (a WorkloadIdentity, a Decision fit them).
 */
import type { StintError } from '../errors.js';
import type { GrantedCredential } from '../grants/granted.js';
import type { Grant, Quarantine } from '../store/store.js';
import type { AuditDraft } from './auditor.js';

/** The fields of a verified identity an event records (a WorkloadIdentity has them). */
export interface AuditedIdentity {
  readonly id: string;
  readonly attestor: string;
  readonly attestorName: string;
  readonly issuer: string;
  readonly subject: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly legacy?: boolean;
}

/** What every decision event of one exchange records about its request (allowed, denied, shadow disagreement). */
export interface ExchangeEventBase {
  readonly requestId: string;
  readonly identity: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The request and decision of one exchange, as its decision events record them. */
export interface ExchangeDecided {
  readonly requestId: string;
  readonly transport: string;
  readonly identity: AuditedIdentity;
  readonly subjectTokenFingerprint: string | null;
  readonly request: unknown;
  readonly context: unknown;
  readonly policyDigest: string;
  /** Epoch seconds the policy decided at. */
  readonly decidedAt: number;
  /** The decision's summary (policy/shadow.ts summarize). */
  readonly decision: unknown;
}

/** The part every decision event of one exchange shares. */
export function exchangeEventBase(d: ExchangeDecided): ExchangeEventBase {
  const { identity } = d;
  return {
    requestId: d.requestId,
    identity: identity.id,
    data: {
      transport: d.transport,
      attestor: identity.attestor,
      attestorName: identity.attestorName,
      issuer: identity.issuer,
      subject: identity.subject,
      claims: identity.claims,
      subjectTokenFingerprint: d.subjectTokenFingerprint,
      request: d.request,
      context: d.context ?? {},
      policyDigest: d.policyDigest,
      legacy: identity.legacy === true,
      decidedAt: d.decidedAt,
      decision: d.decision,
    },
  };
}

/** A denial as the policy explains it (a deny Decision has these fields). */
export interface AuditedDenial {
  readonly rule: string | null;
  readonly reason: string;
  readonly message: string;
  readonly nearestRule?: string;
  readonly failed?: readonly unknown[];
}

/** exchange.denied: the policy refused; the nearest rule and failed conditions are recorded even when callers are not told. */
export function exchangeDeniedEvent(base: ExchangeEventBase, denial: AuditedDenial): AuditDraft {
  return {
    ...base,
    type: 'exchange.denied',
    rule: denial.rule,
    outcome: 'deny',
    reason: denial.reason,
    grantIds: [],
    data: { ...base.data, nearestRule: denial.nearestRule ?? denial.rule, failed: denial.failed ?? [], message: denial.message },
  };
}

/** One credential an exchange issued, as its exchange.allowed event records it. */
export interface AuditedIssue {
  readonly grant: Pick<Grant, 'id' | 'credentialFingerprint'>;
  readonly granted: Pick<GrantedCredential, 'kind' | 'audience' | 'target' | 'ttlSeconds' | 'ttlCapped'>;
}

/** exchange.allowed: the grants issued under `rule`, each with its credential's fingerprint. */
export function exchangeAllowedEvent(base: ExchangeEventBase, rule: string, reason: string, issued: readonly AuditedIssue[]): AuditDraft {
  return {
    ...base,
    type: 'exchange.allowed',
    rule,
    outcome: 'allow',
    reason,
    grantIds: issued.map((i) => i.grant.id),
    data: {
      ...base.data,
      granted: issued.map((i) => ({
        grantId: i.grant.id,
        kind: i.granted.kind,
        audience: i.granted.audience ?? null,
        target: i.granted.target ?? null,
        ttlSeconds: i.granted.ttlSeconds,
        ttlCapped: i.granted.ttlCapped,
        credentialFingerprint: i.grant.credentialFingerprint,
      })),
    },
  };
}

/** A failed exchange, as its exchange.error event records it: the caller's input only in bounded form. */
export interface ExchangeFailure {
  readonly requestId: string;
  readonly transport: string;
  readonly error: StintError;
  /** The identity when attestation got that far. */
  readonly identity: AuditedIdentity | null;
  /** The decision's rule when the policy got that far. */
  readonly rule: string | null;
  readonly subjectTokenFingerprint: string | null;
  /** The requested credentials, bounded (pipeline/bounded_request.ts), and how many were asked for. */
  readonly request: { readonly entries: readonly unknown[]; readonly count: number };
  /** The request context, bounded. */
  readonly context: unknown;
}

/** exchange.error: an exchange failed before or after the decision (the code, its message; an internal error's cause). */
export function exchangeErrorEvent(f: ExchangeFailure): AuditDraft {
  const { error, identity } = f;
  return {
    type: 'exchange.error',
    requestId: f.requestId,
    identity: identity?.id ?? null,
    rule: f.rule,
    outcome: 'error',
    reason: error.code,
    grantIds: [],
    data: {
      transport: f.transport,
      code: error.code,
      message: error.message,
      subjectTokenFingerprint: f.subjectTokenFingerprint,
      request: f.request.entries,
      requestCount: f.request.count,
      context: f.context,
      ...(identity ? { attestor: identity.attestor, attestorName: identity.attestorName, issuer: identity.issuer, subject: identity.subject, claims: identity.claims } : {}),
      ...(error.code === 'ERR_INTERNAL' ? { cause: String((error.cause as Error | undefined)?.message ?? '') } : {}),
    },
  };
}

/** How the enforced and the shadow policy disagreed on one exchange. */
export interface ShadowDisagreement {
  /** The kind of disagreement (policy/shadow.ts disagreement). */
  readonly kind: string;
  /** The shadow decision's rule. */
  readonly rule: string | null;
  /** Each decision's summary, explanation and policy digest. */
  readonly enforced: Readonly<Record<string, unknown>>;
  readonly shadow: Readonly<Record<string, unknown>>;
}

/** policy.shadow_disagreement: the shadow policy would have decided the exchange otherwise (never changes the outcome). */
export function shadowDisagreementEvent(base: ExchangeEventBase, d: ShadowDisagreement): AuditDraft {
  return {
    type: 'policy.shadow_disagreement',
    requestId: base.requestId,
    identity: base.identity,
    rule: d.rule,
    outcome: 'info',
    reason: d.kind,
    grantIds: [],
    data: { ...base.data, kind: d.kind, enforced: d.enforced, shadow: d.shadow },
  };
}

/** A renewal in place, as its grant.renewed event records it. */
export interface GrantRenewal {
  /** The renewing identity. */
  readonly identity: string;
  /** The rule that allowed the renewal now. */
  readonly rule: string | null;
  /** The grant before renewal. */
  readonly grant: Pick<Grant, 'id' | 'kind' | 'expiresAt'>;
  /** The grant's stored expiry after renewal (epoch seconds). */
  readonly expiresAt: number;
  readonly ttlSeconds: number;
  /** Set when the upstream granted past what the rule allows: its expiry, recorded beside the capped one. */
  readonly upstreamExpiresAt?: number;
}

/** grant.renewed: a workload extended its own grant; an upstream over-grant is recorded as capped. */
export function grantRenewedEvent(r: GrantRenewal): AuditDraft {
  return {
    type: 'grant.renewed',
    requestId: null,
    identity: r.identity,
    rule: r.rule,
    outcome: 'info',
    reason: 'renewed by its workload',
    grantIds: [r.grant.id],
    data: {
      kind: r.grant.kind,
      previousExpiresAt: r.grant.expiresAt,
      expiresAt: r.expiresAt,
      ttlSeconds: r.ttlSeconds,
      ...(r.upstreamExpiresAt !== undefined ? { upstreamExpiresAt: r.upstreamExpiresAt, capped: true } : {}),
    },
  };
}

/** One upstream revocation or reaping attempt of a grant, as the reaper makes it. */
export interface GrantCleanup {
  readonly grant: Pick<Grant, 'id' | 'identity' | 'rule' | 'kind' | 'revokedReason'>;
  /** Who asked (an admin, the workload, `reaper`). */
  readonly actor: string;
  /** True when the grant expired (reap), false when it was revoked. */
  readonly reaping: boolean;
  readonly attempt: number;
  readonly result: { readonly ok: boolean; readonly effective?: boolean; readonly note?: string; readonly error?: string };
  /** How long the upstream call took. */
  readonly seconds: number;
}

/** grant.revoked, grant.reaped or grant.cleanup_failed: one upstream clean-up attempt of a grant. */
export function grantCleanupEvent(c: GrantCleanup): AuditDraft {
  const { grant, result, reaping } = c;
  return {
    type: result.ok ? (reaping ? 'grant.reaped' : 'grant.revoked') : 'grant.cleanup_failed',
    requestId: null,
    identity: grant.identity,
    rule: grant.rule,
    outcome: result.ok ? 'info' : 'error',
    reason: result.ok ? (reaping ? 'expired' : (grant.revokedReason ?? 'revoked')) : result.error!,
    grantIds: [grant.id],
    data: {
      actor: c.actor,
      kind: grant.kind,
      operation: reaping ? 'reap' : 'revoke',
      attempt: c.attempt,
      result: result.ok ? 'ok' : 'error',
      upstreamEffective: result.effective,
      ...(result.note ? { note: result.note } : {}),
      seconds: c.seconds,
    },
  };
}

/** grant.resolved: an operator marked a stuck clean-up as done by hand. */
export function grantResolvedEvent(grant: Pick<Grant, 'id' | 'identity' | 'rule' | 'kind' | 'cleanupAttempts' | 'cleanupError'>, note: string, actor: string): AuditDraft {
  return {
    type: 'grant.resolved',
    requestId: null,
    identity: grant.identity,
    rule: grant.rule,
    outcome: 'info',
    reason: note || 'resolved by operator',
    grantIds: [grant.id],
    data: { actor, kind: grant.kind, attempts: grant.cleanupAttempts, lastError: grant.cleanupError },
  };
}

/** identity.quarantined: an operator stopped an identity from exchanging (until a time, or until lifted). */
export function identityQuarantinedEvent(q: Quarantine): AuditDraft {
  return {
    type: 'identity.quarantined',
    requestId: null,
    identity: q.identity,
    rule: null,
    outcome: 'info',
    reason: q.reason,
    grantIds: [],
    data: { actor: q.actor, until: q.until === null ? null : new Date(q.until).toISOString() },
  };
}

/** identity.unquarantined: an operator lifted the quarantine `before` (when it was still known). */
export function identityUnquarantinedEvent(identity: string, reason: string, actor: string, before: Pick<Quarantine, 'at' | 'actor'> | null): AuditDraft {
  return {
    type: 'identity.unquarantined',
    requestId: null,
    identity,
    rule: null,
    outcome: 'info',
    reason: reason || 'lifted by operator',
    grantIds: [],
    data: { actor, quarantinedAt: before ? new Date(before.at).toISOString() : null, quarantinedBy: before?.actor ?? null },
  };
}

/** The request a break-glass event belongs to: its id, and the identity and rule its credential is recorded under. */
export interface BreakGlassSubject {
  readonly requestId: string;
  readonly identity: string;
  readonly rule: string;
  /** The sealed credential's name. */
  readonly credential: string;
}

/** breakglass.requested: an admin asked for a sealed credential (the request's state is read back from this event). */
export function breakGlassRequestedEvent(s: BreakGlassSubject, r: { readonly kind: string; readonly requester: string; readonly reason: string; readonly ticket: string | null; readonly expiresAt: number }): AuditDraft {
  return {
    type: 'breakglass.requested',
    requestId: s.requestId,
    identity: s.identity,
    rule: s.rule,
    outcome: 'info',
    reason: r.reason,
    grantIds: [],
    data: { credential: s.credential, kind: r.kind, requester: r.requester, ticket: r.ticket, expiresAt: r.expiresAt },
  };
}

/** breakglass.approved: one more approval of a request (`details` say how, e.g. a ticket's id and fingerprint). */
export function breakGlassApprovedEvent(s: BreakGlassSubject, a: { readonly approver: string; readonly requester: string; readonly reason?: string; readonly details?: Readonly<Record<string, unknown>> }): AuditDraft {
  return {
    type: 'breakglass.approved',
    requestId: s.requestId,
    identity: s.identity,
    rule: s.rule,
    outcome: 'info',
    reason: a.reason ?? `approved by ${a.approver}`,
    grantIds: [],
    data: { credential: s.credential, approver: a.approver, requester: a.requester, ...a.details },
  };
}

/** breakglass.released: the sealed credential was issued to its requester, once, under a grant (its fingerprint only). */
export function breakGlassReleasedEvent(
  s: BreakGlassSubject,
  r: { readonly kind: string; readonly reason: string; readonly requester: string; readonly approvers: readonly string[]; readonly ticket: string | null; readonly ttlSeconds: number; readonly grant: Pick<Grant, 'id' | 'credentialFingerprint'> },
): AuditDraft {
  return {
    type: 'breakglass.released',
    requestId: s.requestId,
    identity: s.identity,
    rule: s.rule,
    outcome: 'allow',
    reason: r.reason,
    grantIds: [r.grant.id],
    data: { credential: s.credential, kind: r.kind, requester: r.requester, approvers: r.approvers, ticket: r.ticket, ttlSeconds: r.ttlSeconds, credentialFingerprint: r.grant.credentialFingerprint },
  };
}
