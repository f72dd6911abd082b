/**
 * Scenario (slo-alerts-against-a-real-prometheus): a real Prometheus (Debian's package) scrapes a
 * real `stint serve` and a real `stint-sidecar` every second and evaluates the rules generated
 * from monitoring/src with windows divided by 60 (1h → 60s, 5m → 5s). Bounded load: allowed
 * exchanges (Stint JWTs and AWS STS sessions from a local STS), policy denials, tokens signed with
 * an unknown key, a shadow policy that disagrees, an upstream refusal, an Admin revocation, a
 * policy reload, short grants the reaper expires, and the sidecar renewing. Then one fault: the
 * subject-token issuer's JWKS goes down and its keys outlive their short stale window. Through
 * Prometheus' HTTP API: the issuance-failure alert goes pending or firing, every rule evaluates
 * without error, every dashboard query returns data, and every metric the dashboards and rules
 * name is on the real /metrics pages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rulesYaml } from '../../monitoring/src/generate.js';
import { PARAMS } from '../../monitoring/src/params.js';
import { ruleGroups, type RecordingRule } from '../../monitoring/src/rules.js';
import { FakeSts } from '../support/fake_sts.js';
import { freePort } from '../support/ports.js';
import { freeListenPorts, runStint, startStintProgram, type StintProgram } from '../support/stint_under_test.js';
import { TestIssuer, type TestKey } from '../support/test_issuer.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';
import { eventually, get, startSidecar, type RunningSidecar } from '../sidecar/harness.js';
import { dashboardQueries, metricsIn } from './queries.js';

const AUDIENCE = 'stint-monitoring';
const API = 'https://api.example.com';
/** Windows, `for` and intervals of the rules are divided by this. */
const TIME_SCALE = 60;

/**
 * Metrics this scenario cannot produce yet, and why. A dashboard query that reads one of them may
 * come back empty; every other query must return data. Remove an entry once its wiring lands.
 */
const MAY_BE_EMPTY: Readonly<Record<string, string>> = {
  stint_audit_events_total: 'awaits wiring: src/service.ts passes metrics to new Auditor(...)',
  stint_audit_write_failures_total: 'awaits wiring: src/service.ts passes metrics to new Auditor(...)',
  stint_issued_credentials_total: 'awaits wiring: src/pipeline/exchange.ts counts issued credentials by TTL source',
  stint_signing_key_rotation_timestamp_seconds: 'awaits wiring: src/service.ts refreshGauges sets it from keyring.rotationDueAt()',
  stint_store_operation_duration_seconds: 'awaits wiring: src/service.ts wraps the store with instrumentStore',
  stint_reconcile_removed_total: 'needs a provider that lists upstream objects (vault, gcp, postgres, kubernetes-rolebinding)',
  stint_reconcile_errors_total: 'needs a provider that lists upstream objects (vault, gcp, postgres, kubernetes-rolebinding)',
};

/** Metrics a service on SQLite (this scenario) does not expose, and why; the unit test of dashboards.test.ts covers their names. */
const NOT_ON_SQLITE: Readonly<Record<string, string>> = {
  stint_clock_skew_seconds: 'measured against the database clock of a PostgreSQL store only',
};

let dir: string;
let k8s: TestIssuer;
let sts: FakeSts;
let stint: StintProgram;
let sidecar: RunningSidecar;
let prometheus: ChildProcess;
let promLog = '';
let stintUrl: string;
let opsUrl: string;
let promUrl: string;
let adminArgs: string[];
let deployRole: string;
let missingRole: string;
let unknownKey: TestKey;
let loadRunning = true;
let loadDone: Promise<void> = Promise.resolve();
const seen = { allow: 0, deny: 0, error: 0 };

function policy(deploy: string, missing: string, payments: string): string {
  return `version: 1
defaults:
  ttlOverMax: cap
rules:
  - name: payments-api
    match:
      attestor: kubernetes
      issuer: ${k8s.issuer}
      claims: { namespace: payments, service_account: { glob: "${payments}" } }
    allow:
      - kind: stint-jwt
        audiences: [${API}]
        ttl: { default: 2s, max: 30m }
      - kind: aws-sts
        targets: [${deploy}, ${missing}]
        ttl: { default: 15m, max: 1h }
  - name: apps-sidecar
    match:
      attestor: kubernetes
      issuer: ${k8s.issuer}
      claims: { namespace: apps }
    allow:
      - kind: stint-jwt
        audiences: [${API}]
        ttl: { default: 3s, max: 1h }
`;
}

async function exchange(fields: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${stintUrl}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', ...fields }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** One round of mixed traffic. */
async function round(i: number): Promise<void> {
  const sa = i % 2 === 0 ? 'api-a1' : 'api-b1';
  const requests: Promise<{ status: number }>[] = [
    // Allowed (the shadow policy denies api-b*: a disagreement every other round).
    exchange({ subject_token: await k8s.mintKubernetes({ namespace: 'payments', serviceAccount: sa, audience: AUDIENCE }), audience: API }),
    // Denied by policy: no rule for this namespace.
    exchange({ subject_token: await k8s.mintKubernetes({ namespace: 'billing', serviceAccount: 'api-x', audience: AUDIENCE }), audience: API }),
  ];
  if (i % 3 === 0) requests.push(exchange({ subject_token: await k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a2', audience: AUDIENCE, key: unknownKey }), audience: API }));
  if (i % 4 === 0) requests.push(exchange({ subject_token: await k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a3', audience: AUDIENCE }), credential_kind: 'aws-sts', resource: i % 8 === 0 ? missingRole : deployRole }));
  for (const r of await Promise.all(requests)) {
    if (r.status === 200) seen.allow++;
    else if (r.status === 400 || r.status === 403) seen.deny++;
    else seen.error++;
  }
}

/** Paced load until stopped: about ten rounds a second. */
async function runLoad(): Promise<void> {
  for (let i = 0; loadRunning; i++) {
    await round(i).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function promApi<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${promUrl}/api/v1/${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
  return body.data;
}

const query = (expr: string): Promise<{ resultType: string; result: unknown[] }> => promApi('query', { query: expr });
const sumOf = async (expr: string): Promise<number> => {
  const r = (await query(`sum(${expr})`)).result as { value: [number, string] }[];
  return r.length ? Number(r[0]!.value[1]) : 0;
};

/** Raw metrics a query depends on, through the recording rules it reads. */
function dependencies(expr: string): string[] {
  const records = new Map<string, string[]>();
  for (const g of ruleGroups({ timeScale: 1 })) {
    for (const r of g.rules.filter((x): x is RecordingRule => 'record' in x)) records.set(r.record, [...(records.get(r.record) ?? []), r.expr]);
  }
  const out = new Set(metricsIn(expr));
  for (const m of expr.matchAll(/\b(stint:[a-z0-9_:]+)/g)) for (const e of records.get(m[1]!) ?? []) for (const d of dependencies(e)) out.add(d);
  return [...out];
}

beforeAll(async () => {
  k8s = await TestIssuer.start();
  unknownKey = k8s.unpublishedKey();
  const ports = await freeListenPorts();
  const [ops, prom] = [await freePort(), await freePort()];
  stintUrl = `http://127.0.0.1:${ports.http}`;
  opsUrl = `http://127.0.0.1:${ops}`;
  promUrl = `http://127.0.0.1:${prom}`;
  sts = await FakeSts.start({ trustedIssuer: stintUrl });
  deployRole = sts.roleArn('payments-deploy');
  missingRole = sts.roleArn('not-in-aws');
  sts.addRole({ arn: deployRole, maxSessionDuration: 3600 });

  stint = await startStintProgram({
    prefix: 'stint-monitoring-e2e-',
    audience: AUDIENCE,
    trustDomain: 'monitoring.test',
    ports,
    policy: policy(deployRole, missingRole, 'api-*'),
    policySettings: { shadowFile: './shadow.yaml' },
    secretFiles: { 'shadow.yaml': policy(deployRole, missingRole, 'api-a*') },
    maxTtl: '1h',
    attestors: [{ kind: 'kubernetes', name: 'cluster', issuer: k8s.issuer, maxLifetime: '2h', staleKeysFor: '4s', refetchCooldown: '1s', fetchTimeout: '1s' }],
    admins: [{ name: 'monitoring-e2e' }],
    extra: { reaper: { interval: '1s' }, providers: { aws: { region: 'eu-west-1', endpoint: sts.url, maxAttempts: 1, timeout: '3s' } } },
    alsoClose: [sts, k8s],
  });
  dir = stint.dir;
  adminArgs = ['--admin', stint.adminAddr, '--admin-token-file', stint.adminTokenFile];

  writeFileSync(join(dir, 'subject.jwt'), await k8s.mintKubernetes({ namespace: 'apps', serviceAccount: 'app', audience: AUDIENCE }), { mode: 0o600 });
  const sidecarConfig = writeSidecarConfig(join(dir, 'sidecar.yaml'), baseConfig(stintUrl, join(dir, 'subject.jwt'), ops, [{ name: 'api', audience: API, ttl: '3s', outputs: [{ type: 'file', path: join(dir, 'api.jwt') }] }]));
  sidecar = startSidecar(['--config', sidecarConfig]);
  await sidecar.waitFor(/credential issued/);

  const rulesFile = join(dir, 'rules.yml');
  writeFileSync(rulesFile, rulesYaml({ timeScale: TIME_SCALE }, (n) => (n === 'issuerKeysStaleWindow' ? '60s' : PARAMS[n].default)));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: [rulesFile],
      scrape_configs: [
        { job_name: 'stint', static_configs: [{ targets: [`127.0.0.1:${ports.http}`] }] },
        { job_name: 'stint-sidecar', static_configs: [{ targets: [`127.0.0.1:${ops}`] }] },
      ],
    }),
  );
  prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${prom}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
  prometheus.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
  const spawned = await new Promise<Error | null>((r) => {
    prometheus.once('spawn', () => r(null));
    prometheus.once('error', (e) => r(e));
  });
  if (spawned) throw new Error(`cannot start prometheus (${spawned.message}): run scripts/ensure-prometheus.sh (npm test does)`);
  await eventually(async () => (await get(`${promUrl}/-/ready`)).status === 200, 20_000, 100).catch((e: Error) => {
    throw new Error(`${e.message}\nprometheus log:\n${promLog.slice(-3000)}`);
  });
  loadDone = runLoad();
}, 90_000);

afterAll(async () => {
  loadRunning = false;
  await loadDone;
  prometheus?.kill('SIGTERM');
  await sidecar?.stop();
  await stint?.close();
}, 30_000);

describe('monitoring against a real Prometheus', () => {
  it('scrapes healthy traffic: grants, denials, rejected tokens, shadow disagreements, renewals, expiries, a revocation and a reload', async () => {
    // A grant to revoke, and a policy reload (the file changes; the watcher reloads it).
    const issued = await exchange({ subject_token: await k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-revoked', audience: AUDIENCE }), audience: API, ttl_seconds: '600' });
    expect(issued.status).toBe(200);
    const revoke = await runStint(['revoke', String(issued.body['grant_id']), '--reason', 'monitoring e2e', ...adminArgs]);
    expect(revoke.code, revoke.stderr).toBe(0);
    writeFileSync(join(dir, 'policy.yaml'), `${policy(deployRole, missingRole, 'api-*')}# reloaded\n`);

    await eventually(async () => {
      const [allow, deny, rejected, shadow, renewals, reaps, revocations, reloads, upstreamErrors] = await Promise.all([
        sumOf('stint_exchanges_total{outcome="allow"}'),
        sumOf('stint_exchanges_total{outcome="deny"}'),
        sumOf('stint_exchanges_total{reason="ERR_TOKEN_KEY_NOT_FOUND"}'),
        sumOf('stint_policy_shadow_disagreements_total'),
        sumOf('stint_sidecar_renewals_total'),
        sumOf('stint_reaps_total'),
        sumOf('stint_revocations_total{result="ok"}'),
        sumOf('stint_policy_reloads_total{result=~"ok|unchanged"}'),
        sumOf('stint_upstream_errors_total'),
      ]);
      return allow > 10 && deny > 10 && rejected > 0 && shadow > 0 && renewals >= 2 && reaps > 0 && revocations > 0 && reloads > 0 && upstreamErrors > 0;
    }, 45_000, 500);
    expect(seen.allow).toBeGreaterThan(0);
    expect(seen.deny).toBeGreaterThan(0);
  }, 60_000);

  it("fires the issuance-failure alert when the subject-token issuer's JWKS goes down past the stale window", async () => {
    k8s.fail('http-500');
    const alert = await eventually(async () => {
      const { alerts } = await promApi<{ alerts: { labels: Record<string, string>; state: string }[] }>('alerts');
      return alerts.find((a) => a.labels['alertname'] === 'StintIssuanceErrorBudgetBurn' && (a.state === 'pending' || a.state === 'firing'));
    }, 45_000, 500);
    expect(alert.labels).toMatchObject({ job: 'stint', slo: 'availability', severity: 'page' });
    expect(await sumOf('stint_exchanges_total{reason="ERR_ISSUER_UNAVAILABLE"}')).toBeGreaterThan(0);
  }, 60_000);

  it('sees sidecar renewals fail while its workload has no rule, and recover', async () => {
    k8s.recover();
    const subject = (namespace: string): Promise<string> => k8s.mintKubernetes({ namespace, serviceAccount: 'app', audience: AUDIENCE });
    writeFileSync(join(dir, 'subject.jwt'), await subject('billing'), { mode: 0o600 });
    await eventually(() => sumOf('stint_sidecar_renewal_failures_total'), 20_000, 250).catch((e: Error) => {
      throw new Error(`${e.message}\nsidecar log:\n${sidecar.stdout().slice(-3000)}`);
    });
    // Two scrapes of the failure counter, so rate() and increase() over a dashboard window have it.
    await eventually(() => query('increase(stint_sidecar_renewal_failures_total[5s])').then((r) => r.result.length > 0), 20_000, 250);
    writeFileSync(join(dir, 'subject.jwt'), await subject('apps'), { mode: 0o600 });
    await eventually(() => query('stint_sidecar_credential_expiry_seconds / stint_sidecar_credential_lifetime_seconds').then((r) => r.result.length > 0), 20_000, 250);
  }, 60_000);

  it('evaluates every rule without error', async () => {
    type Rules = { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
    const expected = ruleGroups({ timeScale: TIME_SCALE }).reduce((n, g) => n + g.rules.length, 0);
    const { groups } = await eventually(async () => {
      const r = await promApi<Rules>('rules');
      const all = r.groups.flatMap((g) => g.rules);
      return all.length === expected && all.every((x) => x.health !== 'unknown') ? r : null;
    }, 20_000, 500);
    const bad = groups.flatMap((g) => g.rules.filter((r) => r.health !== 'ok').map((r) => `${g.name}/${r.name}: ${r.health} ${r.lastError ?? ''}`));
    expect(bad).toEqual([]);
  }, 30_000);

  it('returns data for every dashboard query', async () => {
    const pending = new Map<string, string>();
    for (const q of dashboardQueries()) {
      const expr = q.expr.replaceAll('$__rate_interval', '5s').replace(/"\$\w+"/g, '".*"');
      const exempt = dependencies(q.expr).some((m) => m in MAY_BE_EMPTY || m.replace(/_(bucket|sum|count)$/, '') in MAY_BE_EMPTY);
      if (!exempt) pending.set(expr, `${q.dashboard} / ${q.panel}: ${expr}`);
    }
    // Recorded series appear at their group's next evaluation: wait for each query to return data
    // (a loaded machine delays scrapes and rule evaluations), then name those that never did.
    const deadline = Date.now() + 20_000;
    while (pending.size > 0 && Date.now() < deadline) {
      for (const expr of [...pending.keys()]) {
        if ((await query(expr)).result.length > 0) pending.delete(expr);
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect([...pending.values()]).toEqual([]);
  }, 40_000);

  it("names only metrics that the real service's and sidecar's /metrics expose", async () => {
    const pages = `${(await get(`${stintUrl}/metrics`)).text}\n${(await get(`${opsUrl}/metrics`)).text}`;
    const families = new Set([...pages.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const named = new Set([...dashboardQueries().flatMap((q) => metricsIn(q.expr)), ...ruleGroups({ timeScale: 1 }).flatMap((g) => g.rules.flatMap((r) => metricsIn(r.expr)))]);
    const missing = [...named].filter((m) => !(m in NOT_ON_SQLITE) && !families.has(m) && !families.has(m.replace(/_(bucket|sum|count)$/, '')));
    expect(missing).toEqual([]);
  });
});
