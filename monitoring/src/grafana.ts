/**
 * A small typed model of Grafana dashboard JSON (schemaVersion 39, importable by Grafana 10 and
 * 11) and helpers that lay panels out on the 24-column grid. Every panel and query reads the
 * Prometheus data source chosen in the `datasource` variable.
 */

/** The data source reference every panel and query uses. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** One PromQL query of a panel. */
export interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat: string;
  readonly datasource: typeof DATASOURCE;
  readonly format?: 'time_series' | 'heatmap';
  readonly instant?: boolean;
  readonly range?: boolean;
}

/** A panel's place on the grid. */
export interface GridPos {
  readonly h: number;
  readonly w: number;
  readonly x: number;
  readonly y: number;
}

/** A dashboard panel (rows included). */
export interface Panel {
  readonly id: number;
  readonly type: 'timeseries' | 'stat' | 'heatmap' | 'row';
  readonly title: string;
  readonly description?: string;
  readonly gridPos: GridPos;
  readonly datasource?: typeof DATASOURCE;
  readonly targets?: readonly Target[];
  readonly fieldConfig?: { readonly defaults: Record<string, unknown>; readonly overrides: readonly unknown[] };
  readonly options?: Record<string, unknown>;
  readonly collapsed?: boolean;
  readonly panels?: readonly Panel[];
}

/** A template variable. */
export interface Variable {
  readonly name: string;
  readonly label: string;
  readonly type: 'datasource' | 'query';
  readonly query: string | { readonly query: string; readonly refId: string };
  readonly datasource?: typeof DATASOURCE;
  readonly definition?: string;
  readonly includeAll?: boolean;
  readonly multi?: boolean;
  readonly allValue?: string;
  readonly refresh?: number;
  readonly current: Record<string, unknown>;
  readonly hide: number;
  readonly options: readonly unknown[];
  readonly regex?: string;
  readonly sort?: number;
}

/** A whole dashboard. */
export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly timezone: string;
  readonly editable: boolean;
  readonly graphTooltip: number;
  readonly schemaVersion: number;
  readonly version: number;
  readonly refresh: string;
  readonly time: { readonly from: string; readonly to: string };
  readonly templating: { readonly list: readonly Variable[] };
  readonly annotations: { readonly list: readonly unknown[] };
  readonly links: readonly unknown[];
  readonly panels: readonly Panel[];
}

/** What a panel shows, before layout. */
export interface PanelSpec {
  readonly type: 'timeseries' | 'stat' | 'heatmap';
  readonly title: string;
  readonly description: string;
  readonly queries: readonly { readonly expr: string; readonly legend?: string }[];
  readonly unit?: string;
  /** Width in grid columns (default 8). */
  readonly w?: number;
  readonly h?: number;
  readonly min?: number;
  readonly max?: number;
  /** Threshold steps (value, color), base step green. */
  readonly thresholds?: readonly (readonly [number, string])[];
}

/** A titled row of panels. */
export interface RowSpec {
  readonly row: string;
  readonly panels: readonly PanelSpec[];
}

/** The `datasource` variable plus one `job` variable per (name, metric) pair. */
export function variables(jobs: readonly { name: string; label: string; metric: string }[]): Variable[] {
  return [
    { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, options: [], refresh: 1, regex: '' },
    ...jobs.map((j) => ({
      name: j.name,
      label: j.label,
      type: 'query' as const,
      datasource: DATASOURCE,
      query: { query: `label_values(${j.metric}, job)`, refId: `${j.name}-values` },
      definition: `label_values(${j.metric}, job)`,
      includeAll: true,
      multi: true,
      allValue: '.*',
      refresh: 2,
      sort: 1,
      current: { selected: true, text: ['All'], value: ['$__all'] },
      hide: 0,
      options: [],
      regex: '',
    })),
  ];
}

function panel(spec: PanelSpec, id: number, gridPos: GridPos): Panel {
  const steps = [{ color: 'green', value: null }, ...(spec.thresholds ?? []).map(([value, color]) => ({ color, value }))];
  const defaults: Record<string, unknown> = {
    unit: spec.unit ?? 'short',
    thresholds: { mode: 'absolute', steps },
    ...(spec.min !== undefined ? { min: spec.min } : {}),
    ...(spec.max !== undefined ? { max: spec.max } : {}),
  };
  if (spec.type === 'timeseries') defaults['custom'] = { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: false, thresholdsStyle: { mode: spec.thresholds ? 'line' : 'off' } };
  const options: Record<string, unknown> =
    spec.type === 'stat'
      ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', justifyMode: 'auto', orientation: 'auto', textMode: 'auto' }
      : spec.type === 'heatmap'
        ? { calculate: false, yAxis: { unit: spec.unit ?? 's' }, cellGap: 1, color: { mode: 'scheme', scheme: 'Oranges', steps: 64 }, tooltip: { mode: 'single', yHistogram: true }, legend: { show: true } }
        : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } };
  return {
    id,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    gridPos,
    datasource: DATASOURCE,
    targets: spec.queries.map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      expr: q.expr,
      legendFormat: q.legend ?? '__auto',
      datasource: DATASOURCE,
      ...(spec.type === 'heatmap' ? { format: 'heatmap' as const } : {}),
      ...(spec.type === 'stat' ? { instant: true, range: false } : { range: true }),
    })),
    fieldConfig: { defaults, overrides: [] },
    options,
  };
}

/** Lay rows out top to bottom, panels left to right, wrapping at 24 columns. */
export function layout(rows: readonly RowSpec[]): Panel[] {
  const out: Panel[] = [];
  let id = 1;
  let y = 0;
  for (const r of rows) {
    out.push({ id: id++, type: 'row', title: r.row, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const spec of r.panels) {
      const w = spec.w ?? 8;
      const h = spec.h ?? 8;
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      out.push(panel(spec, id++, { h, w, x, y }));
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  return out;
}

/** A dashboard from its identity, variables and rows. */
export function dashboard(d: { uid: string; title: string; description: string; variables: Variable[]; rows: readonly RowSpec[]; time?: string }): Dashboard {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['stint'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: d.time ?? 'now-6h', to: 'now' },
    templating: { list: d.variables },
    annotations: { list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }] },
    links: [],
    panels: layout(d.rows),
  };
}
