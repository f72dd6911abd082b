/**
 * Scenario: shadow-mode policy rollout through the real `stint` program. A candidate policy runs
 * beside the enforced one on live traffic: exactly the expected disagreements are audited and
 * counted, no outcome changes; the shadow report and explain read them back over the Admin API;
 * `stint policy simulate` on the recorded audit reproduces the live decisions (zero differences)
 * for the enforced policy and reports the candidate's differences.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_AUDIENCE, AUDIENCE, e2ePolicy, startE2E, type E2E } from './harness.js';
import { runStint } from '../support/programs.js';

let env: E2E;
let shadowFile: string;

/** The candidate: payments TTL 10m -> 5m, batch rule dropped, a new staging rule; GitHub rule unchanged. */
function candidatePolicy(k8sIssuer: string, githubIssuer: string): string {
  const enforced = e2ePolicy(k8sIssuer, githubIssuer);
  const withoutBatch = enforced.replace(/ {2}- name: batch-strict-ttl[\s\S]*?(?= {2}- name: deploy-from-main)/, '');
  return `${withoutBatch.replace('ttl: { default: 10m, max: 30m }', 'ttl: { default: 5m, max: 30m }')}  - name: staging-candidate
    match:
      attestor: kubernetes
      issuer: ${k8sIssuer}
      claims:
        namespace: staging
    allow:
      - kind: stint-jwt
        audiences: [${API_AUDIENCE}]
        ttl: { default: 5m, max: 15m }
`;
}

const admin = (): string[] => ['--admin', env.adminAddr, '--admin-token-file', env.adminTokenFile];

async function exchange(namespace: string, serviceAccount = 'api-server'): Promise<{ ok: boolean; ttl?: number; rule?: string; reason?: string }> {
  const token = await env.k8s.mintKubernetes({ namespace, serviceAccount, podName: `${serviceAccount}-1`, audience: AUDIENCE });
  const res = await env.grpc.call<{ rule: string; credentials: { ttl_seconds: number }[] }>({
    subject_token: token,
    credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }],
    context: { reason: 'shadow-e2e' },
  });
  return res.ok ? { ok: true, ttl: res.value.credentials[0]?.ttl_seconds, rule: res.value.rule } : { ok: false, reason: res.reason };
}

async function metric(name: string, labels: string): Promise<number> {
  // The sum over every series of `name` whose labels include `labels` (disagreements also carry the rule).
  const text = await (await fetch(`${env.httpUrl}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.slice(name.length + 1, l.indexOf('}')).split(',').includes(labels));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

interface AuditLine { id: string; type: string; reason: string; rule: string; identity: string; request_id: string; data: Record<string, unknown> }

async function auditLines(type: string): Promise<AuditLine[]> {
  const res = await runStint(['audit', '--json', '--type', type, '--limit', '1000', ...admin()]);
  expect(res.code, res.stderr).toBe(0);
  return res.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditLine);
}

beforeAll(async () => {
  env = await startE2E();
  shadowFile = join(env.dir, 'shadow.yaml');
  writeFileSync(shadowFile, candidatePolicy(env.k8s.issuer, env.github.issuer));
  const config = readFileSync(env.configFile, 'utf8').replace('policy: { file: ./policy.yaml }', 'policy: { file: ./policy.yaml, shadowFile: ./shadow.yaml }');
  writeFileSync(env.configFile, config);
  await env.restart();
}, 90_000);

afterAll(async () => {
  await env?.close();
});

describe('live traffic with a shadow policy', () => {
  it('keeps every enforced outcome', async () => {
    for (let i = 0; i < 3; i++) expect(await exchange('payments')).toEqual({ ok: true, ttl: 600, rule: 'payments-api' });
    for (let i = 0; i < 2; i++) expect(await exchange('batch', 'worker')).toEqual({ ok: true, ttl: 300, rule: 'batch-strict-ttl' });
    expect(await exchange('staging', 'web')).toEqual({ ok: false, reason: 'NO_RULE_MATCHED' });
    expect(await exchange('other', 'x')).toEqual({ ok: false, reason: 'NO_RULE_MATCHED' });
    const gh = await env.github.mintGithub({ repository: 'acme/deployer', repositoryId: 123456, ownerId: 654321, environment: 'production', audience: AUDIENCE });
    const res = await env.grpc.call<{ rule: string }>({ subject_token: gh, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });
    expect(res.ok && res.value.rule).toBe('deploy-from-main');
  });

  it('audits exactly the expected disagreements, carrying both decisions and both rules', async () => {
    const events = await auditLines('policy.shadow_disagreement');
    const kinds = events.map((e) => e.reason).sort();
    expect(kinds).toEqual(['newly_allowed', 'newly_denied', 'newly_denied', 'ttl', 'ttl', 'ttl']);
    const ttl = events.find((e) => e.reason === 'ttl')!;
    expect(ttl.data.enforced).toMatchObject({ outcome: 'allow', rule: 'payments-api', credentials: [{ ttlSeconds: 600 }] });
    expect(ttl.data.shadow).toMatchObject({ outcome: 'allow', rule: 'payments-api', credentials: [{ ttlSeconds: 300 }] });
    const denied = events.find((e) => e.reason === 'newly_denied')!;
    expect(denied.data.enforced).toMatchObject({ outcome: 'allow', rule: 'batch-strict-ttl' });
    expect(denied.data.shadow).toMatchObject({ outcome: 'deny', rule: null, reason: 'NO_RULE_MATCHED' });
    const allowed = events.find((e) => e.reason === 'newly_allowed')!;
    expect(allowed).toMatchObject({ rule: 'staging-candidate', identity: 'spiffe://e2e.test/ns/staging/sa/web' });
    expect(allowed.data.enforced).toMatchObject({ outcome: 'deny', nearestRule: expect.any(String) });
    expect(allowed.data).toMatchObject({ claims: { namespace: 'staging' }, request: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });
    expect(JSON.stringify(events)).not.toMatch(/eyJ/);
  });

  it('counts the disagreements by kind', async () => {
    expect(await metric('stint_policy_shadow_disagreements_total', 'kind="ttl"')).toBe(3);
    expect(await metric('stint_policy_shadow_disagreements_total', 'kind="newly_denied"')).toBe(2);
    expect(await metric('stint_policy_shadow_disagreements_total', 'kind="newly_allowed"')).toBe(1);
    expect(await metric('stint_policy_shadow_disagreements_total', 'kind="rule"')).toBe(0);
    expect(await metric('stint_policy_shadow_decisions_total', 'agreement="agree"')).toBe(2);
    const text = await (await fetch(`${env.httpUrl}/metrics`)).text();
    const rules = [...text.matchAll(/stint_policy_shadow_disagreements_total\{kind="[a-z_]+",rule="([^"]*)"\} [1-9]/g)].map((m) => m[1]);
    expect(rules.length, 'disagreements carry the shadow policy rule').toBeGreaterThan(0);
    expect(rules.every((r) => r === 'none' || /^[a-z0-9-]+$/.test(r!))).toBe(true);
  });

  it('`stint policy shadow-report` summarizes them by kind, rule and identity over the Admin API', async () => {
    const res = await runStint(['policy', 'shadow-report', '--since', '1h', '--json', ...admin()]);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as { total: number; byKind: Record<string, number>; byRule: { kind: string; enforcedRule: string | null; shadowRule: string | null; count: number }[]; byIdentity: { identity: string; count: number }[] };
    expect(report.total).toBe(6);
    expect(report.byKind).toEqual({ newly_allowed: 1, newly_denied: 2, rule: 0, ttl: 3, target: 0 });
    expect(report.byRule).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'ttl', enforcedRule: 'payments-api', shadowRule: 'payments-api', count: 3 }),
      expect.objectContaining({ kind: 'newly_denied', enforcedRule: 'batch-strict-ttl', shadowRule: null, count: 2 }),
      expect.objectContaining({ kind: 'newly_allowed', enforcedRule: null, shadowRule: 'staging-candidate', count: 1 }),
    ]));
    expect(report.byIdentity[0]).toEqual(expect.objectContaining({ identity: 'spiffe://e2e.test/ns/payments/sa/api-server', count: 3 }));
    const text = await runStint(['policy', 'shadow-report', ...admin()]);
    expect(text.stdout).toMatch(/6 disagreement\(s\)/);
    expect(text.stdout).toMatch(/changed TTL\s+payments-api\s+payments-api\s+3/);
  });

  it('`stint policy explain` shows the nearest rule and the failed condition of a recorded denial', async () => {
    const [denial] = (await auditLines('exchange.denied')).filter((e) => e.identity === 'spiffe://e2e.test/ns/staging/sa/web');
    const res = await runStint(['policy', 'explain', denial!.request_id, '--json', ...admin()]);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { recorded: Record<string, unknown>; current: Record<string, unknown> };
    expect(out.recorded).toMatchObject({ outcome: 'deny', reason: 'NO_RULE_MATCHED', nearestRule: 'payments-api', failed: [{ field: 'claims.namespace', expected: '"payments"', actual: 'staging' }, { field: 'claims.service_account', expected: 'glob "api-*"', actual: 'web' }] });
    expect(out.current).toMatchObject({ outcome: 'deny', reason: 'NO_RULE_MATCHED' });
    const text = await runStint(['policy', 'explain', denial!.request_id, ...admin()]);
    expect(text.stdout).toMatch(/failed claims\.namespace: expected "payments", got staging/);
  });
});

describe('stint policy simulate on the recorded audit', () => {
  it('reproduces the live decisions exactly for the unchanged policy (zero differences)', async () => {
    const res = await runStint(['policy', 'simulate', '--policy', join(env.dir, 'policy.yaml'), '--since', '1h', '--max-ttl', '1h', '--json', '--fail-on-change', ...admin()]);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as { total: number; unchanged: number; counts: Record<string, number> };
    expect(report.total).toBe(8);
    expect(report.unchanged).toBe(8);
    expect(report.counts).toEqual({ newly_allowed: 0, newly_denied: 0, rule: 0, ttl: 0, target: 0 });
  });

  it('reports the draft differences, and gates with --fail-on-change', async () => {
    const res = await runStint(['policy', 'simulate', '--policy', shadowFile, '--since', '1h', '--json', '--fail-on-change', ...admin()]);
    expect(res.code).toBe(1);
    const report = JSON.parse(res.stdout) as { unchanged: number; counts: Record<string, number>; examples: Record<string, { identity: string }[]> };
    expect(report.counts).toEqual({ newly_allowed: 1, newly_denied: 2, rule: 0, ttl: 3, target: 0 });
    expect(report.unchanged).toBe(2);
    expect(report.examples.newly_allowed?.[0]?.identity).toBe('spiffe://e2e.test/ns/staging/sa/web');
    const table = await runStint(['policy', 'simulate', '--policy', shadowFile, '--since', '1h', ...admin()]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/newly denied\s+2/);
    expect(table.stdout).toMatch(/changed TTL\s+3/);
  });

  it('replays an audit export (--from, as `stint audit --json` writes it)', async () => {
    const res = await runStint(['audit', '--json', '--limit', '1000', ...admin()]);
    const file = join(env.dir, 'audit.jsonl');
    writeFileSync(file, res.stdout);
    const same = await runStint(['policy', 'simulate', '--policy', join(env.dir, 'policy.yaml'), '--from', file, '--json', '--fail-on-change']);
    expect(same.code, same.stderr).toBe(0);
    expect(JSON.parse(same.stdout)).toMatchObject({ total: 8, unchanged: 8 });
    const changed = await runStint(['policy', 'simulate', '--policy', shadowFile, '--from', file, '--json']);
    expect(JSON.parse(changed.stdout)).toMatchObject({ counts: { newly_allowed: 1, newly_denied: 2, ttl: 3 } });
  });
});
