/**
 * Prometheus metrics of the service. Names follow `stint_<thing>_<unit>`, counters end in
 * `_total`, and every label takes values from a bounded set (never a token, identity or audience).
 */
import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const ttlBuckets = [60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400];

/** The metric set of one Stint service instance (own registry, so tests can run several). */
export class StintMetrics {
  readonly registry = new Registry();
  readonly exchangeDuration = new Histogram({
    name: 'stint_exchange_duration_seconds',
    help: 'Time to handle one exchange, from request to response.',
    labelNames: ['attestor', 'credential_kind', 'outcome'] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly exchanges = new Counter({
    name: 'stint_exchanges_total',
    help: 'Exchanges by outcome (allow, deny, error) and reason code.',
    labelNames: ['outcome', 'reason'] as const,
    registers: [this.registry],
  });
  readonly policyDecisions = new Counter({
    name: 'stint_policy_decisions_total',
    help: 'Policy decisions by outcome and reason code.',
    labelNames: ['outcome', 'reason'] as const,
    registers: [this.registry],
  });
  readonly issuedTtl = new Histogram({
    name: 'stint_issued_credential_ttl_seconds',
    help: 'TTL of issued credentials.',
    labelNames: ['credential_kind'] as const,
    buckets: ttlBuckets,
    registers: [this.registry],
  });
  readonly activeGrants = new Gauge({
    name: 'stint_active_grants',
    help: 'Grants that are active and unexpired.',
    registers: [this.registry],
  });
  readonly jwksFetches = new Counter({
    name: 'stint_jwks_fetch_total',
    help: 'Discovery and JWKS fetches by attestor and outcome.',
    labelNames: ['attestor', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly jwksFetchDuration = new Histogram({
    name: 'stint_jwks_fetch_duration_seconds',
    help: 'Duration of discovery and JWKS fetches.',
    labelNames: ['attestor'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly revocations = new Counter({
    name: 'stint_revocations_total',
    help: 'Upstream revocations of grants by provider (credential kind) and result (ok, error).',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });
  readonly revocationDuration = new Histogram({
    name: 'stint_revocation_duration_seconds',
    help: 'Time to revoke a grant upstream.',
    labelNames: ['provider'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly reaps = new Counter({
    name: 'stint_reaps_total',
    help: 'Cleanups of expired grants by provider and result (ok, error, noop when nothing is left upstream).',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });
  readonly stuckGrants = new Gauge({
    name: 'stint_grants_stuck',
    help: 'Grants whose upstream cleanup keeps failing (see stint grants list --stuck).',
    registers: [this.registry],
  });
  readonly reconcileRemoved = new Counter({
    name: 'stint_reconcile_removed_total',
    help: 'Upstream objects removed by reconciliation because no live grant accounts for them.',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'stint_reconcile_errors_total',
    help: 'Reconciliation passes that failed, by provider.',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'stint_upstream_request_duration_seconds',
    help: 'Duration of calls to upstream systems (STS, IAM, Vault, Kubernetes, PostgreSQL).',
    labelNames: ['provider', 'operation', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'stint_upstream_errors_total',
    help: 'Failed upstream calls by provider and upstream error code.',
    labelNames: ['provider', 'code'] as const,
    registers: [this.registry],
  });
  readonly breakGlass = new Counter({
    name: 'stint_break_glass_total',
    help: 'Break-glass events: requested, approved, released (a sealed credential issued), refused.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'stint_rate_limited_total',
    help: 'Requests refused by a rate limit, by scope (identity, source, upstream) and provider (upstream budgets; "none" otherwise).',
    labelNames: ['scope', 'provider'] as const,
    registers: [this.registry],
  });
  readonly subjectTokenCache = new Counter({
    name: 'stint_subject_token_cache_total',
    help: 'Verified subject token cache lookups by result (hit, miss).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly signingKeys = new Gauge({
    name: 'stint_signing_keys',
    help: 'Published signing keys by state (next, current, retired).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly policyShadowDisagreements = new Counter({
    name: 'stint_policy_shadow_disagreements_total',
    help: 'Live requests where the shadow policy disagreed with the enforced one, by kind (newly_allowed, newly_denied, rule, ttl, target) and the shadow policy\'s rule (its deciding or nearest rule; "none").',
    labelNames: ['kind', 'rule'] as const,
    registers: [this.registry],
  });
  readonly policyShadowDecisions = new Counter({
    name: 'stint_policy_shadow_decisions_total',
    help: 'Shadow policy evaluations by agreement with the enforced decision (agree, disagree, error).',
    labelNames: ['agreement'] as const,
    registers: [this.registry],
  });
  readonly policyReloads = new Counter({
    name: 'stint_policy_reloads_total',
    help: 'Policy reloads (file change or SIGHUP) by result (ok, error, unchanged).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly policyStale = new Gauge({
    name: 'stint_policy_stale',
    help: '1 while the policy file on disk failed to load and the last good policy keeps serving.',
    registers: [this.registry],
  });

  readonly auditEvents = new Counter({
    name: 'stint_audit_events_total',
    help: 'Audit events written to the store, by type and outcome (compare with stint_exchanges_total for audit completeness).',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly auditWriteFailures = new Counter({
    name: 'stint_audit_write_failures_total',
    help: 'Audit events that could not be written to the store, by type.',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly issuedCredentials = new Counter({
    name: 'stint_issued_credentials_total',
    help: 'Issued credentials by kind and where their TTL came from (default: the rule default; requested: within the rule maximum; capped: cut to the maximum).',
    labelNames: ['credential_kind', 'ttl_source'] as const,
    registers: [this.registry],
  });
  readonly revocationLatency = new Histogram({
    name: 'stint_revocation_latency_seconds',
    help: 'Time from a revoke command to the upstream revocation taking effect, retries included, by provider.',
    labelNames: ['provider'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });
  readonly signingKeyRotation = new Gauge({
    name: 'stint_signing_key_rotation_timestamp_seconds',
    help: 'Unix time at which the current signing key is due to be replaced by its successor.',
    registers: [this.registry],
  });
  readonly webhookCertificateExpiry = new Gauge({
    name: 'stint_webhook_certificate_expiry_timestamp_seconds',
    help: "Unix time at which the admission webhook's serving certificate expires (absent without webhook:).",
    registers: [this.registry],
  });
  readonly storeDuration = new Histogram({
    name: 'stint_store_operation_duration_seconds',
    help: 'Duration of store operations, by operation (Store method) and outcome (ok, error).',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'stint_process_' });
  }
}

/** Where a granted TTL came from, the `ttl_source` label of stint_issued_credentials_total (scope correctness). */
export function ttlSource(granted: { readonly ttlCapped: boolean; readonly request: { readonly ttlSeconds?: number | undefined } }): 'capped' | 'requested' | 'default' {
  if (granted.ttlCapped) return 'capped';
  return granted.request.ttlSeconds === undefined || granted.request.ttlSeconds === 0 ? 'default' : 'requested';
}

/** Expiry of a PEM certificate (the first in the bundle) in Unix seconds, for stint_webhook_certificate_expiry_timestamp_seconds. */
export function certificateExpirySeconds(pem: string | Buffer): number {
  return Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);
}

/**
 * Wrap a store so that every method returning a promise is timed into
 * stint_store_operation_duration_seconds (operation = method name, a bounded set).
 */
export function instrumentStore<T extends object>(store: T, metrics: Pick<StintMetrics, 'storeDuration'>): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') return value;
      return function timed(this: unknown, ...args: unknown[]): unknown {
        const started = process.hrtime.bigint();
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        const done = (outcome: 'ok' | 'error'): void => metrics.storeDuration.observe({ operation: property, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
        return result.then(
          (v) => {
            done('ok');
            return v;
          },
          (e: unknown) => {
            done('error');
            throw e;
          },
        );
      };
    },
  });
}
