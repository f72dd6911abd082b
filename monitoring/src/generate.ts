/**
 * Renders the monitoring sources into the files that ship: the plain rule file and its promtool
 * tests (monitoring/prometheus/), the chart's PrometheusRule template, and the dashboards as JSON
 * (monitoring/grafana/ and the chart's copies). test/monitoring/generated.test.ts checks every
 * file is what this renders, and rewrites them with STINT_MONITORING_WRITE=1
 * (`npm run monitoring:generate`).
 */
import { stringify } from 'yaml';
import { DASHBOARDS } from './dashboards.js';
import { PARAMS, substitute, type ParamName } from './params.js';
import { promtoolTests } from './rule_tests.js';
import { ruleGroups, type RuleOptions } from './rules.js';

/** Plain rule file name, relative to monitoring/prometheus/. */
export const RULE_FILE = 'stint.rules.yml';

const NOTICE = 'Generated from monitoring/src/ by `npm run monitoring:generate`: edit the source, not this file.';

function yaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, indent: 2 });
}

/** The rule groups as YAML, with parameters filled by `value`. */
export function rulesYaml(options: RuleOptions, value: (name: ParamName) => string): string {
  return substitute(yaml({ groups: ruleGroups(options) }), value);
}

/** The plain rule file for a Prometheus without the operator (the defaults of every parameter). */
export function plainRules(): string {
  return `# ${NOTICE}\n${rulesYaml({ timeScale: 1 }, (n) => PARAMS[n].default)}`;
}

/** The promtool unit tests of the plain rule file. */
export function plainRuleTests(): string {
  return `# ${NOTICE}\n# Run: promtool test rules monitoring/prometheus/stint.rules.test.yml\n${yaml(promtoolTests(RULE_FILE))}`;
}

/** Escape Prometheus' own template actions so that Helm prints them verbatim. */
function escapeForHelm(text: string): string {
  return text.replace(/\{\{(.*?)\}\}/g, (_, inner: string) => `{{\`{{${inner}}}\`}}`);
}

/** The chart's PrometheusRule: the same groups, parameters read from `.Values`. */
export function chartPrometheusRule(): string {
  const body = escapeForHelm(yaml({ groups: ruleGroups({ timeScale: 1 }) }));
  const spec = substitute(body, (n) => `{{ .Values.${PARAMS[n].values} }}`)
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
  return `{{- if .Values.monitoring.prometheusRule.enabled }}
# ${NOTICE}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "stint.fullname" . }}
  labels:
    {{- include "stint.labels" . | nindent 4 }}
    {{- with .Values.monitoring.prometheusRule.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
${spec}
{{- end }}
`;
}

/** Every generated file: path relative to the repository root, and content. */
export function generatedFiles(): { path: string; content: string }[] {
  const files = [
    { path: `monitoring/prometheus/${RULE_FILE}`, content: plainRules() },
    { path: 'monitoring/prometheus/stint.rules.test.yml', content: plainRuleTests() },
    { path: 'charts/stint/templates/prometheusrule.yaml', content: chartPrometheusRule() },
  ];
  for (const d of DASHBOARDS) {
    const json = `${JSON.stringify(d.build(), null, 2)}\n`;
    files.push({ path: `monitoring/grafana/${d.file}`, content: json }, { path: `charts/stint/dashboards/${d.file}`, content: json });
  }
  return files;
}
