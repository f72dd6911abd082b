/**
 * The tunable numbers of Stint's SLOs and alerts, each with its default and the chart value that
 * overrides it. The rule source inserts a parameter as a token: the plain rule file gets the
 * default, the chart's PrometheusRule gets a Helm expression reading `.Values.monitoring...`.
 */

/** One tunable: its default as PromQL/duration text and its path under the chart's values. */
export interface Param {
  readonly default: string;
  /** Path below `.Values` (e.g. `monitoring.slo.availability.objective`). */
  readonly values: string;
  /** What it means, for docs and values.yaml. */
  readonly help: string;
}

/** Every tunable of the rules. */
export const PARAMS = {
  availabilityObjective: {
    default: '99.9',
    values: 'monitoring.slo.availability.objective',
    help: 'Percent of exchanges that must not fail for a server-side reason (denials and bad requests are not failures), over 30 days.',
  },
  latencyObjective: {
    default: '99',
    values: 'monitoring.slo.latency.objective',
    help: 'Percent of allowed exchanges that must complete within latency.thresholdSeconds, over 30 days.',
  },
  latencyThreshold: {
    default: '0.25',
    values: 'monitoring.slo.latency.thresholdSeconds',
    help: 'Latency threshold in seconds; must be a bucket boundary of stint_exchange_duration_seconds (0.05, 0.1, 0.25, 0.5, 1, 2.5).',
  },
  runbookBaseUrl: {
    default: 'https://github.com/stint-dev/stint/blob/main/docs/runbooks',
    values: 'monitoring.alerts.runbookBaseUrl',
    help: 'Base URL of docs/runbooks/; each alert links <base>/<AlertName>.md as runbook_url.',
  },
  issuerKeysStaleWindow: {
    default: '1h',
    values: 'monitoring.alerts.issuerKeysStaleWindow',
    help: "An attestor's staleKeysFor: pages when an issuer's keys failed to refresh and none was fetched for this long.",
  },
  signingKeySuccessorWithin: {
    default: '1800',
    values: 'monitoring.alerts.signingKeySuccessorWithinSeconds',
    help: 'Pages when the current signing key is due for rotation within this many seconds and no successor is published (half of signing.prepublish).',
  },
  webhookCertificateDays: {
    default: '7',
    values: 'monitoring.alerts.webhookCertificateDays',
    help: "Pages when the admission webhook's serving certificate expires within this many days.",
  },
} as const satisfies Record<string, Param>;

/** Name of a tunable. */
export type ParamName = keyof typeof PARAMS;

/** The token standing for a parameter in generated rule text, replaced per target. */
export function token(name: ParamName): string {
  return `__STINT_PARAM_${name}__`;
}

/** Replace every parameter token in `text` with `value(name)`. */
export function substitute(text: string, value: (name: ParamName) => string): string {
  return text.replace(/__STINT_PARAM_([A-Za-z]+)__/g, (_, name: string) => {
    if (!(name in PARAMS)) throw new Error(`unknown parameter ${name}`);
    return value(name as ParamName);
  });
}
