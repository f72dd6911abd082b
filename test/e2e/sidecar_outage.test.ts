/**
 * Scenario: Stint goes away for longer than the backoff cap. The sidecar keeps serving the last
 * good credential until its expiry and never past it: at expiry it is removed from files and
 * endpoints and readiness fails; the attempts in that window show capped backoff, not a hot loop;
 * when Stint comes back the sidecar recovers by itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_AUDIENCE, eventually, freePort, get, metricValue, startSidecar, startStintServe, tempDir, type RunningSidecar, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';

const tmp = tempDir();
let stint: StintUnderTest;
let sidecar: RunningSidecar;

beforeAll(async () => {
  stint = await startStintServe();
  await stint.writeSubjectToken(tmp.path('subject.jwt'));
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await stint?.close();
  tmp.cleanup();
});

const sleepUntil = (t: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

describe('Stint unavailable for longer than the backoff cap', () => {
  it('serves the last good credential until expiry, then withdraws it and turns unready; backs off; recovers when Stint returns', async () => {
    const ops = await freePort();
    const gcp = `127.0.0.1:${await freePort()}`;
    const opsUrl = `http://127.0.0.1:${ops}`;
    const config = writeSidecarConfig(
      tmp.path('outage.yaml'),
      baseConfig(stint.url, tmp.path('subject.jwt'), ops, [
        {
          name: 'api',
          audience: API_AUDIENCE,
          ttl: '4s',
          outputs: [
            { type: 'file', path: tmp.path('api.jwt') },
            { type: 'file', path: tmp.path('api.json'), format: 'json' },
            { type: 'gcp-metadata', listen: gcp, projectId: 'outage-project' },
          ],
        },
      ], { renewal: { jitter: 0.1, minInterval: '100ms', initialBackoff: '200ms', maxBackoff: '1s' } }),
    );
    sidecar = startSidecar(['--config', config]);
    await sidecar.waitFor(/credential issued/);
    const tokenUrl = `http://${gcp}/computeMetadata/v1/instance/service-accounts/default/token`;

    // Stint goes away with a fresh credential in place.
    await stint.stop();
    const stoppedAt = Date.now();
    const held = JSON.parse(readFileSync(tmp.path('api.json'), 'utf8')) as { token: string; expires_at: string };
    const expiresAt = Date.parse(held.expires_at);
    expect(expiresAt).toBeGreaterThan(Date.now() + 500);

    // Until expiry: still served everywhere, still ready.
    await sleepUntil(expiresAt - 400);
    expect(readFileSync(tmp.path('api.jwt'), 'utf8')).toBe(held.token);
    expect((await get(`${opsUrl}/readyz`)).status).toBe(200);
    const served = await get(tokenUrl, { 'metadata-flavor': 'Google' });
    expect(served.status).toBe(200);
    expect((JSON.parse(served.text) as { access_token: string }).access_token).toBe(held.token);
    expect(metricValue((await get(`${opsUrl}/metrics`)).text, 'stint_sidecar_renewal_failures_total', { credential: 'api', code: 'ERR_UNAVAILABLE' })).toBeGreaterThan(0);

    // Past expiry: withdrawn from files and endpoints, not ready (waiting for the withdrawal, not a fixed time).
    await eventually(() => !existsSync(tmp.path('api.jwt')) && !existsSync(tmp.path('api.json')), 10_000, 25);
    expect(existsSync(tmp.path('api.jwt'))).toBe(false);
    expect(existsSync(tmp.path('api.json'))).toBe(false);
    expect((await get(tokenUrl, { 'metadata-flavor': 'Google' })).status).toBe(503);
    const ready = await get(`${opsUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toEqual({ status: 'not ready', checks: { api: 'no unexpired credential (ERR_UNAVAILABLE)' } });
    expect((await get(`${opsUrl}/healthz`)).status).toBe(200);
    const metrics = (await get(`${opsUrl}/metrics`)).text;
    expect(metricValue(metrics, 'stint_sidecar_credential_ready', { credential: 'api' })).toBe(0);
    expect(metrics).not.toMatch(/^stint_sidecar_credential_expiry_seconds\{credential="api"\}/m);
    expect(sidecar.stdout()).toMatch(/"msg":"credential expired without a replacement; withdrawn from every output"/);

    // Stay down well past the backoff cap (1 s): attempts grow apart, no hot loop.
    await sleepUntil(stoppedAt + 8_000);
    const windowSeconds = (Date.now() - stoppedAt) / 1000;
    const failures = metricValue((await get(`${opsUrl}/metrics`)).text, 'stint_sidecar_renewal_failures_total', { credential: 'api' });
    // Capped at 1 s with half of it random: at most ~2 attempts a second after the ramp, at least one every second.
    expect(failures).toBeGreaterThanOrEqual(Math.floor(windowSeconds / 2) - 2);
    expect(failures).toBeLessThanOrEqual(windowSeconds * 2 + 2);
    const gaps = sidecar
      .logs()
      .filter((l) => l.msg === 'exchange failed')
      .map((l) => Date.parse(String(l.time)));
    const spacing = gaps.slice(1).map((t, i) => t - gaps[i]!);
    expect(Math.max(...spacing.slice(-3))).toBeGreaterThanOrEqual(450);
    expect(Math.max(...spacing)).toBeLessThanOrEqual(1_300);

    // Stint returns: the sidecar recovers by itself.
    await stint.start();
    await eventually(async () => (await get(`${opsUrl}/readyz`)).status === 200, 10_000);
    const fresh = readFileSync(tmp.path('api.jwt'), 'utf8');
    expect(fresh).not.toBe(held.token);
    expect((await get(tokenUrl, { 'metadata-flavor': 'Google' })).status).toBe(200);
    expect(metricValue((await get(`${opsUrl}/metrics`)).text, 'stint_sidecar_credential_ready', { credential: 'api' })).toBe(1);
  });
});
