/**
 * One source of truth: every shipped rule, test and dashboard file is exactly what
 * monitoring/src renders (rewrite them with `npm run monitoring:generate`), the chart's
 * PrometheusRule renders to the plain rule file under the chart's default values, and the
 * chart's dashboard copies are the plain ones.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../../monitoring/src/generate.js';
import { PARAMS } from '../../monitoring/src/params.js';
import { ROOT } from '../support/programs.js';

const WRITE = process.env['STINT_MONITORING_WRITE'] === '1';
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const values = parse(read('charts/stint/values.yaml')) as Record<string, unknown>;

/** A value of values.yaml by dotted path, printed as Helm prints a scalar. */
function valueAt(path: string): string {
  let node: unknown = values;
  for (const key of path.split('.')) node = (node as Record<string, unknown> | undefined)?.[key];
  if (node === undefined || node === null || typeof node === 'object') throw new Error(`values.yaml has no scalar at ${path}`);
  return String(node);
}

/** Render the subset of Helm the generated PrometheusRule uses: `.Values` scalars and escaped Prometheus actions. */
function renderSpec(template: string): unknown {
  const spec = template.slice(template.indexOf('\nspec:\n') + 1, template.lastIndexOf('{{- end }}'));
  const rendered = spec.replace(/\{\{`(.*?)`\}\}/g, '$1').replace(/\{\{ \.Values\.([A-Za-z0-9_.]+) \}\}/g, (_, path: string) => valueAt(path));
  expect(rendered).not.toMatch(/\.Values/);
  return (parse(rendered) as { spec: unknown }).spec;
}

describe('generated monitoring files', () => {
  const files = generatedFiles();
  if (WRITE) {
    for (const f of files) {
      mkdirSync(dirname(join(ROOT, f.path)), { recursive: true });
      writeFileSync(join(ROOT, f.path), f.content);
    }
  }

  it.each(files.map((f) => f.path))('%s is what monitoring/src renders (npm run monitoring:generate)', (path) => {
    expect(read(path)).toBe(files.find((f) => f.path === path)!.content);
  });

  it('the chart PrometheusRule under default values is the plain rule file', () => {
    const plain = parse(read('monitoring/prometheus/stint.rules.yml')) as { groups: unknown[] };
    expect(renderSpec(read('charts/stint/templates/prometheusrule.yaml'))).toEqual({ groups: plain.groups });
  });

  it("every parameter's default is the chart's default value", () => {
    for (const p of Object.values(PARAMS)) expect(valueAt(p.values), p.values).toBe(p.default);
  });

  it('the chart dashboards are the plain dashboards', () => {
    for (const f of ['stint-oncall.json', 'stint-executive.json', 'stint-debug.json']) {
      expect(read(`charts/stint/dashboards/${f}`)).toBe(read(`monitoring/grafana/${f}`));
    }
  });

  it('the monitoring sources type-check (they are outside the main tsconfig)', () => {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'monitoring/tsconfig.json')], { stdio: 'pipe' });
  }, 120_000);
});
