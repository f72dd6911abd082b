/**
 * Scenario: the service refuses to start on an invalid configuration or policy, naming the key
 * path and the reason, with the configuration exit status; and on a PostgreSQL store it cannot
 * reach, with the unavailable status and never the store's URL or password.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { runStint } from '../support/programs.js';

const dir = mkdtempSync(join(tmpdir(), 'stint-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const goodPolicy = `version: 1
rules:
  - name: r1
    match: { attestor: kubernetes, issuer: https://k8s.example }
    allow:
      - kind: stint-jwt
        audiences: [https://api.example.com]
        ttl: { default: 5m, max: 10m }
`;

function config(extra: string, policyFile = 'policy.yaml'): string {
  return `issuer: http://127.0.0.1:1
listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
store: { kind: sqlite, path: ./state.db }
policy: { file: ./${policyFile} }
attestors:
  - { kind: kubernetes, issuer: https://k8s.example, jwksFile: ./jwks.json }
${extra}`;
}

describe('startup validation', () => {
  writeFileSync(join(dir, 'policy.yaml'), goodPolicy);
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }] }));

  it('names the key path of an invalid configuration and exits 78', async () => {
    writeFileSync(join(dir, 'bad.yaml'), config('signing: { algorithm: HS256 }\n'));
    const res = await runStint(['serve', '--config', join(dir, 'bad.yaml')]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('ERR_CONFIG_INVALID');
    expect(res.stderr).toContain('signing.algorithm');
  });

  it('refuses an unknown key instead of ignoring it', async () => {
    writeFileSync(join(dir, 'typo.yaml'), config('credentails: { maxTtl: 1h }\n'));
    const res = await runStint(['serve', '--config', join(dir, 'typo.yaml')]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('credentails');
  });

  it('refuses a non-loopback http discovery URL for an attestor', async () => {
    writeFileSync(join(dir, 'http.yaml'), config('').replace('jwksFile: ./jwks.json', 'discoveryUrl: http://k8s.example'));
    const res = await runStint(['serve', '--config', join(dir, 'http.yaml')]);
    expect(res.code).toBe(78);
    expect(res.stderr).toMatch(/attestors.*https/);
  });

  it('names the key path and line of an invalid policy and exits 78', async () => {
    writeFileSync(join(dir, 'bad-policy.yaml'), goodPolicy.replace('ttl: { default: 5m, max: 10m }', 'ttl: { default: 1h, max: 10m }'));
    writeFileSync(join(dir, 'c2.yaml'), config('', 'bad-policy.yaml'));
    const res = await runStint(['serve', '--config', join(dir, 'c2.yaml')]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('ERR_POLICY_INVALID');
    expect(res.stderr).toMatch(/rules\[0\]\.allow\[0\]\.ttl/);
    expect(res.stderr).toMatch(/line 8|:8:/);
  });

  it('checks provider options of every rule at load, naming the rule and the option', async () => {
    writeFileSync(
      join(dir, 'aws-policy.yaml'),
      `version: 1
rules:
  - name: deploy
    match: { attestor: kubernetes, issuer: https://k8s.example }
    allow:
      - kind: aws-sts
        targets: [arn:aws:iam::123456789012:role/deploy]
        ttl: { default: 15m, max: 1h }
        options: { sessionTagz: { Team: namespace } }
`,
    );
    writeFileSync(join(dir, 'aws.yaml'), config('providers:\n  aws: { region: eu-west-1, endpoint: "http://127.0.0.1:9" }\n', 'aws-policy.yaml'));
    const res = await runStint(['serve', '--config', join(dir, 'aws.yaml')]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('ERR_POLICY_INVALID');
    expect(res.stderr).toMatch(/deploy/);
    expect(res.stderr).toMatch(/sessionTagz/);
  });

  it('refuses to start when the PostgreSQL store is unreachable, exiting 69 without the URL or password', async () => {
    const password = 'store-Pa55word-not-for-logs';
    const url = `postgresql://stint:${password}@127.0.0.1:${await freePort()}/stint`;
    writeFileSync(join(dir, 'pg.yaml'), config('').replace('store: { kind: sqlite, path: ./state.db }', 'store: { kind: postgres, url: { env: STINT_STORE_URL }, connectTimeout: 2s }'));
    const res = await runStint(['serve', '--config', join(dir, 'pg.yaml')], { env: { STINT_STORE_URL: url } });
    expect(res.code).toBe(69);
    expect(res.stderr).toMatch(/ERR_UNAVAILABLE: cannot open the PostgreSQL store: .*ECONNREFUSED/);
    expect(res.stdout + res.stderr).not.toContain(password);
    expect(res.stdout + res.stderr).not.toContain(url);
  });

  it('names the store URL reference that is not set', async () => {
    writeFileSync(join(dir, 'pg-unset.yaml'), config('').replace('store: { kind: sqlite, path: ./state.db }', 'store: { kind: postgres, url: { env: STINT_TEST_UNSET_STORE_URL } }'));
    const res = await runStint(['serve', '--config', join(dir, 'pg-unset.yaml')]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('store.url: environment variable STINT_TEST_UNSET_STORE_URL is not set');
  });

  it('names a missing configuration file', async () => {
    const res = await runStint(['serve', '--config', join(dir, 'missing.yaml')]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('ENOENT');
  });
});
