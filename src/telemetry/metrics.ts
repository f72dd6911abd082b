/**
 * Prometheus metrics of the service. Names follow `stint_<thing>_<unit>`, counters end in
 * `_total`, and every label takes values from a bounded set (never a token, identity or audience).
 */
import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const ttlBuckets = [60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400];

// One line a metric below: name, help, label names (and buckets), registered in the instance's registry.

/** A counter in `registry`. */
function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** A gauge in `registry` (without labels unless given). */
function gauge<L extends string = string>(registry: Registry, name: string, help: string, labelNames?: readonly L[]): Gauge<L> {
  return new Gauge({ name, help, ...(labelNames ? { labelNames } : {}), registers: [registry] });
}

/** A histogram in `registry` with explicit buckets (seconds). */
function histogram<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

/** The metric set of one Stint service instance (own registry, so tests can run several). */
export class StintMetrics {
  readonly registry = new Registry();
  readonly exchangeDuration = histogram(this.registry, 'stint_exchange_duration_seconds', 'Time to handle one exchange, from request to response.', ['attestor', 'credential_kind', 'outcome'], latencyBuckets);
  readonly exchanges = counter(this.registry, 'stint_exchanges_total', 'Exchanges by outcome (allow, deny, error) and reason code.', ['outcome', 'reason']);
  readonly policyDecisions = counter(this.registry, 'stint_policy_decisions_total', 'Policy decisions by outcome and reason code.', ['outcome', 'reason']);
  readonly issuedTtl = histogram(this.registry, 'stint_issued_credential_ttl_seconds', 'TTL of issued credentials.', ['credential_kind'], ttlBuckets);
  readonly activeGrants = gauge(this.registry, 'stint_active_grants', 'Grants that are active and unexpired.');
  readonly jwksFetches = counter(this.registry, 'stint_jwks_fetch_total', 'Discovery and JWKS fetches by attestor and outcome.', ['attestor', 'outcome']);
  readonly jwksFetchDuration = histogram(this.registry, 'stint_jwks_fetch_duration_seconds', 'Duration of discovery and JWKS fetches.', ['attestor'], [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  readonly revocations = counter(this.registry, 'stint_revocations_total', 'Upstream revocations of grants by provider (credential kind) and result (ok, error).', ['provider', 'result']);
  readonly revocationDuration = histogram(this.registry, 'stint_revocation_duration_seconds', 'Time to revoke a grant upstream.', ['provider'], [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  readonly reaps = counter(this.registry, 'stint_reaps_total', 'Cleanups of expired grants by provider and result (ok, error, noop when nothing is left upstream).', ['provider', 'result']);
  readonly stuckGrants = gauge(this.registry, 'stint_grants_stuck', 'Grants whose upstream cleanup keeps failing (see stint grants list --stuck).');
  readonly reconcileRemoved = counter(this.registry, 'stint_reconcile_removed_total', 'Upstream objects removed by reconciliation because no live grant accounts for them.', ['provider']);
  readonly reconcileErrors = counter(this.registry, 'stint_reconcile_errors_total', 'Reconciliation passes that failed, by provider.', ['provider']);
  readonly upstreamDuration = histogram(this.registry, 'stint_upstream_request_duration_seconds', 'Duration of calls to upstream systems (STS, IAM, Vault, Kubernetes, PostgreSQL).', ['provider', 'operation', 'outcome'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  readonly upstreamErrors = counter(this.registry, 'stint_upstream_errors_total', 'Failed upstream calls by provider and upstream error code.', ['provider', 'code']);
  readonly breakGlass = counter(this.registry, 'stint_break_glass_total', 'Break-glass events: requested, approved, released (a sealed credential issued), refused.', ['event']);
  readonly rateLimited = counter(this.registry, 'stint_rate_limited_total', 'Requests refused by a rate limit, by scope (identity, source, upstream) and provider (upstream budgets; "none" otherwise).', ['scope', 'provider']);
  readonly subjectTokenCache = counter(this.registry, 'stint_subject_token_cache_total', 'Verified subject token cache lookups by result (hit, miss).', ['result']);
  readonly signingKeys = gauge(this.registry, 'stint_signing_keys', 'Published signing keys by state (next, current, retired).', ['state']);
  readonly policyShadowDisagreements = counter(this.registry, 'stint_policy_shadow_disagreements_total', 'Live requests where the shadow policy disagreed with the enforced one, by kind (newly_allowed, newly_denied, rule, ttl, target) and the shadow policy\'s rule (its deciding or nearest rule; "none").', ['kind', 'rule']);
  readonly policyShadowDecisions = counter(this.registry, 'stint_policy_shadow_decisions_total', 'Shadow policy evaluations by agreement with the enforced decision (agree, disagree, error).', ['agreement']);
  readonly policyReloads = counter(this.registry, 'stint_policy_reloads_total', 'Policy reloads (file change or SIGHUP) by result (ok, error, unchanged).', ['result']);
  readonly policyStale = gauge(this.registry, 'stint_policy_stale', '1 while the policy file on disk failed to load and the last good policy keeps serving.');
  readonly auditEvents = counter(this.registry, 'stint_audit_events_total', 'Audit events written to the store, by type and outcome (compare with stint_exchanges_total for audit completeness).', ['type', 'outcome']);
  readonly auditWriteFailures = counter(this.registry, 'stint_audit_write_failures_total', 'Audit events that could not be written to the store, by type.', ['type']);
  readonly issuedCredentials = counter(this.registry, 'stint_issued_credentials_total', 'Issued credentials by kind and where their TTL came from (default: the rule default; requested: within the rule maximum; capped: cut to the maximum).', ['credential_kind', 'ttl_source']);
  readonly revocationLatency = histogram(this.registry, 'stint_revocation_latency_seconds', 'Time from a revoke command to the upstream revocation taking effect, retries included, by provider.', ['provider'], [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]);
  readonly signingKeyRotation = gauge(this.registry, 'stint_signing_key_rotation_timestamp_seconds', 'Unix time at which the current signing key is due to be replaced by its successor.');
  readonly webhookCertificateExpiry = gauge(this.registry, 'stint_webhook_certificate_expiry_timestamp_seconds', "Unix time at which the admission webhook's serving certificate expires (absent without webhook:).");
  readonly storeDuration = histogram(this.registry, 'stint_store_operation_duration_seconds', 'Duration of store operations, by operation (Store method) and outcome (ok, error).', ['operation', 'outcome'], [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);

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
  // One timed wrapper per method, made on first use (the hot path allocates no closure per call).
  const wrappers = new Map<string, { value: unknown; timed: unknown }>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') return value;
      const cached = wrappers.get(property);
      if (cached?.value === value) return cached.timed;
      const timed = function timed(this: unknown, ...args: unknown[]): unknown {
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
      wrappers.set(property, { value, timed });
      return timed;
    },
  });
}
