/**
 * The service loads what its configuration needs (issue 12, resident memory): the real `stint
 * serve` program, started with a probe that reports every package it resolves (ESM imports and
 * require() alike), does not load the CEL library for a policy without conditions, nor node-postgres
 * (no PostgreSQL store or provider) nor pkijs/asn1js (no AWS instance-identity or Azure attestor); a policy with
 * a condition loads it and the condition decides. Each start then serves a good exchange.
 *
 * PACKAGES_NOT_NEEDED lists what this configuration (SQLite store, one kubernetes JWT attestor,
 * a stint-jwt policy) must not load.
 */
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freeListenPorts, httpExchange, startProgram, tokenExchangeForm, writeStintConfig, type RunningProgram, type StintFiles } from '../support/stint_under_test.js';
import { TestIssuer } from '../support/test_issuer.js';

const AUDIENCE = 'https://stint.lazy.test';
const API = 'https://api.example.com';

/** Packages a service with a SQLite store, one kubernetes attestor and a policy without conditions must not load. */
const PACKAGES_NOT_NEEDED = ['@marcbachmann/cel-js', 'pg', 'pkijs', 'asn1js', '@peculiar/utils', 'bytestreamjs', '@noble/hashes'];

/** A preload that prints `PKG <name>` on stderr for every package resolved, by import or by require. */
const PROBE = `
import { register, Module } from 'node:module';
const pkg = (path) => { const m = /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(path); if (m) process.stderr.write('PKG ' + m[1] + '\\n'); };
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (...args) { const file = resolveFilename.apply(this, args); pkg(file); return file; };
register('data:text/javascript,' + encodeURIComponent(\`
export async function resolve(s, c, next) { const r = await next(s, c); const m = /node_modules\\\\/((@[^/]+\\\\/)?[^/]+)/.exec(r.url); if (m) process.stderr.write('PKG ' + m[1] + '\\\\n'); return r; }
\`));
`;

const policyFor = (issuer: string, condition?: string): string => `version: 1
rules:
  - name: apps
    match: { attestor: kubernetes, issuer: ${issuer}, claims: { namespace: apps } }
${condition ? `    condition: ${JSON.stringify(condition)}\n` : ''}    allow:
      - kind: stint-jwt
        audiences: [${API}]
        ttl: { default: 10m, max: 1h }
`;

let k8s: TestIssuer;
let files: StintFiles | null = null;
let service: RunningProgram | null = null;

beforeEach(async () => {
  k8s = await TestIssuer.start();
});

afterEach(async () => {
  await service?.stop();
  service = null;
  if (files) rmSync(files.dir, { recursive: true, force: true });
  files = null;
  await k8s.close();
});

/** Start `stint serve` with the probe on `policy`; resolves once it listens, with its base URL. */
async function serveWithProbe(policy: string): Promise<string> {
  const ports = await freeListenPorts();
  files = writeStintConfig({ prefix: 'stint-lazy-', audience: AUDIENCE, ports, policy, attestors: [{ kind: 'kubernetes', issuer: k8s.issuer }], admins: [{ name: 'ops' }] });
  const probe = join(files.dir, 'probe.mjs');
  writeFileSync(probe, PROBE);
  service = startProgram(['serve', '--config', files.configFile], { env: { NODE_OPTIONS: `--import=${probe}` } });
  await service.waitFor(/stint listening/);
  return `http://127.0.0.1:${ports.http}`;
}

/** The packages the program resolved so far. */
const loaded = (): Set<string> => new Set([...service!.stderr().matchAll(/^PKG (\S+)$/gm)].map((m) => m[1]!));

const token = (serviceAccount: string): Promise<string> => k8s.mintKubernetes({ namespace: 'apps', serviceAccount, audience: AUDIENCE });

describe('packages loaded by the service', () => {
  it('a policy without conditions: the CEL library is not loaded, and an exchange is served', async () => {
    const url = await serveWithProbe(policyFor(k8s.issuer));
    const ok = await httpExchange(url, tokenExchangeForm(await token('api'), { audience: API }));
    expect(ok.status).toBe(200);
    expect(typeof ok.body['access_token']).toBe('string');
    const packages = loaded();
    // The probe sees what the service does load (the store's driver, the JWT library)...
    expect(packages).toContain('better-sqlite3');
    expect(packages).toContain('jose');
    // ...and none of what this configuration does not need.
    for (const name of PACKAGES_NOT_NEEDED) expect(packages, name).not.toContain(name);
  });

  it('a policy with a condition: the CEL library is loaded at start and the condition decides', async () => {
    const url = await serveWithProbe(policyFor(k8s.issuer, 'claims.service_account == "api"'));
    expect(loaded()).toContain('@marcbachmann/cel-js');
    const denied = await httpExchange(url, tokenExchangeForm(await token('worker'), { audience: API }));
    expect(denied.status).toBe(400);
    expect(denied.body).toMatchObject({ error: 'unauthorized_client', stint_code: 'ERR_POLICY_DENIED' });
    const ok = await httpExchange(url, tokenExchangeForm(await token('api'), { audience: API }));
    expect(ok.status).toBe(200);
  });
});
