/**
 * promtool unit tests of every alert: for each, input series that make it fire and input series
 * that keep it quiet (a burn too slow to matter, a denial wave that policy explains...). Expected
 * labels and annotations are derived from the rule source, so a reworded annotation needs no edit here.
 */
import { alerts, type AlertRule } from './rules.js';
import { PARAMS, substitute } from './params.js';

/** One input series: selector and promtool's expanding notation (`0+10x60`). */
export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

/** One alert's expected state at one time. */
interface AlertCase {
  readonly name: string;
  readonly alert: string;
  /** Minutes after the start. */
  readonly at: number;
  readonly input: readonly InputSeries[];
  /** Labels of the firing alert (beyond the rule's own), or null when it must stay quiet. */
  readonly fires: Readonly<Record<string, string>> | null;
}

const DEPLOYMENT = { namespace: 'stint', job: 'stint' };

/** A series selector from a name and labels (plus the deployment's labels). */
function s(name: string, labels: Record<string, string> = {}, own = true): string {
  const all = own ? { ...DEPLOYMENT, ...labels } : labels;
  return `${name}{${Object.entries(all).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

const exchanges = (outcome: string, reason: string, values: string): InputSeries => ({ series: s('stint_exchanges_total', { outcome, reason }), values });
const latency = (le: string, values: string): InputSeries => ({
  series: le === 'count' ? s('stint_exchange_duration_seconds_count', { attestor: 'kubernetes', credential_kind: 'stint-jwt', outcome: 'allow' }) : s('stint_exchange_duration_seconds_bucket', { attestor: 'kubernetes', credential_kind: 'stint-jwt', outcome: 'allow', le }),
  values,
});
const SLO = (slo: string): Record<string, string> => ({ ...DEPLOYMENT, slo });
/** Minutes of baseline before a surge (the surge alerts compare with the 6 hours before). */
const BASELINE = 6 * 60;

/** Every case; each alert has at least one firing and one quiet case (checked by the test suite). */
export const ALERT_CASES: readonly AlertCase[] = [
  {
    name: 'fast burn: 9% of exchanges fail with the issuer unavailable',
    alert: 'StintIssuanceErrorBudgetBurn',
    at: 65,
    input: [exchanges('allow', 'RULE_MATCHED', '0+100x70'), exchanges('error', 'ERR_ISSUER_UNAVAILABLE', '0+10x70')],
    fires: SLO('availability'),
  },
  {
    name: 'slow burn: 0.5% failures for 7h (burn 5, below both pairs)',
    alert: 'StintIssuanceErrorBudgetBurn',
    at: 420,
    input: [exchanges('allow', 'RULE_MATCHED', '0+199x430'), exchanges('error', 'ERR_UPSTREAM_UNAVAILABLE', '0+1x430')],
    fires: null,
  },
  {
    name: 'deliberate denials and rejected tokens are not failures',
    alert: 'StintIssuanceErrorBudgetBurn',
    at: 65,
    input: [exchanges('allow', 'RULE_MATCHED', '0+100x70'), exchanges('deny', 'NO_MATCHING_RULE', '0+1000x70'), exchanges('error', 'ERR_TOKEN_EXPIRED', '0+200x70')],
    fires: null,
  },
  {
    name: 'fast burn: 20% of allowed exchanges slower than the threshold',
    alert: 'StintIssuanceLatencyBudgetBurn',
    at: 65,
    input: [latency('count', '0+100x70'), latency(PARAMS.latencyThreshold.default, '0+80x70')],
    fires: SLO('latency'),
  },
  {
    name: '0.5% slow exchanges (burn 0.5)',
    alert: 'StintIssuanceLatencyBudgetBurn',
    at: 420,
    input: [latency('count', '0+200x430'), latency(PARAMS.latencyThreshold.default, '0+199x430')],
    fires: null,
  },
  {
    name: 'grants jump from 1/min to 10/s',
    alert: 'StintGrantSurge',
    at: BASELINE + 25,
    input: [exchanges('allow', 'RULE_MATCHED', `0+1x${BASELINE - 1} ${BASELINE}+600x30`)],
    fires: DEPLOYMENT,
  },
  {
    name: 'a steady 10/s of grants is the baseline, not a surge',
    alert: 'StintGrantSurge',
    at: BASELINE + 25,
    input: [exchanges('allow', 'RULE_MATCHED', `0+600x${BASELINE + 30}`)],
    fires: null,
  },
  {
    name: 'denials jump from 1/min to 10/s with no policy change',
    alert: 'StintDenialSurge',
    at: BASELINE + 25,
    input: [exchanges('deny', 'NO_MATCHING_RULE', `0+1x${BASELINE - 1} ${BASELINE}+600x30`), { series: s('stint_policy_reloads_total', { result: 'ok' }), values: `0x${BASELINE + 30}` }],
    fires: DEPLOYMENT,
  },
  {
    name: 'the same denial wave right after a policy reload is deliberate policy',
    alert: 'StintDenialSurge',
    at: BASELINE + 25,
    input: [exchanges('deny', 'NO_MATCHING_RULE', `0+1x${BASELINE - 1} ${BASELINE}+600x30`), { series: s('stint_policy_reloads_total', { result: 'ok' }), values: `0x${BASELINE - 5} 1x35` }],
    fires: null,
  },
  {
    name: 'allowed-exchange audit writes fail',
    alert: 'StintAuditWriteFailures',
    at: 5,
    input: [{ series: s('stint_audit_write_failures_total', { type: 'exchange.allowed' }), values: '0 0 0 1 2 3 4 5' }],
    fires: { ...DEPLOYMENT, type: 'exchange.allowed' },
  },
  {
    name: 'no failed audit write',
    alert: 'StintAuditWriteFailures',
    at: 5,
    input: [{ series: s('stint_audit_write_failures_total', { type: 'exchange.allowed' }), values: '0x10' }, { series: s('stint_audit_events_total', { type: 'exchange.allowed', outcome: 'allow' }), values: '0+50x10' }],
    fires: null,
  },
  {
    name: 'a break-glass credential is released',
    alert: 'StintBreakGlassUsed',
    at: 5,
    input: [{ series: s('stint_break_glass_total', { event: 'released' }), values: '0 0 0 1 1 1 1 1' }],
    fires: { ...DEPLOYMENT, event: 'released' },
  },
  {
    name: 'approvals and refusals alone do not page, nor does a release more than 10 minutes ago',
    alert: 'StintBreakGlassUsed',
    at: 30,
    input: [{ series: s('stint_break_glass_total', { event: 'released' }), values: '0 1x40' }, { series: s('stint_break_glass_total', { event: 'approved' }), values: '0+1x40' }, { series: s('stint_break_glass_total', { event: 'refused' }), values: '0+1x40' }],
    fires: null,
  },
  {
    name: 'a replica 45 s ahead of the database for 10 minutes',
    alert: 'StintClockSkew',
    at: 15,
    input: [{ series: s('stint_clock_skew_seconds', { instance: 'stint-1' }), values: '45x20' }, { series: s('stint_clock_skew_seconds', { instance: 'stint-0' }), values: '0.2x20' }],
    fires: { ...DEPLOYMENT, instance: 'stint-1' },
  },
  {
    name: 'a replica 40 s behind the database for 10 minutes',
    alert: 'StintClockSkew',
    at: 15,
    input: [{ series: s('stint_clock_skew_seconds', { instance: 'stint-2' }), values: '-40x20' }],
    fires: { ...DEPLOYMENT, instance: 'stint-2' },
  },
  {
    name: 'a replica within 30 s, or off only for 3 minutes, does not',
    alert: 'StintClockSkew',
    at: 15,
    input: [{ series: s('stint_clock_skew_seconds', { instance: 'stint-2' }), values: '-25x20' }, { series: s('stint_clock_skew_seconds', { instance: 'stint-3' }), values: '0x10 60x3 0x7' }],
    fires: null,
  },
  {
    name: 'every JWKS fetch fails and none succeeded for the stale window',
    alert: 'StintIssuerKeysStale',
    at: 90,
    input: [{ series: s('stint_jwks_fetch_total', { attestor: 'cluster', outcome: 'error' }), values: '0+1x90' }, { series: s('stint_jwks_fetch_total', { attestor: 'cluster', outcome: 'ok' }), values: '5x90' }],
    fires: { ...DEPLOYMENT, attestor: 'cluster' },
  },
  {
    name: 'intermittent fetch failures between successes keep the keys fresh',
    alert: 'StintIssuerKeysStale',
    at: 90,
    input: [{ series: s('stint_jwks_fetch_total', { attestor: 'cluster', outcome: 'error' }), values: '0+1x90' }, { series: s('stint_jwks_fetch_total', { attestor: 'cluster', outcome: 'ok' }), values: '0+1x90' }],
    fires: null,
  },
  {
    name: 'rotation due in 20 minutes with no next key',
    alert: 'StintSigningKeySuccessorMissing',
    at: 10,
    input: [{ series: s('stint_signing_key_rotation_timestamp_seconds', { instance: 'stint-0' }), values: '1800x20' }, { series: s('stint_signing_keys', { instance: 'stint-0', state: 'next' }), values: '0x20' }],
    fires: { ...DEPLOYMENT, instance: 'stint-0' },
  },
  {
    name: 'rotation due in 20 minutes with the successor published',
    alert: 'StintSigningKeySuccessorMissing',
    at: 10,
    input: [{ series: s('stint_signing_key_rotation_timestamp_seconds', { instance: 'stint-0' }), values: '1800x20' }, { series: s('stint_signing_keys', { instance: 'stint-0', state: 'next' }), values: '1x20' }],
    fires: null,
  },
  {
    name: 'webhook certificate expires tomorrow',
    alert: 'StintWebhookCertificateExpiring',
    at: 20,
    input: [{ series: s('stint_webhook_certificate_expiry_timestamp_seconds', { instance: 'stint-0' }), values: '86400x30' }],
    fires: { ...DEPLOYMENT, instance: 'stint-0' },
  },
  {
    name: 'webhook certificate good for 30 days',
    alert: 'StintWebhookCertificateExpiring',
    at: 20,
    input: [{ series: s('stint_webhook_certificate_expiry_timestamp_seconds', { instance: 'stint-0' }), values: '2592000x30' }],
    fires: null,
  },
  {
    name: 'two grants stuck for 35 minutes',
    alert: 'StintGrantsStuck',
    at: 35,
    input: [{ series: s('stint_grants_stuck', { instance: 'stint-0' }), values: '2x40' }],
    fires: DEPLOYMENT,
  },
  {
    name: 'nothing stuck',
    alert: 'StintGrantsStuck',
    at: 35,
    input: [{ series: s('stint_grants_stuck', { instance: 'stint-0' }), values: '0x40' }],
    fires: null,
  },
  {
    name: 'reconciliation of a provider fails every minute',
    alert: 'StintReconcileErrors',
    at: 20,
    input: [{ series: s('stint_reconcile_errors_total', { provider: 'kubernetes-rolebinding' }), values: '0+1x30' }],
    fires: { ...DEPLOYMENT, provider: 'kubernetes-rolebinding' },
  },
  {
    name: 'reconciliation succeeds',
    alert: 'StintReconcileErrors',
    at: 20,
    input: [{ series: s('stint_reconcile_errors_total', { provider: 'kubernetes-rolebinding' }), values: '0x30' }],
    fires: null,
  },
  {
    name: 'the shadow policy disagrees on 10% of requests',
    alert: 'StintShadowDisagreementsRising',
    at: 45,
    input: [
      { series: s('stint_policy_shadow_decisions_total', { agreement: 'agree' }), values: '0+90x60' },
      { series: s('stint_policy_shadow_decisions_total', { agreement: 'disagree' }), values: '0+10x60' },
      { series: s('stint_policy_shadow_disagreements_total', { kind: 'newly_denied' }), values: '0+10x60' },
    ],
    fires: DEPLOYMENT,
  },
  {
    name: 'the shadow policy disagrees on 1% of requests',
    alert: 'StintShadowDisagreementsRising',
    at: 45,
    input: [
      { series: s('stint_policy_shadow_decisions_total', { agreement: 'agree' }), values: '0+99x60' },
      { series: s('stint_policy_shadow_decisions_total', { agreement: 'disagree' }), values: '0+1x60' },
      { series: s('stint_policy_shadow_disagreements_total', { kind: 'newly_denied' }), values: '0+1x60' },
    ],
    fires: null,
  },
  {
    name: 'the policy file has failed to load for 20 minutes',
    alert: 'StintPolicyStale',
    at: 20,
    input: [{ series: s('stint_policy_stale', { instance: 'stint-0' }), values: '1x30' }],
    fires: DEPLOYMENT,
  },
  {
    name: 'the policy file loads',
    alert: 'StintPolicyStale',
    at: 20,
    input: [{ series: s('stint_policy_stale', { instance: 'stint-0' }), values: '0x30' }],
    fires: null,
  },
  {
    name: 'a sidecar holds a credential with 8% of its lifetime left',
    alert: 'StintSidecarCredentialsNearExpiry',
    at: 15,
    input: [
      { series: s('stint_sidecar_credential_expiry_seconds', { namespace: 'apps', pod: 'api-1', credential: 'db' }, false), values: '50x20' },
      { series: s('stint_sidecar_credential_lifetime_seconds', { namespace: 'apps', pod: 'api-1', credential: 'db' }, false), values: '600x20' },
      { series: s('stint_sidecar_credential_ready', { namespace: 'apps', pod: 'api-1', credential: 'db' }, false), values: '1x20' },
    ],
    fires: { namespace: 'apps', credential: 'db' },
  },
  {
    name: 'sidecars renewed on time (two thirds of the lifetime left)',
    alert: 'StintSidecarCredentialsNearExpiry',
    at: 15,
    input: [
      { series: s('stint_sidecar_credential_expiry_seconds', { namespace: 'apps', pod: 'api-1', credential: 'db' }, false), values: '400x20' },
      { series: s('stint_sidecar_credential_lifetime_seconds', { namespace: 'apps', pod: 'api-1', credential: 'db' }, false), values: '600x20' },
      { series: s('stint_sidecar_credential_ready', { namespace: 'apps', pod: 'api-1', credential: 'db' }, false), values: '1x20' },
    ],
    fires: null,
  },
];

/** Expand `{{ $labels.NAME }}` the way Prometheus does for the expected annotations. */
function expand(template: string, labels: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, name: string) => labels[name] ?? '');
}

/** The promtool test file (as a plain object) for the plain rule file `ruleFile`. */
export function promtoolTests(ruleFile: string): Record<string, unknown> {
  const byName = new Map(alerts().map((a) => [a.alert, a]));
  const defaults = (text: string): string => substitute(text, (n) => PARAMS[n].default);
  return {
    rule_files: [ruleFile],
    evaluation_interval: '1m',
    tests: ALERT_CASES.map((c) => {
      const rule: AlertRule | undefined = byName.get(c.alert);
      if (!rule) throw new Error(`no alert ${c.alert}`);
      const labels = c.fires ? { ...c.fires, ...rule.labels } : null;
      return {
        name: `${c.alert}: ${c.name}`,
        interval: '1m',
        input_series: c.input.map((i) => ({ series: i.series, values: i.values })),
        alert_rule_test: [
          {
            eval_time: `${c.at}m`,
            alertname: c.alert,
            exp_alerts: labels
              ? [{ exp_labels: labels, exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, expand(defaults(v), labels)])) }]
              : [],
          },
        ],
      };
    }),
  };
}
