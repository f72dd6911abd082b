/**
 * The dashboards are well-formed Grafana JSON (unique ids and refIds, panels on the 24-column
 * grid, every panel and query on the `datasource` variable, only defined variables), their
 * queries are valid PromQL, and every metric a panel or rule names exists in what the service's
 * and the sidecar's /metrics expose: renaming a metric fails here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ruleGroups, type RecordingRule } from '../../monitoring/src/rules.js';
import { pino } from 'pino';
import { systemClock } from '../../src/clock.js';
import { ClockSkew } from '../../src/lifecycle/clock_skew.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { SidecarMetrics } from '../../sidecar/metrics.js';
import { dashboardQueries, loadDashboards, metricsIn, panelsOf } from './queries.js';

const dashboards = loadDashboards();
const GRAFANA_BUILTINS = new Set(['__rate_interval', '__interval', '__range', '__range_s']);

/** Names of metric families the service and the sidecar expose, from the code that serves /metrics. */
async function exposedFamilies(): Promise<Map<string, string>> {
  const sidecar = new SidecarMetrics(() => 1_000);
  sidecar.register('api');
  sidecar.renewed('api', 61_000);
  const metrics = new StintMetrics();
  // The skew gauge exists once a replica has measured its clock against a database (PostgreSQL stores).
  await new ClockSkew({ store: { databaseTime: async () => Date.now() }, clock: systemClock, logger: pino({ level: 'silent' }), registry: metrics.registry }).check();
  const text = `${await metrics.registry.metrics()}\n${sidecar.render(2_000)}`;
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** True when `name` is a family, or a histogram's _bucket/_sum/_count series. */
function exposes(families: Map<string, string>, name: string): boolean {
  if (families.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return !!m && (families.get(m[1]!) === 'histogram' || families.get(m[1]!) === 'summary');
}

const tmp = mkdtempSync(join(tmpdir(), 'stint-dashboards-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('dashboard JSON', () => {
  it.each(dashboards.map((d) => [d.file, d.json] as const))('%s has the shape Grafana imports', (_file, d) => {
    expect(d.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(typeof d.title).toBe('string');
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(d.time).toEqual({ from: expect.any(String), to: 'now' });
    const ds = d.templating.list.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const defined = new Set([...d.templating.list.map((v) => v.name), ...GRAFANA_BUILTINS]);
    for (const v of d.templating.list.filter((x) => x.type === 'query')) expect(v.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    const panels = panelsOf(d);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= 24, `${p.title} grid`).toBe(true);
      if (p.type === 'row') continue;
      expect(['timeseries', 'stat', 'heatmap']).toContain(p.type);
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.description, p.title).toBeTruthy();
      expect(p.targets!.length, p.title).toBeGreaterThan(0);
      expect(new Set(p.targets!.map((t) => t.refId)).size).toBe(p.targets!.length);
      for (const t of p.targets!) {
        expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        for (const m of t.expr.matchAll(/\$(\w+)/g)) expect(defined.has(m[1]!), `${p.title}: $${m[1]} is not a variable`).toBe(true);
      }
    }
  });

  it('every panel query is valid PromQL (promtool check rules on the queries as recording rules)', () => {
    const rules = dashboardQueries().map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr.replaceAll('$__rate_interval', '1m').replace(/"\$\w+"/g, '".*"') }));
    writeFileSync(join(tmp, 'queries.yml'), stringify({ groups: [{ name: 'dashboard-queries', rules }] }, { lineWidth: 0 }));
    execFileSync('promtool', ['check', 'rules', join(tmp, 'queries.yml')], { stdio: 'pipe' });
  });
});

describe('metric names', () => {
  const recorded = new Set(ruleGroups({ timeScale: 1 }).flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r).map((r) => r.record)));
  const ruleExprs = ruleGroups({ timeScale: 1 }).flatMap((g) => g.rules.map((r) => ({ name: 'record' in r ? r.record : r.alert, expr: r.expr })));

  it('every metric a panel or a rule reads is exposed by the service or the sidecar', async () => {
    const families = await exposedFamilies();
    const missing: string[] = [];
    for (const q of [...dashboardQueries().map((d) => ({ name: `${d.dashboard} / ${d.panel}`, expr: d.expr })), ...ruleExprs]) {
      for (const m of metricsIn(q.expr)) if (!exposes(families, m)) missing.push(`${q.name}: ${m}`);
    }
    expect(missing).toEqual([]);
  });

  it('every recorded series a panel or a rule reads is recorded by a rule', () => {
    const missing: string[] = [];
    for (const q of [...dashboardQueries(), ...ruleExprs.map((r) => ({ panel: r.name, expr: r.expr }))]) {
      for (const m of q.expr.matchAll(/\b(stint:[a-z0-9_:]+)/g)) if (!recorded.has(m[1]!)) missing.push(`${q.panel}: ${m[1]}`);
    }
    expect(missing).toEqual([]);
  });

  it('the check notices a renamed metric', async () => {
    const families = await exposedFamilies();
    expect(exposes(families, 'stint_exchanges_total')).toBe(true);
    expect(exposes(families, 'stint_exchange_duration_seconds_bucket')).toBe(true);
    expect(exposes(families, 'stint_exchange_total')).toBe(false);
    expect(exposes(families, 'stint_active_grants_bucket')).toBe(false);
  });
});
