/**
 * Scenario: hot policy reload of the real `stint` program. A valid change (file write or SIGHUP)
 * takes effect without dropping in-flight requests; an invalid change is refused, audited and
 * counted, /readyz says the policy is stale, and the last good policy keeps serving.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_AUDIENCE, AUDIENCE, e2ePolicy, startE2E, type E2E } from './harness.js';
import { runStint } from '../support/programs.js';

let env: E2E;
let policyFile: string;
let original: string;

const admin = (): string[] => ['--admin', env.adminAddr, '--admin-token-file', env.adminTokenFile];

/** Replace the policy file atomically (write a temporary file, rename it over). */
function writePolicy(text: string): void {
  const tmp = `${policyFile}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, policyFile);
}

const withPaymentsTtl = (ttl: string): string => original.replace('ttl: { default: 10m, max: 30m }', `ttl: { default: ${ttl}, max: 30m }`);

async function paymentsTtl(): Promise<number | string> {
  const token = await env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-server', podName: 'api-server-1', audience: AUDIENCE });
  const res = await env.grpc.call<{ credentials: { ttl_seconds: number }[] }>({ subject_token: token, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });
  return res.ok ? (res.value.credentials[0]?.ttl_seconds ?? -1) : `error ${res.stintCode ?? res.code}`;
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${env.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function readyz(): Promise<{ status: number; body: { checks: Record<string, unknown> } }> {
  const res = await fetch(`${env.httpUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, unknown> } };
}

beforeAll(async () => {
  env = await startE2E();
  policyFile = join(env.dir, 'policy.yaml');
  original = e2ePolicy(env.k8s.issuer, env.github.issuer);
}, 60_000);

afterAll(async () => {
  await env?.close();
});

describe('policy reload on file change', () => {
  it('a valid change takes effect, is audited and counted', async () => {
    expect(await paymentsTtl()).toBe(600);
    writePolicy(withPaymentsTtl('20m'));
    expect(await until(paymentsTtl, (t) => t === 1200)).toBe(1200);
    expect(await metric('stint_policy_reloads_total', 'result="ok"')).toBe(1);
    const audit = await runStint(['audit', '--json', '--type', 'policy.loaded', ...admin()]);
    const events = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { data: { trigger?: string; digest: string } });
    expect(events[0]?.data.trigger).toBe('watch');
    expect((await readyz()).status).toBe(200);
  });

  it('does not drop in-flight requests while the policy changes under them', async () => {
    const inflight = Array.from({ length: 40 }, () => paymentsTtl());
    writePolicy(withPaymentsTtl('15m'));
    const more = Array.from({ length: 40 }, () => paymentsTtl());
    const results = await Promise.all([...inflight, ...more]);
    for (const r of results) expect([1200, 900]).toContain(r);
    expect(await until(paymentsTtl, (t) => t === 900)).toBe(900);
  });

  it('an invalid change is refused: the old policy keeps serving, the failure is audited, counted and /readyz says stale', async () => {
    const before = await metric('stint_policy_reloads_total', 'result="error"');
    writePolicy(`${withPaymentsTtl('5m')}  - name: Not_A_Valid_Name\n`);
    await until(() => metric('stint_policy_reloads_total', 'result="error"'), (n) => n > before);
    expect(await metric('stint_policy_reloads_total', 'result="error"')).toBeGreaterThan(before);
    expect(await paymentsTtl()).toBe(900);
    const ready = await readyz();
    expect(ready.status).toBe(503);
    expect(String(ready.body.checks.policy)).toMatch(/^stale: the policy file failed to load at .*rules\[3\]\.match: required key is missing.*policy\.yaml:42:5/);
    expect(await metric('stint_policy_stale', '')).toBe(1);
    const audit = await runStint(['audit', '--json', '--type', 'policy.reload_failed', ...admin()]);
    expect(audit.code, audit.stderr).toBe(0);
    const [failed] = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { outcome: string; reason: string; data: { error: string; details: { line: number } } });
    expect(failed).toMatchObject({ outcome: 'error', reason: 'ERR_POLICY_INVALID', data: { details: { line: 42 } } });
    expect(env.service.stderr() + env.service.stdout()).toMatch(/policy reload failed; the last good policy keeps serving/);
  });

  it('a CEL condition that does not type-check is refused the same way', async () => {
    writePolicy(withPaymentsTtl('5m').replace('  - name: batch-strict-ttl\n', '  - name: batch-strict-ttl\n    condition: "request.ttl > \\"x\\""\n'));
    // The watcher has read the file once readiness reports the failure; the old policy keeps serving.
    const stale = await until(readyz, (r) => /condition does not compile/.test(String(r.body.checks.policy)));
    expect(await paymentsTtl()).toBe(900);
    expect(String(stale.body.checks.policy)).toMatch(/condition does not compile/);
  });

  it('fixing the file clears the staleness', async () => {
    writePolicy(withPaymentsTtl('5m'));
    expect(await until(paymentsTtl, (t) => t === 300)).toBe(300);
    expect((await readyz()).status).toBe(200);
    expect(await metric('stint_policy_stale', '')).toBe(0);
  });
});

describe('policy reload on SIGHUP and through the Admin API', () => {
  beforeAll(async () => {
    writeFileSync(env.configFile, readFileSync(env.configFile, 'utf8').replace('policy: { file: ./policy.yaml }', 'policy: { file: ./policy.yaml, watch: false }'));
    writePolicy(original);
    await env.restart();
  }, 60_000);

  it('with watching off, a change waits for SIGHUP', async () => {
    expect(await paymentsTtl()).toBe(600);
    writePolicy(withPaymentsTtl('25m'));
    await new Promise((r) => setTimeout(r, 600));
    expect(await paymentsTtl()).toBe(600);
    env.service.child.kill('SIGHUP');
    expect(await until(paymentsTtl, (t) => t === 1500)).toBe(1500);
  });

  it('`stint policy reload` reloads now and reports a refused file', async () => {
    writePolicy(withPaymentsTtl('12m'));
    const ok = await runStint(['policy', 'reload', ...admin()]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok/);
    expect(await paymentsTtl()).toBe(720);
    writePolicy('version: 2\nrules: []\n');
    const bad = await runStint(['policy', 'reload', ...admin()]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^error: .*unsupported policy version/);
    expect(await paymentsTtl()).toBe(720);
  });
});
