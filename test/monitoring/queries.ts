/** The dashboards' queries and the metrics they name, shared by the dashboard and end-to-end tests. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARDS } from '../../monitoring/src/dashboards.js';
import type { Dashboard, Panel } from '../../monitoring/src/grafana.js';
import { ROOT } from '../support/programs.js';

/** The shipped dashboard files (monitoring/grafana/), parsed. */
export function loadDashboards(): { file: string; json: Dashboard }[] {
  return DASHBOARDS.map((d) => ({ file: d.file, json: JSON.parse(readFileSync(join(ROOT, 'monitoring/grafana', d.file), 'utf8')) as Dashboard }));
}

/** Every panel of a dashboard, rows' nested panels included. */
export function panelsOf(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every query of every dashboard, with its dashboard and panel. */
export function dashboardQueries(): { dashboard: string; panel: string; expr: string }[] {
  return loadDashboards().flatMap((d) => panelsOf(d.json).flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard: d.json.uid, panel: p.title, expr: t.expr }))));
}

/** Raw metric names (stint_...) an expression reads. */
export function metricsIn(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(stint_[a-z0-9_]+)\b/g)].map((m) => m[1]!))];
}
