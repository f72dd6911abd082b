/**
 * Scenario: `stint-sidecar` keeps a Stint JWT fresh in files an unmodified application reads:
 * raw, JSON and an env file, written atomically with mode 0600, rotated before expiry; readiness,
 * health and metrics; a reader in a tight loop never sees a partial or empty file across hundreds
 * of rotations; init mode writes once and exits, or fails with a clear message and status; an
 * invalid configuration names its key path.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { API_AUDIENCE, eventually, freePort, get, metricValue, runSidecar, startSidecar, startStintServe, tempDir, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';

let stint: StintUnderTest;
const tmp = tempDir();

beforeAll(async () => {
  stint = await startStintServe();
  await stint.writeSubjectToken(tmp.path('subject.jwt'));
}, 60_000);

afterAll(async () => {
  await stint?.close();
  tmp.cleanup();
});

describe('sidecar mode with file outputs', () => {
  it('writes raw, JSON and env-file outputs (0600), reports ready, and rotates them before expiry', async () => {
    const ops = await freePort();
    const config = writeSidecarConfig(
      tmp.path('files.yaml'),
      baseConfig(stint.url, tmp.path('subject.jwt'), ops, [
        {
          name: 'api',
          audience: API_AUDIENCE,
          ttl: '3s',
          outputs: [
            { type: 'file', path: tmp.path('api.jwt') },
            { type: 'file', path: tmp.path('api.json'), format: 'json', mode: '0640' },
            { type: 'env-file', path: tmp.path('api.env'), variables: { API_TOKEN: 'token', API_GRANT_ID: 'grant_id' } },
          ],
        },
      ]),
    );
    const sidecar = startSidecar(['--config', config]);
    try {
      await sidecar.waitFor(/credential issued/);
      const first = readFileSync(tmp.path('api.jwt'), 'utf8');
      expect(statSync(tmp.path('api.jwt')).mode & 0o777).toBe(0o600);
      expect(statSync(tmp.path('api.json')).mode & 0o777).toBe(0o640);
      expect(statSync(tmp.path('api.env')).mode & 0o777).toBe(0o600);
      const jwks = createRemoteJWKSet(new URL(`${stint.url}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(first, jwks, { audience: API_AUDIENCE });
      expect(payload.sub).toBe('spiffe://sidecar.test/ns/apps/sa/app');
      const json = JSON.parse(readFileSync(tmp.path('api.json'), 'utf8')) as Record<string, unknown>;
      expect(json.token).toBe(first);
      expect(json.kind).toBe('stint-jwt');
      expect(readFileSync(tmp.path('api.env'), 'utf8')).toBe(`export API_TOKEN='${first}'\nexport API_GRANT_ID='${String(json.grant_id)}'\n`);

      expect((await get(`http://127.0.0.1:${ops}/healthz`)).status).toBe(200);
      const ready = await get(`http://127.0.0.1:${ops}/readyz`);
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.text)).toEqual({ status: 'ready', checks: { api: true } });

      // renew_after is two thirds of the 3 s TTL: a new token arrives before the first expires.
      const second = await eventually(() => {
        const now = readFileSync(tmp.path('api.jwt'), 'utf8');
        return now !== first ? now : null;
      }, 5_000);
      expect(Date.now()).toBeLessThan(decodeJwt(first).exp! * 1000);
      expect((await jwtVerify(second, jwks, { audience: API_AUDIENCE })).payload.jti).not.toBe(payload.jti);

      // The file is replaced before the renewal is counted: wait for the counter instead of racing it.
      const metrics = await eventually(async () => {
        const text = (await get(`http://127.0.0.1:${ops}/metrics`)).text;
        return (metricValue(text, 'stint_sidecar_renewals_total', { credential: 'api' }) ?? 0) >= 2 ? text : null;
      }, 5_000);
      expect(metricValue(metrics, 'stint_sidecar_renewals_total', { credential: 'api' })).toBeGreaterThanOrEqual(2);
      expect(metricValue(metrics, 'stint_sidecar_credential_ready', { credential: 'api' })).toBe(1);
      expect(metricValue(metrics, 'stint_sidecar_credential_expiry_seconds', { credential: 'api' })).toBeGreaterThan(0);
      expect(metrics).toMatch(/^# TYPE stint_sidecar_renewal_failures_total counter$/m);

      expect(await sidecar.stop()).toBe(0);
      // One JSON object a line, and never a token.
      const lines = sidecar.stdout().trim().split('\n');
      for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
      expect(sidecar.stdout() + sidecar.stderr()).not.toContain(first.split('.')[2]!);
      expect(sidecar.stdout() + sidecar.stderr()).not.toContain(second.split('.')[2]!);
    } finally {
      await sidecar.stop();
    }
  });

  it('a reader polling the file during hundreds of rotations never sees a partial or empty file', async () => {
    const ops = await freePort();
    const path = tmp.path('hot.jwt');
    const jsonPath = tmp.path('hot.json');
    const config = writeSidecarConfig(
      tmp.path('hot.yaml'),
      baseConfig(stint.url, tmp.path('subject.jwt'), ops, [
        { name: 'hot', audience: API_AUDIENCE, ttl: '30s', outputs: [{ type: 'file', path }, { type: 'file', path: jsonPath, format: 'json' }] },
      ], { renewal: { jitter: 0, minInterval: 0, maxInterval: 0, initialBackoff: '100ms', maxBackoff: '1s' } }),
    );
    const sidecar = startSidecar(['--config', config]);
    try {
      await sidecar.waitFor(/credential issued/);
      const seen = new Set<string>();
      let reads = 0;
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && seen.size < 300) {
        const text = readFileSync(path, 'utf8');
        reads++;
        expect(text.length).toBeGreaterThan(0);
        expect(text).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
        const parts = text.split('.');
        expect(parts[2]!.length).toBe(86); // a whole ES256 signature
        JSON.parse(Buffer.from(parts[1]!, 'base64url').toString());
        const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as { token: string };
        expect(json.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
        seen.add(text);
        if (reads % 20 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      expect(seen.size).toBeGreaterThanOrEqual(200);
    } finally {
      await sidecar.stop();
    }
  });
});

describe('init mode', () => {
  it('fetches once, writes every output and exits 0', async () => {
    const config = writeSidecarConfig(
      tmp.path('init.yaml'),
      baseConfig(stint.url, tmp.path('subject.jwt'), false, [{ name: 'boot', audience: API_AUDIENCE, outputs: [{ type: 'file', path: tmp.path('boot.jwt') }] }]),
    );
    const res = await runSidecar(['init', '--config', config]);
    expect(res.code).toBe(0);
    expect(readFileSync(tmp.path('boot.jwt'), 'utf8')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('a policy denial exits 4 with a clear message, at once (no retries)', async () => {
    await stint.writeSubjectToken(tmp.path('other-ns.jwt'), { namespace: 'elsewhere' });
    const config = writeSidecarConfig(
      tmp.path('denied.yaml'),
      baseConfig(stint.url, tmp.path('other-ns.jwt'), false, [{ name: 'nope', audience: API_AUDIENCE, outputs: [{ type: 'file', path: tmp.path('nope.jwt') }] }]),
    );
    const started = Date.now();
    const res = await runSidecar(['init', '--config', config]);
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(/^stint-sidecar: credential nope: Stint refused \(HTTP 400 unauthorized_client\)/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(() => statSync(tmp.path('nope.jwt'))).toThrow();
  });

  it('a missing subject token file exits non-zero naming the file', async () => {
    const config = writeSidecarConfig(
      tmp.path('nofile.yaml'),
      baseConfig(stint.url, tmp.path('absent.jwt'), false, [{ name: 'x', audience: API_AUDIENCE, outputs: [] }]),
    );
    const res = await runSidecar(['init', '--config', config]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`cannot read the subject token file ${tmp.path('absent.jwt')}: ENOENT`);
  });

  it('Stint unreachable: retries with backoff until init.timeout, then exits 69', async () => {
    const port = await freePort();
    const config = writeSidecarConfig(
      tmp.path('unreachable.yaml'),
      baseConfig(`http://127.0.0.1:${port}`, tmp.path('subject.jwt'), false, [{ name: 'x', audience: API_AUDIENCE, outputs: [] }], { init: { timeout: '2s' } }),
    );
    const started = Date.now();
    const res = await runSidecar(['init', '--config', config]);
    expect(res.code).toBe(69);
    expect(res.stderr).toMatch(/cannot reach Stint at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(Date.now() - started).toBeGreaterThan(1_000);
    const attempts = (res.stdout.match(/"msg":"exchange failed"/g) ?? []).length;
    expect(attempts).toBeGreaterThan(1);
    expect(attempts).toBeLessThan(12);
  });
});

describe('configuration', () => {
  it('takes stint.url, the subject token file and ops.listen from the environment when the file leaves them out (as the injector sets them)', async () => {
    const ops = await freePort();
    const file = writeSidecarConfig(tmp.path('from-env.yaml'), { credentials: [{ name: 'api', audience: API_AUDIENCE, outputs: [{ type: 'file', path: tmp.path('from-env.jwt') }] }] });
    const sidecar = startSidecar(['--config', file], { env: { STINT_URL: stint.url, STINT_SUBJECT_TOKEN_FILE: tmp.path('subject.jwt'), STINT_SIDECAR_OPS_LISTEN: `127.0.0.1:${ops}` } });
    try {
      await sidecar.waitFor(/credential issued/);
      expect(readFileSync(tmp.path('from-env.jwt'), 'utf8')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect((await get(`http://127.0.0.1:${ops}/readyz`)).status).toBe(200);
    } finally {
      await sidecar.stop();
    }
    // Without them, the same file is refused, naming what is missing.
    const res = await runSidecar(['init', '--config', file], { env: { STINT_URL: '', STINT_SUBJECT_TOKEN_FILE: '' } });
    expect(res.code).toBe(78);
    expect(res.stderr).toMatch(/invalid configuration: stint/);
  });

  const invalid: [string, unknown, RegExp][] = [
    ['a credential without a name', { credentials: [{ audience: 'x' }] }, /credentials\[0\]\.name/],
    ['an unknown output type', { credentials: [{ name: 'a', outputs: [{ type: 'ftp' }] }] }, /credentials\[0\]\.outputs\[0\]\.type/],
    ['a world-readable file mode', { credentials: [{ name: 'a', outputs: [{ type: 'file', path: '/tmp/x', mode: '0644' }] }] }, /credentials\[0\]\.outputs\[0\]\.mode: credentials must not be readable or writable by others/],
    ['an AWS endpoint off loopback', { credentials: [{ name: 'a', outputs: [{ type: 'aws-container', listen: '0.0.0.0:80', tokenFile: '/tmp/t' }] }] }, /credentials\[0\]\.outputs\[0\]\.listen: expected a loopback host:port/],
    ['a bad duration', { renewal: { maxBackoff: 'soon' } }, /renewal\.maxBackoff: invalid duration "soon"/],
    ['an unknown key', { surprise: true }, /\(root\): Unrecognized key/],
  ];
  for (const [what, patch, pattern] of invalid) {
    it(`refuses ${what}, naming the key path, with status 78`, async () => {
      const good = baseConfig(stint.url, tmp.path('subject.jwt'), false, [{ name: 'a', audience: API_AUDIENCE }]);
      const file = tmp.path('bad.yaml');
      writeFileSync(file, JSON.stringify({ ...good, ...(patch as Record<string, unknown>) }));
      const res = await runSidecar(['init', '--config', file]);
      expect(res.code).toBe(78);
      expect(res.stderr).toMatch(/^stint-sidecar: invalid configuration: /);
      expect(res.stderr).toMatch(pattern);
    });
  }

  it('a usage error exits 64', async () => {
    const res = await runSidecar(['exec', '--config', tmp.path('x.yaml')]);
    expect(res.code).toBe(64);
    expect(res.stderr).toContain('exec needs a command after --');
  });
});
