/**
 * Scenario: `stint-sidecar` keeps a Vault dynamic secret (the `vault` provider, real `stint serve`,
 * a local server speaking Vault's HTTP API that verifies Stint's JWT against Stint's JWKS) fresh by
 * renewing the lease in place (POST /renew): the application keeps the same username and password
 * while the expiry moves on, the exec-mode child is not restarted for it, and once Vault's max_ttl
 * stops the lease from being extended far enough the sidecar exchanges for a new secret (and the
 * child is restarted for that one). `renewInPlace: false` exchanges every time.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort, get, metricValue, startSidecar, startStintServe, tempDir, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';
import { FakeVault } from '../support/fake_vault.js';

const PATH = 'database/creds/app';
const tmp = tempDir();
let stint: StintUnderTest;
let vault: FakeVault;

interface SecretFile {
  token: string;
  grant_id: string;
  expires_at: string;
  fields: Record<string, string>;
}
const readSecret = (file: string): SecretFile => JSON.parse(readFileSync(file, 'utf8')) as SecretFile;

beforeAll(async () => {
  vault = await FakeVault.start({
    roles: { stint: { boundAudiences: ['vault'], tokenTtl: 3600, policy: { 'database/creds/*': ['read'], 'sys/leases/renew': ['update'], 'sys/leases/revoke': ['update'] } } },
    // A lease lives at most 9 s, renewals included (Vault's max_ttl).
    secrets: { [PATH]: { leaseDuration: 3600, maxTtl: 9 } },
  });
  stint = await startStintServe({
    extraAllow: `      - kind: vault
        targets: [${PATH}]
        ttl: { default: 3s, max: 1h }
`,
    extraConfig: `providers:
  vault: { address: "${vault.url}", role: stint, audience: vault, timeout: 2s }
`,
  });
  vault.setDiscoveryUrl(stint.url);
  await stint.writeSubjectToken(tmp.path('subject.jwt'));
}, 60_000);

afterAll(async () => {
  await stint?.close();
  await vault?.close();
  tmp.cleanup();
});

function config(name: string, ops: number, extra: Record<string, unknown> = {}): string {
  return writeSidecarConfig(
    tmp.path(`${name}.yaml`),
    baseConfig(stint.url, tmp.path('subject.jwt'), ops, [{ name: 'db', kind: 'vault', target: PATH, ttl: '3s', ...extra, outputs: [{ type: 'file', path: tmp.path(`${name}.json`), format: 'json' }] }], {
      log: { level: 'debug' },
    }),
  );
}

describe('renewal in place', () => {
  it('extends the Vault lease behind the same secret, then exchanges for a new one when max_ttl is near', async () => {
    const ops = await freePort();
    const sidecar = startSidecar(['--config', config('inplace', ops)]);
    try {
      await sidecar.waitFor(/credential issued/);
      const first = readSecret(tmp.path('inplace.json'));
      const lease = vault.lease(first.fields.lease_id!)!;
      expect(first.token).toBe(first.fields.password);

      // Two thirds into the 3 s TTL: the lease is renewed, the secret stays, the expiry moves on.
      const extended = await eventually(() => {
        const now = readSecret(tmp.path('inplace.json'));
        return now.expires_at !== first.expires_at ? now : null;
      }, 6_000);
      expect(extended.token).toBe(first.token);
      expect(extended.grant_id).toBe(first.grant_id);
      expect(Date.parse(extended.expires_at)).toBeGreaterThan(Date.parse(first.expires_at));
      expect(lease.renewals).toBeGreaterThanOrEqual(1);
      expect(lease.state).toBe('live');
      expect(sidecar.logs().some((l) => l.msg === 'credential renewed in place')).toBe(true);

      // Vault caps the lease at 9 s from issue: the sidecar then exchanges for a new secret.
      const replaced = await eventually(() => {
        const now = readSecret(tmp.path('inplace.json'));
        return now.grant_id !== first.grant_id ? now : null;
      }, 15_000);
      expect(replaced.token).not.toBe(first.token);
      expect(replaced.fields.lease_id).not.toBe(first.fields.lease_id);
      expect(vault.lease(replaced.fields.lease_id!)!.state).toBe('live');
      expect(sidecar.logs().some((l) => l.msg === 'grant cannot be extended much further; exchanging for a new credential')).toBe(true);

      const metrics = (await get(`http://127.0.0.1:${ops}/metrics`)).text;
      expect(metricValue(metrics, 'stint_sidecar_renewals_in_place_total', { credential: 'db' })).toBeGreaterThanOrEqual(1);
      expect(metricValue(metrics, 'stint_sidecar_renewals_total', { credential: 'db' })).toBeGreaterThan(metricValue(metrics, 'stint_sidecar_renewals_in_place_total', { credential: 'db' })!);
      expect(metricValue(metrics, 'stint_sidecar_renewal_failures_total', { credential: 'db', code: 'ERR_UPSTREAM_DENIED' }) ?? 0).toBe(0);
    } finally {
      await sidecar.stop();
    }
  }, 30_000);

  it('exchanges every time with renewInPlace: false', async () => {
    const ops = await freePort();
    const sidecar = startSidecar(['--config', config('exchange', ops, { renewInPlace: false })]);
    try {
      await sidecar.waitFor(/credential issued/);
      const first = readSecret(tmp.path('exchange.json'));
      const next = await eventually(() => {
        const now = readSecret(tmp.path('exchange.json'));
        return now.grant_id !== first.grant_id ? now : null;
      }, 6_000);
      expect(next.token).not.toBe(first.token);
      expect(vault.lease(first.fields.lease_id!)!.renewals).toBe(0);
      expect(metricValue((await get(`http://127.0.0.1:${ops}/metrics`)).text, 'stint_sidecar_renewals_in_place_total', { credential: 'db' })).toBe(0);
    } finally {
      await sidecar.stop();
    }
  }, 20_000);
});

describe('exec mode', () => {
  it('does not restart the command for a renewal in place, and restarts it for a new secret', async () => {
    const ops = await freePort();
    const file = writeSidecarConfig(
      tmp.path('exec.yaml'),
      baseConfig(stint.url, tmp.path('subject.jwt'), ops, [{ name: 'db', kind: 'vault', target: PATH, ttl: '3s', outputs: [{ type: 'env', variables: { DB_PASSWORD: 'fields.password' } }] }], { exec: { onRotation: 'restart', gracePeriod: '1s' } }),
    );
    const starts = tmp.path('starts.log');
    const child = `echo "$DB_PASSWORD" >> ${starts}; exec sleep 60`;
    const sidecar = startSidecar(['exec', '--config', file, '--', 'sh', '-c', child]);
    try {
      await eventually(() => (readSafe(starts).length >= 1 ? true : null), 10_000);
      // Wait for at least one renewal in place: the command is still the first one.
      await eventually(async () => ((metricValue((await get(`http://127.0.0.1:${ops}/metrics`)).text, 'stint_sidecar_renewals_in_place_total', { credential: 'db' }) ?? 0) >= 1 ? true : null), 8_000);
      expect(readSafe(starts)).toHaveLength(1);
      // The lease reaches max_ttl: a new secret, and the command restarted with it.
      const lines = await eventually(() => (readSafe(starts).length >= 2 ? readSafe(starts) : null), 15_000);
      expect(lines[1]).not.toBe(lines[0]);
    } finally {
      await sidecar.stop();
    }
  }, 40_000);
});

function readSafe(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}
