/**
 * The exchange pipeline: attest → decide → issue → record. gRPC and HTTP are thin adapters over
 * `ExchangePipeline.exchange`; nothing else issues credentials.
 */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import { JWT_TOKEN_TYPE } from '../attestation/token_types.js';
import { exchangeAllowedEvent, exchangeDeniedEvent, exchangeErrorEvent, exchangeEventBase, shadowDisagreementEvent, type ExchangeEventBase } from '../audit/events.js';
import { PolicyDeniedError, StintError, toStintError } from '../errors.js';
import { fingerprintOfHex, sha256Hex } from '../fingerprint.js';
import { uuidv7 } from '../ids.js';
import type { CredentialRequest, Decision, PolicyEngine, RequestContext } from '../policy/decision.js';
import { disagreement, summarize } from '../policy/shadow.js';
import type { Grant } from '../store/store.js';
import { ttlSource } from '../telemetry/metrics.js';
import { boundedContext, boundedCredentials } from './bounded_request.js';
import { cacheVerifiedIdentities } from './cached_verifier.js';
import { issueAll, type IssuedGrant } from './issue_all.js';
import type { IdentityVerifier, PipelineDeps, ProviderLookup } from './contracts.js';

export { ID_TOKEN_TYPE, JWT_TOKEN_TYPE } from '../attestation/token_types.js';

/** Most credentials one exchange may ask for. */
export const MAX_CREDENTIALS_PER_EXCHANGE = 8;

/** One exchange request, transport-independent. */
export interface ExchangeInput {
  readonly subjectToken: string;
  readonly subjectTokenType?: string;
  readonly credentials: readonly CredentialRequest[];
  readonly context?: RequestContext;
  readonly requestId?: string;
  readonly transport: 'grpc' | 'http';
  /** The caller's address (rate limit per source); absent in process. */
  readonly source?: string;
}

export type { IssuedGrant } from './issue_all.js';

/** The result of an allowed exchange. */
export interface ExchangeResult {
  readonly requestId: string;
  readonly identity: WorkloadIdentity;
  readonly rule: string;
  readonly issued: readonly IssuedGrant[];
}

/** Dependencies of the pipeline. */
export interface ExchangeDeps extends PipelineDeps {
  readonly verifier: IdentityVerifier;
  /** Size of the verified subject token cache (0 disables it). */
  readonly subjectTokenCacheSize: number;
  /** Called after every grant is recorded (active-grant gauge...). */
  readonly onIssued?: (grants: readonly Grant[]) => void;
  /** Identities an operator quarantined: refused right after attestation (an in-memory view, quarantine.ts). */
  readonly quarantines?: { check(identity: string): void };
}

/** The attest → decide → issue → record pipeline. */
export class ExchangePipeline {
  /** The verifier behind the verified-identity cache: /renew and /revoke attest through it too. */
  readonly verifier: IdentityVerifier;

  constructor(private readonly deps: ExchangeDeps) {
    this.verifier = cacheVerifiedIdentities(deps.verifier, { size: deps.subjectTokenCacheSize, clock: deps.clock, metrics: deps.metrics });
  }

  /** Run one exchange; throws a StintError whose code the transports map. */
  async exchange(input: ExchangeInput): Promise<ExchangeResult> {
    const { deps } = this;
    const started = process.hrtime.bigint();
    const requestId = input.requestId || uuidv7(deps.clock.now());
    // One SHA-256 of the subject token serves as the cache key and, shortened, as its audit fingerprint.
    const subjectHash = typeof input.subjectToken === 'string' && input.subjectToken ? sha256Hex(input.subjectToken) : null;
    const subjectFp = subjectHash ? fingerprintOfHex(subjectHash) : null;
    let identity: WorkloadIdentity | null = null;
    let decision: Decision | null = null;
    let audited = false;
    const kindLabel = credentialKindLabel(input.credentials, deps.providers);
    try {
      deps.limits?.checkSource(input.source, deps.clock.now());
      validateInput(input, deps.providers, this.verifier);
      identity = await this.verifier.attest({ type: input.subjectTokenType || JWT_TOKEN_TYPE, value: input.subjectToken, sha256: subjectHash! });
      deps.quarantines?.check(identity.id);
      // One snapshot per request: a reload in between changes neither policy of this decision.
      const snapshot = deps.policy.snapshot?.() ?? { enforced: deps.policy.current() };
      const policy = snapshot.enforced;
      const nowSeconds = Math.floor(deps.clock.now() / 1000);
      deps.limits?.checkIdentity(identity.id, deps.clock.now());
      decision = policy.decide(identity, input.credentials, nowSeconds, input.context);
      deps.metrics.policyDecisions.inc({ outcome: decision.outcome, reason: decision.reason });
      const base = exchangeEventBase({
        requestId,
        transport: input.transport,
        identity,
        subjectTokenFingerprint: subjectFp,
        request: input.credentials,
        context: input.context,
        policyDigest: policy.digest,
        decidedAt: nowSeconds,
        decision: summarize(decision),
      });
      if (snapshot.shadow) await this.shadow(snapshot.shadow, policy, decision, identity, input, nowSeconds, base);
      if (decision.outcome === 'deny') {
        await deps.auditor.record(exchangeDeniedEvent(base, decision));
        audited = true;
        throw denialError(decision, deps.verifier.explainDenials?.(identity) ?? false);
      }
      const { rule, reason } = decision;
      const issued = await issueAll(deps, { identity, rule, credentials: decision.credentials, nowSeconds }, (granted) => deps.auditor.build(exchangeAllowedEvent(base, rule, reason, granted)));
      const grants = issued.map((i) => i.grant);
      audited = true;
      deps.onIssued?.(grants);
      for (const i of issued) {
        deps.metrics.issuedTtl.observe({ credential_kind: i.granted.kind }, i.granted.ttlSeconds);
        deps.metrics.issuedCredentials.inc({ credential_kind: i.granted.kind, ttl_source: ttlSource(i.granted) });
      }
      deps.metrics.exchanges.inc({ outcome: 'allow', reason: decision.reason });
      this.observe(started, identity, kindLabel, 'allow');
      return { requestId, identity, rule: decision.rule, issued };
    } catch (err) {
      const error = toStintError(err);
      const outcome = error instanceof PolicyDeniedError ? 'deny' : 'error';
      deps.metrics.exchanges.inc({ outcome, reason: error instanceof PolicyDeniedError ? error.reason : error.code });
      this.observe(started, identity, kindLabel, outcome);
      if (!audited) {
        // With the store unavailable the error event waits for it too: record it in the background
        // so one request is bounded by one store deadline, not two.
        const recorded = deps.auditor
          .record(
            exchangeErrorEvent({
              requestId,
              transport: input.transport,
              error,
              identity,
              rule: decision?.rule ?? null,
              subjectTokenFingerprint: subjectFp,
              // Refused input is recorded in bounded form: no field of the caller's can grow the event.
              request: boundedCredentials(input.credentials),
              context: boundedContext(input.context),
            }),
          )
          .catch(() => undefined);
        if (error.code !== 'ERR_UNAVAILABLE') await recorded;
      }
      throw error;
    }
  }

  /**
   * Evaluate the shadow policy beside the enforced decision; a disagreement is audited and
   * counted. Never changes the outcome: any failure here is swallowed.
   */
  private async shadow(
    shadowPolicy: PolicyEngine,
    enforcedPolicy: PolicyEngine,
    enforced: Decision,
    identity: WorkloadIdentity,
    input: ExchangeInput,
    nowSeconds: number,
    base: ExchangeEventBase,
  ): Promise<void> {
    const { deps } = this;
    try {
      // Without explanations first (no nearest-rule scan): they are only needed for a disagreement.
      let candidate = shadowPolicy.decide(identity, input.credentials, nowSeconds, input.context, { explain: false });
      const enforcedSummary = summarize(enforced);
      const shadowSummary = summarize(candidate);
      const kind = disagreement(enforcedSummary, shadowSummary);
      deps.metrics.policyShadowDecisions.inc({ agreement: kind === null ? 'agree' : 'disagree' });
      if (kind === null) return;
      if (candidate.outcome === 'deny') candidate = shadowPolicy.decide(identity, input.credentials, nowSeconds, input.context);
      // Rule names come from the operator's policy file: a bounded label.
      deps.metrics.policyShadowDisagreements.inc({ kind, rule: candidate.rule ?? (candidate.outcome === 'deny' ? candidate.nearestRule : undefined) ?? 'none' });
      const explain = (d: Decision): Record<string, unknown> => (d.outcome === 'deny' ? { message: d.message, nearestRule: d.nearestRule ?? d.rule, failed: d.failed ?? [] } : {});
      await deps.auditor.record(
        shadowDisagreementEvent(base, {
          kind,
          rule: candidate.rule,
          enforced: { ...enforcedSummary, ...explain(enforced), digest: enforcedPolicy.digest },
          shadow: { ...shadowSummary, ...explain(candidate), digest: shadowPolicy.digest },
        }),
      );
    } catch {
      deps.metrics.policyShadowDecisions.inc({ agreement: 'error' });
    }
  }

  private observe(started: bigint, identity: WorkloadIdentity | null, kind: string, outcome: string): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.deps.metrics.exchangeDuration.observe({ attestor: identity?.attestor ?? 'unknown', credential_kind: kind, outcome }, seconds);
  }
}

const TARGET_REASONS: ReadonlySet<string> = new Set(['AUDIENCE_NOT_ALLOWED', 'AUDIENCE_REQUIRED', 'TARGET_NOT_ALLOWED', 'TARGET_REQUIRED', 'SCOPE_NOT_ALLOWED', 'TTL_ABOVE_MAX']);

/** The caller-facing error of a denial: reason code always, nearest rule only when explaining. */
function denialError(decision: Extract<Decision, { outcome: 'deny' }>, explain: boolean): PolicyDeniedError {
  const code = TARGET_REASONS.has(decision.reason) ? 'ERR_TARGET_DENIED' : 'ERR_POLICY_DENIED';
  const message = explain ? decision.message : `denied by policy (${decision.reason})`;
  return new PolicyDeniedError(code, message, explain ? (decision.rule ?? decision.nearestRule ?? null) : null, decision.reason, explain ? { failed: decision.failed ?? [] } : {});
}

/** Reject malformed requests before any verification work. */
function validateInput(input: ExchangeInput, providers: ProviderLookup, verifier: IdentityVerifier): void {
  if (typeof input.subjectToken !== 'string' || input.subjectToken.length === 0) {
    throw new StintError('ERR_INVALID_REQUEST', 'subject_token is required', { field: 'subject_token' });
  }
  const type = input.subjectTokenType || JWT_TOKEN_TYPE;
  if (typeof type !== 'string' || !verifier.accepts(type)) {
    throw new StintError('ERR_UNSUPPORTED_TOKEN_TYPE', `subject_token_type ${JSON.stringify(String(type).slice(0, 100))} is not supported`, { field: 'subject_token_type' });
  }
  validateContext(input.context);
  if (!Array.isArray(input.credentials) || input.credentials.length === 0) {
    throw new StintError('ERR_INVALID_REQUEST', 'at least one credential must be requested', { field: 'credentials' });
  }
  if (input.credentials.length > MAX_CREDENTIALS_PER_EXCHANGE) {
    throw new StintError('ERR_INVALID_REQUEST', `at most ${MAX_CREDENTIALS_PER_EXCHANGE} credentials per exchange`, { field: 'credentials' });
  }
  input.credentials.forEach((c, i) => {
    const field = `credentials[${i}]`;
    if (typeof c.kind !== 'string' || !providers.has(c.kind)) {
      const known = providers.kinds().join(', ');
      throw new StintError('ERR_INVALID_REQUEST', `${field}.kind: unknown credential kind ${JSON.stringify(String(c.kind).slice(0, 64))} (known: ${known})`, { field: `${field}.kind` });
    }
    for (const key of ['audience', 'target'] as const) {
      const v = c[key];
      if (v !== undefined && (typeof v !== 'string' || v.length > 1024)) {
        throw new StintError('ERR_INVALID_REQUEST', `${field}.${key}: must be a string of at most 1024 characters`, { field: `${field}.${key}` });
      }
    }
    if (c.ttlSeconds !== undefined && (!Number.isInteger(c.ttlSeconds) || c.ttlSeconds < 0 || c.ttlSeconds > 31 * 86400)) {
      throw new StintError('ERR_INVALID_REQUEST', `${field}.ttl_seconds: must be a whole number of seconds`, { field: `${field}.ttl_seconds` });
    }
    if (c.scopes !== undefined && (!Array.isArray(c.scopes) || c.scopes.length > 64 || c.scopes.some((s: unknown) => typeof s !== 'string' || s.length > 256))) {
      throw new StintError('ERR_INVALID_REQUEST', `${field}.scopes: at most 64 strings`, { field: `${field}.scopes` });
    }
  });
}

/** Longest accepted `reason`; `ticket` and `run_id` are shorter identifiers. */
export const MAX_REASON_LENGTH = 1024;
const MAX_CONTEXT_ID_LENGTH = 256;

/** Refuse a request context with non-string or oversized fields, before anything is recorded. */
function validateContext(context: RequestContext | undefined): void {
  if (context === undefined || context === null) return;
  if (typeof context !== 'object') throw new StintError('ERR_INVALID_REQUEST', 'context must be an object', { field: 'context' });
  const limits = { reason: MAX_REASON_LENGTH, ticket: MAX_CONTEXT_ID_LENGTH, runId: MAX_CONTEXT_ID_LENGTH } as const;
  for (const [key, max] of Object.entries(limits) as [keyof typeof limits, number][]) {
    const v: unknown = context[key];
    if (v !== undefined && (typeof v !== 'string' || v.length > max)) {
      const field = key === 'runId' ? 'run_id' : key;
      throw new StintError('ERR_INVALID_REQUEST', `${field}: must be a string of at most ${max} characters`, { field });
    }
  }
}

/** The credential_kind metric label: a registered kind, `none`, `multiple` or `unknown`, never the caller's text. */
export function credentialKindLabel(credentials: unknown, providers: ProviderLookup): string {
  if (!Array.isArray(credentials) || credentials.length === 0) return 'none';
  if (credentials.length > 1) return 'multiple';
  const kind: unknown = (credentials[0] as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' && providers.has(kind) ? kind : 'unknown';
}
