/**
 * Stint's three Grafana dashboards: on-call (what to open first when paged), executive (grants,
 * denials and audit completeness over days) and debug (TTLs, shadow policy, reaper, store,
 * caches). Queries read raw metrics or the recording rules of rules.ts; `job` variables pick the
 * Stint deployment and the sidecar fleet.
 */
import { dashboard, variables, type Dashboard, type RowSpec } from './grafana.js';
import { SERVER_FAULT_CODES } from './rules.js';

const J = 'job=~"$job"';
const S = 'job=~"$sidecar_job"';
const RI = '$__rate_interval';
const vars = (sidecar: boolean) =>
  variables([
    { name: 'job', label: 'Stint', metric: 'stint_exchanges_total' },
    ...(sidecar ? [{ name: 'sidecar_job', label: 'Sidecar fleet', metric: 'stint_sidecar_credential_ready' }] : []),
  ]);

const quantile = (q: number, metric: string, by: string, filter: string): string => `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket{${filter}}[${RI}])))`;

const onCallRows: RowSpec[] = [
  {
    row: 'SLOs',
    panels: [
      { type: 'stat', title: 'Availability: error budget left (30d)', description: 'Share of the 30-day availability error budget not yet spent (failures: server-side error codes; denials do not count).', queries: [{ expr: `stint:slo_error_budget_remaining:ratio{slo="availability",${J}}`, legend: '{{job}}' }], unit: 'percentunit', w: 6, h: 6, thresholds: [[-1000, 'red'], [0, 'orange'], [0.25, 'green']] },
      { type: 'stat', title: 'Latency: error budget left (30d)', description: 'Share of the 30-day latency error budget not yet spent (allowed exchanges slower than the threshold).', queries: [{ expr: `stint:slo_error_budget_remaining:ratio{slo="latency",${J}}`, legend: '{{job}}' }], unit: 'percentunit', w: 6, h: 6, thresholds: [[-1000, 'red'], [0, 'orange'], [0.25, 'green']] },
      { type: 'timeseries', title: 'Availability burn rate', description: 'Error-budget burn rate per window; the page fires when 1h and 5m both exceed 14.4, or 6h and 30m both exceed 6.', queries: ['5m', '30m', '1h', '6h'].map((w) => ({ expr: `stint:slo_burn_rate:ratio_rate${w}{slo="availability",${J}}`, legend: `${w} {{job}}` })), w: 6, h: 6, thresholds: [[6, 'orange'], [14.4, 'red']] },
      { type: 'timeseries', title: 'Latency burn rate', description: 'Latency error-budget burn rate per window (same thresholds as availability).', queries: ['5m', '30m', '1h', '6h'].map((w) => ({ expr: `stint:slo_burn_rate:ratio_rate${w}{slo="latency",${J}}`, legend: `${w} {{job}}` })), w: 6, h: 6, thresholds: [[6, 'orange'], [14.4, 'red']] },
    ],
  },
  {
    row: 'Issuance',
    panels: [
      { type: 'heatmap', title: 'Issuance latency (allowed exchanges)', description: 'Distribution of exchange duration, request to response, for allowed exchanges.', queries: [{ expr: `sum by (le) (rate(stint_exchange_duration_seconds_bucket{outcome="allow",${J}}[${RI}]))`, legend: '{{le}}' }], unit: 's' },
      { type: 'timeseries', title: 'Issuance latency p50 / p99 against the SLO threshold', description: 'Quantiles of allowed-exchange duration; the flat line is the latency SLO threshold.', queries: [{ expr: quantile(0.5, 'stint_exchange_duration_seconds', '', `outcome="allow",${J}`), legend: 'p50' }, { expr: quantile(0.99, 'stint_exchange_duration_seconds', '', `outcome="allow",${J}`), legend: 'p99' }, { expr: 'stint:slo_latency_threshold:seconds', legend: 'SLO threshold' }], unit: 's' },
      { type: 'timeseries', title: 'Exchanges: allowed, denied, failed', description: 'Exchange rate by outcome. A failure (server-side code) counts against availability; a denial is policy working.', queries: [{ expr: `sum by (outcome) (rate(stint_exchanges_total{${J}}[${RI}]))`, legend: '{{outcome}}' }, { expr: `sum(rate(stint_exchanges_total{outcome="error",reason=~"${SERVER_FAULT_CODES.join('|')}",${J}}[${RI}]))`, legend: 'failures (SLO)' }], unit: 'reqps' },
      { type: 'timeseries', title: 'Denials and errors by reason', description: 'Non-allowed exchanges by policy reason code or error code.', queries: [{ expr: `sum by (outcome, reason) (rate(stint_exchanges_total{outcome!="allow",${J}}[${RI}]))`, legend: '{{outcome}} {{reason}}' }], unit: 'reqps', w: 12 },
      { type: 'timeseries', title: 'Revocations by provider and result; p99 command to enforced', description: 'Upstream revocations (Admin revoke and retries) and the time from revoke command to the upstream revocation taking effect.', queries: [{ expr: `sum by (provider, result) (increase(stint_revocations_total{${J}}[${RI}]))`, legend: '{{provider}} {{result}}' }, { expr: quantile(0.99, 'stint_revocation_latency_seconds', 'provider', J), legend: 'p99 {{provider}}' }], w: 12 },
    ],
  },
  {
    row: 'Dependencies',
    panels: [
      { type: 'timeseries', title: 'Upstream latency p99 by provider', description: 'Calls to STS, IAM, Vault, Kubernetes, PostgreSQL.', queries: [{ expr: quantile(0.99, 'stint_upstream_request_duration_seconds', 'provider, operation', J), legend: '{{provider}} {{operation}}' }], unit: 's' },
      { type: 'timeseries', title: 'Upstream errors by provider and code', description: 'Failed upstream calls by upstream error code.', queries: [{ expr: `sum by (provider, code) (rate(stint_upstream_errors_total{${J}}[${RI}]))`, legend: '{{provider}} {{code}}' }], unit: 'reqps' },
      { type: 'timeseries', title: 'Issuer key fetches by attestor and outcome', description: 'Discovery/JWKS fetches of subject-token issuers; only errors and no ok for the stale window pages (StintIssuerKeysStale).', queries: [{ expr: `sum by (attestor, outcome) (increase(stint_jwks_fetch_total{${J}}[${RI}]))`, legend: '{{attestor}} {{outcome}}' }, { expr: quantile(0.99, 'stint_jwks_fetch_duration_seconds', 'attestor', J), legend: 'p99 {{attestor}}' }] },
      { type: 'stat', title: 'Signing keys by state', description: 'Published signing keys: next (successor), current, retired.', queries: [{ expr: `sum by (state) (stint_signing_keys{${J}})`, legend: '{{state}}' }], w: 12, h: 5 },
      { type: 'stat', title: 'Signing key rotation due in', description: 'Time until the current signing key is replaced; a successor (next) must be published before.', queries: [{ expr: `min(stint_signing_key_rotation_timestamp_seconds{${J}}) - time()`, legend: 'rotation' }], unit: 's', w: 12, h: 5, thresholds: [] },
    ],
  },
  {
    row: 'Sidecar fleet',
    panels: [
      { type: 'stat', title: 'Credentials served (ready / all)', description: 'Sidecar credentials currently served unexpired, out of all credentials the fleet holds.', queries: [{ expr: `sum(stint_sidecar_credential_ready{${S}})`, legend: 'ready' }, { expr: `count(stint_sidecar_credential_ready{${S}})`, legend: 'all' }], w: 6 },
      { type: 'timeseries', title: 'Least lifetime left by credential', description: 'Smallest fraction of its lifetime any sidecar credential has left; renewals happen at one third, below 0.15 raises a ticket.', queries: [{ expr: `min by (credential) (stint_sidecar_credential_expiry_seconds{${S}} / stint_sidecar_credential_lifetime_seconds{${S}})`, legend: '{{credential}}' }], unit: 'percentunit', min: 0, max: 1, w: 6, thresholds: [[0, 'red'], [0.15, 'orange'], [0.3, 'green']] },
      { type: 'timeseries', title: 'Oldest renewal by credential', description: 'Longest time since any sidecar last renewed each credential.', queries: [{ expr: `max by (credential) (time() - stint_sidecar_last_renewal_timestamp_seconds{${S}})`, legend: '{{credential}}' }], unit: 's', w: 6 },
      { type: 'timeseries', title: 'Renewal failures by code', description: 'Failed sidecar exchanges by Stint error code.', queries: [{ expr: `sum by (code) (increase(stint_sidecar_renewal_failures_total{${S}}[${RI}]))`, legend: '{{code}}' }], w: 6 },
    ],
  },
];

const executiveRows: RowSpec[] = [
  {
    row: 'Grants',
    panels: [
      { type: 'stat', title: 'Grants in the last 24h', description: 'Allowed exchanges over the last day.', queries: [{ expr: `sum(increase(stint_exchanges_total{outcome="allow",${J}}[1d]))`, legend: 'grants' }], w: 6, h: 5 },
      { type: 'stat', title: 'Active grants', description: 'Grants issued and not yet expired or revoked.', queries: [{ expr: `sum(stint_active_grants{${J}})`, legend: 'active' }], w: 6, h: 5 },
      { type: 'stat', title: 'Audit completeness (1h)', description: 'Exchange audit events written per exchange decided; below 100% means decisions went unrecorded.', queries: [{ expr: `stint:audit_completeness:ratio_rate1h{${J}}`, legend: '{{job}}' }], unit: 'percentunit', w: 6, h: 5, thresholds: [[0, 'red'], [0.999, 'green']] },
      { type: 'stat', title: 'Error budget left (30d)', description: 'Availability and latency error budgets left.', queries: [{ expr: `stint:slo_error_budget_remaining:ratio{${J}}`, legend: '{{slo}}' }], unit: 'percentunit', w: 6, h: 5, thresholds: [[-1000, 'red'], [0, 'orange'], [0.25, 'green']] },
      { type: 'timeseries', title: 'Grants per day by credential kind and attestor', description: 'Allowed exchanges per day.', queries: [{ expr: `sum by (credential_kind, attestor) (increase(stint_exchange_duration_seconds_count{outcome="allow",${J}}[1d]))`, legend: '{{credential_kind}} via {{attestor}}' }], w: 12 },
      { type: 'timeseries', title: 'Average TTL granted by credential kind', description: 'Mean TTL of issued credentials over the last day.', queries: [{ expr: `sum by (credential_kind) (increase(stint_issued_credential_ttl_seconds_sum{${J}}[1d])) / sum by (credential_kind) (increase(stint_issued_credential_ttl_seconds_count{${J}}[1d]))`, legend: '{{credential_kind}}' }], unit: 's', w: 12 },
    ],
  },
  {
    row: 'Denials and scope',
    panels: [
      { type: 'timeseries', title: 'Denials per day by reason', description: 'Denied exchanges per day by policy reason code.', queries: [{ expr: `sum by (reason) (increase(stint_exchanges_total{outcome="deny",${J}}[1d]))`, legend: '{{reason}}' }] },
      { type: 'timeseries', title: 'Unauthorized attempts per day by attestor', description: 'Denied exchanges by attestor, and subject tokens rejected (forged, expired, wrong audience...).', queries: [{ expr: `sum by (attestor) (increase(stint_exchange_duration_seconds_count{outcome="deny",${J}}[1d]))`, legend: 'denied via {{attestor}}' }, { expr: `sum(increase(stint_exchanges_total{outcome="error",reason=~"ERR_TOKEN_.*",${J}}[1d]))`, legend: 'tokens rejected' }] },
      { type: 'timeseries', title: 'Scope correctness: TTL within the rule', description: 'Share of issued credentials whose TTL was the rule default or a requested TTL within the maximum (not capped).', queries: [{ expr: `sum(increase(stint_issued_credentials_total{ttl_source!="capped",${J}}[1d])) / sum(increase(stint_issued_credentials_total{${J}}[1d]))`, legend: 'within rule' }], unit: 'percentunit', min: 0, max: 1 },
    ],
  },
];

const debugRows: RowSpec[] = [
  {
    row: 'Grants and policy',
    panels: [
      { type: 'heatmap', title: 'Granted TTL', description: 'Distribution of TTLs of issued credentials.', queries: [{ expr: `sum by (le) (increase(stint_issued_credential_ttl_seconds_bucket{${J}}[${RI}]))`, legend: '{{le}}' }], unit: 's' },
      { type: 'timeseries', title: 'Issued credentials by TTL source', description: 'default: the rule default; requested: within the maximum; capped: cut to the maximum.', queries: [{ expr: `sum by (credential_kind, ttl_source) (rate(stint_issued_credentials_total{${J}}[${RI}]))`, legend: '{{credential_kind}} {{ttl_source}}' }], unit: 'reqps' },
      { type: 'timeseries', title: 'Shadow policy: disagreements by rule', description: 'Disagreements by the shadow policy\'s deciding (or nearest) rule and kind: the rules to review before the candidate is enforced.', queries: [{ expr: `sum by (rule, kind) (rate(stint_policy_shadow_disagreements_total{${J}}[${RI}]))`, legend: '{{rule}}: {{kind}}' }], unit: 'reqps' },
      { type: 'timeseries', title: 'Shadow policy: decisions and disagreements', description: 'Shadow evaluations by agreement, and disagreements by kind (newly_allowed, newly_denied, rule, ttl, target).', queries: [{ expr: `sum by (agreement) (rate(stint_policy_shadow_decisions_total{${J}}[${RI}]))`, legend: '{{agreement}}' }, { expr: `sum by (kind) (rate(stint_policy_shadow_disagreements_total{${J}}[${RI}]))`, legend: 'disagree: {{kind}}' }], unit: 'reqps' },
      { type: 'timeseries', title: 'Policy reloads and staleness', description: 'Reloads by result; stale is 1 while the file on disk fails to load.', queries: [{ expr: `sum by (result) (increase(stint_policy_reloads_total{${J}}[${RI}]))`, legend: '{{result}}' }, { expr: `max(stint_policy_stale{${J}})`, legend: 'stale' }] },
      { type: 'timeseries', title: 'Policy decisions by outcome and reason', description: 'Every policy decision, exchanges and renewals.', queries: [{ expr: `sum by (outcome, reason) (rate(stint_policy_decisions_total{${J}}[${RI}]))`, legend: '{{outcome}} {{reason}}' }], unit: 'reqps' },
      { type: 'timeseries', title: 'Exchange latency p99 by attestor and kind', description: 'p99 of every exchange (all outcomes).', queries: [{ expr: quantile(0.99, 'stint_exchange_duration_seconds', 'attestor, credential_kind', J), legend: '{{attestor}} {{credential_kind}}' }], unit: 's' },
    ],
  },
  {
    row: 'Lifecycle',
    panels: [
      { type: 'timeseries', title: 'Reaper: cleanups at expiry by provider and result', description: 'Expired grants cleaned up upstream (noop: nothing was left upstream).', queries: [{ expr: `sum by (provider, result) (increase(stint_reaps_total{${J}}[${RI}]))`, legend: '{{provider}} {{result}}' }] },
      { type: 'timeseries', title: 'Stuck grants', description: 'Grants whose cleanup failed stuckAfterAttempts times (stint grants list --stuck).', queries: [{ expr: `max(stint_grants_stuck{${J}})`, legend: 'stuck' }] },
      { type: 'timeseries', title: 'Reconciliation: removed objects and failed passes', description: 'Orphan upstream objects removed, and failed passes, by provider (providers that can list: vault, gcp, postgres, kubernetes-rolebinding).', queries: [{ expr: `sum by (provider) (increase(stint_reconcile_removed_total{${J}}[${RI}]))`, legend: 'removed {{provider}}' }, { expr: `sum by (provider) (increase(stint_reconcile_errors_total{${J}}[${RI}]))`, legend: 'failed {{provider}}' }] },
    ],
  },
  {
    row: 'Internals',
    panels: [
      { type: 'timeseries', title: 'Store latency p99 by operation', description: 'Store operations (SQLite or PostgreSQL).', queries: [{ expr: quantile(0.99, 'stint_store_operation_duration_seconds', 'operation', J), legend: '{{operation}}' }], unit: 's' },
      { type: 'timeseries', title: 'Subject-token cache hit rate', description: 'Share of exchanges whose subject token was verified before and reused.', queries: [{ expr: `sum(rate(stint_subject_token_cache_total{result="hit",${J}}[${RI}])) / sum(rate(stint_subject_token_cache_total{${J}}[${RI}]))`, legend: 'hit rate' }], unit: 'percentunit', min: 0, max: 1 },
      { type: 'timeseries', title: 'Audit events written and failed', description: 'Audit events by type, and failed audit writes.', queries: [{ expr: `sum by (type) (rate(stint_audit_events_total{${J}}[${RI}]))`, legend: '{{type}}' }, { expr: `sum by (type) (rate(stint_audit_write_failures_total{${J}}[${RI}]))`, legend: 'failed {{type}}' }], unit: 'reqps' },
      { type: 'timeseries', title: 'Process memory and event-loop lag', description: 'Resident memory and p99 event-loop lag of the service.', queries: [{ expr: `max(stint_process_process_resident_memory_bytes{${J}})`, legend: 'rss' }, { expr: `max(stint_process_nodejs_eventloop_lag_p99_seconds{${J}})`, legend: 'event-loop lag p99' }] },
    ],
  },
];

/** Every dashboard: file name and builder. */
export const DASHBOARDS: readonly { readonly file: string; build(): Dashboard }[] = [
  {
    file: 'stint-oncall.json',
    build: () => dashboard({ uid: 'stint-oncall', title: 'Stint / On-call', description: 'What to open first when paged: SLOs and burn rates, issuance latency and outcomes, revocations, dependencies, issuer and signing keys, sidecar fleet freshness.', variables: vars(true), rows: onCallRows, time: 'now-3h' }),
  },
  {
    file: 'stint-executive.json',
    build: () => dashboard({ uid: 'stint-executive', title: 'Stint / Executive', description: 'Grants per day, active grants, denials and unauthorized attempts, audit completeness, scope correctness, error budget.', variables: vars(false), rows: executiveRows, time: 'now-30d' }),
  },
  {
    file: 'stint-debug.json',
    build: () => dashboard({ uid: 'stint-debug', title: 'Stint / Debug', description: 'TTL distribution, shadow policy, policy reloads, reaper and stuck grants, reconciliation, store latency, subject-token cache, audit writes.', variables: vars(false), rows: debugRows }),
  },
];
