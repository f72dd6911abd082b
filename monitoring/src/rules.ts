/**
 * The single source of Stint's Prometheus rules: SLI recording rules, SLO burn-rate alerts (the
 * SRE workbook's 1h/5m and 6h/30m window pairs) and the page/ticket alerts, each linked to its
 * runbook. `generate.ts` renders it as the plain rule file, the chart's PrometheusRule and, with
 * windows divided by a time scale, the rules the end-to-end test loads into a real Prometheus.
 */
import { ERROR_TABLE, type ErrorCode } from '../../src/errors.js';
import { token, type ParamName } from './params.js';

/** A recording rule. */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Who is woken: `page` (now, any hour) or `ticket` (next working day). */
export type Severity = 'page' | 'ticket';

/** An alerting rule. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<{ severity: Severity } & Record<string, string>>;
  readonly annotations: Readonly<{ summary: string; description: string; runbook_url: string }>;
}

/** A rule group as Prometheus reads it. */
export interface RuleGroup {
  readonly name: string;
  readonly interval: string;
  readonly rules: readonly (RecordingRule | AlertRule)[];
}

/** How to render the rules. */
export interface RuleOptions {
  /** Every window, `for` and interval is divided by this (1 for production; the e2e test uses 60: 1h becomes 60s). */
  readonly timeScale: number;
}

/** Labels the SLIs are aggregated by: one Stint deployment. */
export const BY = 'namespace, job';

/** Error codes that count against availability: the server's or a dependency's fault (HTTP 5xx), never the caller's. */
export const SERVER_FAULT_CODES: readonly ErrorCode[] = (Object.keys(ERROR_TABLE) as ErrorCode[]).filter((c) => ERROR_TABLE[c].http >= 500).sort();

/** The SLO windows: the long and short window of each burn-rate pair, and the factor both must exceed. */
export const BURN_PAIRS = [
  { long: 3600, short: 300, factor: 14.4 },
  { long: 6 * 3600, short: 1800, factor: 6 },
] as const;

/** The SLO period of the error budget. */
export const SLO_PERIOD_SECONDS = 30 * 86400;

/** A duration in Prometheus notation, divided by the time scale (never below 1s). */
export function duration(seconds: number, scale: number): string {
  if (seconds === 0) return '0s';
  const s = Math.max(1, Math.round(seconds / scale));
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s % size === 0) return `${s / size}${unit}`;
  }
  return `${s}s`;
}

const p = (name: ParamName): string => token(name);
const runbook = (alert: string): string => `${p('runbookBaseUrl')}/${alert}.md`;

/** The SLI error ratio over a window (named `name`, range `w`) for each SLO, 0 (not absent) while nothing failed. */
function sliRecords(name: string, w: string): RecordingRule[] {
  const all = `sum by (${BY}) (rate(stint_exchanges_total[${w}]))`;
  const failed = `sum by (${BY}) (rate(stint_exchanges_total{outcome="error",reason=~"${SERVER_FAULT_CODES.join('|')}"}[${w}]))`;
  const allowed = `sum by (${BY}) (rate(stint_exchange_duration_seconds_count{outcome="allow"}[${w}]))`;
  const fast = `sum by (${BY}) (rate(stint_exchange_duration_seconds_bucket{outcome="allow",le="${p('latencyThreshold')}"}[${w}]))`;
  return [
    { record: `stint:slo_errors:ratio_rate${name}`, expr: `(${failed} or 0 * ${all}) / ${all}`, labels: { slo: 'availability' } },
    { record: `stint:slo_errors:ratio_rate${name}`, expr: `1 - ((${fast} or 0 * ${allowed}) / ${allowed})`, labels: { slo: 'latency' } },
  ];
}

/** Burn rate over the window named `w`: the error ratio divided by the error budget (1 - objective). */
function burnRecords(w: string): RecordingRule[] {
  return (['availability', 'latency'] as const).map((slo) => ({
    record: `stint:slo_burn_rate:ratio_rate${w}`,
    expr: `stint:slo_errors:ratio_rate${w}{slo="${slo}"} / (1 - ${p(slo === 'availability' ? 'availabilityObjective' : 'latencyObjective')} / 100)`,
    labels: { slo },
  }));
}

/** A multi-window, multi-burn-rate alert on one SLO. */
function burnAlert(slo: 'availability' | 'latency', alert: string, o: RuleOptions, what: string): AlertRule {
  // Recorded series are named after the production windows whatever the time scale, so dashboards read them unchanged.
  const pair = (x: (typeof BURN_PAIRS)[number]): string => {
    const long = duration(x.long, 1);
    const short = duration(x.short, 1);
    return `(stint:slo_burn_rate:ratio_rate${long}{slo="${slo}"} > ${x.factor} and stint:slo_burn_rate:ratio_rate${short}{slo="${slo}"} > ${x.factor})`;
  };
  return {
    alert,
    expr: BURN_PAIRS.map(pair).join('\nor\n'),
    for: duration(120, o.timeScale),
    labels: { severity: 'page', slo },
    annotations: {
      summary: `Stint ${what} is burning its error budget too fast ({{ $labels.job }})`,
      description: `The ${slo} SLO of {{ $labels.job }} in {{ $labels.namespace }} burns its 30-day error budget at least 14.4 times too fast over 1h and 5m, or 6 times over 6h and 30m: at that pace the month's budget is gone within 2 to 5 days.`,
      runbook_url: runbook(alert),
    },
  };
}

/** Every rule group, rendered for `o`. */
export function ruleGroups(o: RuleOptions): RuleGroup[] {
  const d = (s: number): string => duration(s, o.timeScale);
  const windows = [...new Set(BURN_PAIRS.flatMap((x) => [x.short, x.long]))].sort((a, b) => a - b);
  const period = d(SLO_PERIOD_SECONDS);
  const allowRate = (w: string, offset?: string): string =>
    `sum by (${BY}) (rate(stint_exchanges_total{outcome="allow"}[${w}]${offset ? ` offset ${offset}` : ''}))`;
  const denyRate = (w: string, offset?: string): string =>
    `sum by (${BY}) (rate(stint_exchanges_total{outcome="deny"}[${w}]${offset ? ` offset ${offset}` : ''}))`;
  const surge = (rate: (w: string, offset?: string) => string): string =>
    `${rate(d(600))} > 5 * ${rate(d(6 * 3600), d(600))}\nand\n${rate(d(600))} > 1`;

  return [
    {
      name: 'stint-slo-sli',
      interval: d(30),
      rules: [
        { record: 'stint:slo_objective:ratio', expr: `vector(${p('availabilityObjective')} / 100)`, labels: { slo: 'availability' } },
        { record: 'stint:slo_objective:ratio', expr: `vector(${p('latencyObjective')} / 100)`, labels: { slo: 'latency' } },
        { record: 'stint:slo_latency_threshold:seconds', expr: `vector(${p('latencyThreshold')})` },
        ...windows.flatMap((w) => sliRecords(duration(w, 1), d(w))),
        ...windows.map((w) => duration(w, 1)).flatMap(burnRecords),
        {
          record: 'stint:audit_completeness:ratio_rate1h',
          expr: `sum by (${BY}) (rate(stint_audit_events_total{type=~"exchange\\\\.(allowed|denied|error)"}[${d(3600)}])) / sum by (${BY}) (rate(stint_exchanges_total[${d(3600)}]))`,
        },
      ],
    },
    {
      name: 'stint-slo-budget',
      interval: d(300),
      rules: (['availability', 'latency'] as const).map((slo) => ({
        record: 'stint:slo_error_budget_remaining:ratio',
        expr:
          slo === 'availability'
            ? `1 - ((sum by (${BY}) (increase(stint_exchanges_total{outcome="error",reason=~"${SERVER_FAULT_CODES.join('|')}"}[${period}])) or 0 * sum by (${BY}) (increase(stint_exchanges_total[${period}]))) / sum by (${BY}) (increase(stint_exchanges_total[${period}]))) / (1 - ${p('availabilityObjective')} / 100)`
            : `1 - (1 - ((sum by (${BY}) (increase(stint_exchange_duration_seconds_bucket{outcome="allow",le="${p('latencyThreshold')}"}[${period}])) or 0 * sum by (${BY}) (increase(stint_exchange_duration_seconds_count{outcome="allow"}[${period}]))) / sum by (${BY}) (increase(stint_exchange_duration_seconds_count{outcome="allow"}[${period}])))) / (1 - ${p('latencyObjective')} / 100)`,
        labels: { slo },
      })),
    },
    {
      name: 'stint-page',
      interval: d(30),
      rules: [
        burnAlert('availability', 'StintIssuanceErrorBudgetBurn', o, 'issuance availability'),
        burnAlert('latency', 'StintIssuanceLatencyBudgetBurn', o, 'issuance latency'),
        {
          alert: 'StintGrantSurge',
          expr: surge(allowRate),
          for: d(300),
          labels: { severity: 'page' },
          annotations: {
            summary: 'Unexplained mass grants from Stint ({{ $labels.job }})',
            description: 'Allowed exchanges over the last 10 minutes run above 1/s and more than 5 times their rate over the 6 hours before: a leaked subject token, a runaway client or a policy that allows too much.',
            runbook_url: runbook('StintGrantSurge'),
          },
        },
        {
          alert: 'StintDenialSurge',
          expr: `(${surge(denyRate)})\nunless on (${BY})\n(sum by (${BY}) (increase(stint_policy_reloads_total{result="ok"}[${d(3600)}])) > 0)`,
          for: d(300),
          labels: { severity: 'page' },
          annotations: {
            summary: 'Unexplained mass denials from Stint ({{ $labels.job }})',
            description: 'Denied exchanges over the last 10 minutes run above 1/s and more than 5 times their rate over the 6 hours before, with no policy reload in the last hour to explain them: an attack with stolen or forged identities, or workloads that lost their rule.',
            runbook_url: runbook('StintDenialSurge'),
          },
        },
        {
          alert: 'StintAuditWriteFailures',
          expr: `sum by (${BY}, type) (increase(stint_audit_write_failures_total[${d(300)}])) > 0`,
          for: d(0),
          labels: { severity: 'page' },
          annotations: {
            summary: 'Stint cannot write audit events ({{ $labels.type }}, {{ $labels.job }})',
            description: 'Audit events of type {{ $labels.type }} failed to reach the store in the last 5 minutes. Issuance fails closed (no credential leaves without its event), so exchanges are failing too; decisions are going unrecorded.',
            runbook_url: runbook('StintAuditWriteFailures'),
          },
        },
        {
          alert: 'StintBreakGlassUsed',
          expr: `sum by (${BY}, event) (increase(stint_break_glass_total{event=~"requested|released"}[${d(600)}])) > 0`,
          for: d(0),
          labels: { severity: 'page' },
          annotations: {
            summary: 'Break-glass {{ $labels.event }} on Stint ({{ $labels.job }})',
            description: 'A sealed emergency credential was {{ $labels.event }} in the last 10 minutes. Every use of break-glass pages, so that it is seen, reviewed and its cause fixed; the audit trail (breakglass.* events) names the requester, the approvers, the ticket and the grant.',
            runbook_url: runbook('StintBreakGlassUsed'),
          },
        },
        {
          alert: 'StintIssuerKeysStale',
          expr: `(sum by (${BY}, attestor) (increase(stint_jwks_fetch_total{outcome="error"}[${p('issuerKeysStaleWindow')}])) > 0)\nunless on (${BY}, attestor)\n(sum by (${BY}, attestor) (increase(stint_jwks_fetch_total{outcome="ok"}[${p('issuerKeysStaleWindow')}])) > 0)`,
          for: d(300),
          labels: { severity: 'page' },
          annotations: {
            summary: 'Keys of issuer {{ $labels.attestor }} cannot be fetched ({{ $labels.job }})',
            description: 'Every discovery/JWKS fetch of attestor {{ $labels.attestor }} failed and none succeeded for longer than its stale window: its cached keys have expired and its workloads cannot exchange (ERR_ISSUER_UNAVAILABLE).',
            runbook_url: runbook('StintIssuerKeysStale'),
          },
        },
        {
          alert: 'StintSigningKeySuccessorMissing',
          expr: `(stint_signing_key_rotation_timestamp_seconds - time() < ${p('signingKeySuccessorWithin')})\nand on (${BY}, instance)\n(stint_signing_keys{state="next"} == 0)`,
          for: d(300),
          labels: { severity: 'page' },
          annotations: {
            summary: 'Stint signing key is due for rotation with no successor published ({{ $labels.instance }})',
            description: 'The current signing key of {{ $labels.job }} is due to be replaced soon and no next key is published in the JWKS. Verifiers that cache the JWKS will reject tokens signed by a key they have not seen.',
            runbook_url: runbook('StintSigningKeySuccessorMissing'),
          },
        },
        {
          alert: 'StintWebhookCertificateExpiring',
          expr: `stint_webhook_certificate_expiry_timestamp_seconds - time() < ${p('webhookCertificateDays')} * 86400`,
          for: d(600),
          labels: { severity: 'page' },
          annotations: {
            summary: 'Stint admission webhook certificate expires soon ({{ $labels.instance }})',
            description: "The serving certificate of Stint's sidecar-injection webhook expires within the configured days. Once it has expired the API server cannot call the webhook and, with failurePolicy Fail, annotated pods are not created.",
            runbook_url: runbook('StintWebhookCertificateExpiring'),
          },
        },
      ],
    },
    {
      name: 'stint-ticket',
      interval: d(60),
      rules: [
        {
          alert: 'StintGrantsStuck',
          expr: `max by (${BY}) (stint_grants_stuck) > 0`,
          for: d(1800),
          labels: { severity: 'ticket' },
          annotations: {
            summary: 'Stint grants whose upstream cleanup keeps failing ({{ $labels.job }})',
            description: 'Some expired or revoked grants could not be cleaned up upstream after repeated attempts (stint grants list --stuck); their upstream objects may still work.',
            runbook_url: runbook('StintGrantsStuck'),
          },
        },
        {
          alert: 'StintReconcileErrors',
          expr: `sum by (${BY}, provider) (increase(stint_reconcile_errors_total[${d(3600)}])) > 0`,
          for: d(900),
          labels: { severity: 'ticket' },
          annotations: {
            summary: 'Stint reconciliation failing for provider {{ $labels.provider }} ({{ $labels.job }})',
            description: 'Reconciliation passes of provider {{ $labels.provider }} failed within the last hour: upstream objects that no live grant accounts for are not being removed.',
            runbook_url: runbook('StintReconcileErrors'),
          },
        },
        {
          alert: 'StintClockSkew',
          expr: `max by (${BY}, instance) (abs(stint_clock_skew_seconds)) > 30`,
          for: d(600),
          labels: { severity: 'ticket' },
          annotations: {
            summary: 'Stint replica {{ $labels.instance }} clock differs from the database by over 30 s ({{ $labels.job }})',
            description: 'This replica measures its clock more than 30 seconds away from the PostgreSQL store\'s clock. Its reaper holds back by the lead (no early reaping), but timed quarantines end early or late by the skew and its JWTs carry skewed iat/nbf/exp; fix the host\'s time sync.',
            runbook_url: runbook('StintClockSkew'),
          },
        },
        {
          alert: 'StintShadowDisagreementsRising',
          expr: `sum by (${BY}) (rate(stint_policy_shadow_disagreements_total[${d(3600)}])) / sum by (${BY}) (rate(stint_policy_shadow_decisions_total[${d(3600)}])) > 0.05`,
          for: d(1800),
          labels: { severity: 'ticket' },
          annotations: {
            summary: 'Shadow policy disagrees with the enforced one on over 5% of requests ({{ $labels.job }})',
            description: 'Over the last hour the shadow policy decided differently on more than 5% of live requests. Promoting it as it is would change that many outcomes.',
            runbook_url: runbook('StintShadowDisagreementsRising'),
          },
        },
        {
          alert: 'StintPolicyStale',
          expr: `max by (${BY}) (stint_policy_stale) == 1`,
          for: d(900),
          labels: { severity: 'ticket' },
          annotations: {
            summary: 'Stint serves a stale policy: the file on disk does not load ({{ $labels.job }})',
            description: 'The policy file changed and failed to load; the last good policy keeps serving and /readyz reports stale.',
            runbook_url: runbook('StintPolicyStale'),
          },
        },
        {
          alert: 'StintSidecarCredentialsNearExpiry',
          expr: `count by (namespace, credential) (\n  (stint_sidecar_credential_expiry_seconds / stint_sidecar_credential_lifetime_seconds < 0.15)\n  or\n  (stint_sidecar_credential_ready == 0)\n) > 0`,
          for: d(600),
          labels: { severity: 'ticket' },
          annotations: {
            summary: 'Sidecars hold credential {{ $labels.credential }} close to or past expiry ({{ $labels.namespace }})',
            description: 'In namespace {{ $labels.namespace }}, sidecars serve credential {{ $labels.credential }} with under 15% of its lifetime left, or none at all: renewals (due at two thirds of the lifetime) keep failing.',
            runbook_url: runbook('StintSidecarCredentialsNearExpiry'),
          },
        },
      ],
    },
  ];
}

/** Every alert, by name. */
export function alerts(o: RuleOptions = { timeScale: 1 }): AlertRule[] {
  return ruleGroups(o).flatMap((g) => g.rules.filter((r): r is AlertRule => 'alert' in r));
}
