/**
 * Scenario (force-rotation-stint-jwt-authority): the service rotates its signing key on schedule,
 * driven by a fake clock. The next key is in the JWKS before it signs anything; a token signed
 * before the rotation still verifies after it; the retired key leaves the JWKS only once every
 * token it signed has expired.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningStint } from '../../src/service.js';
import { FakeClock } from '../support/fake_clock.js';
import { startStintInProcess, type InProcessStint } from '../support/stint_under_test.js';
import { TestIssuer } from '../support/test_issuer.js';
import { API_AUDIENCE, AUDIENCE, e2ePolicy, exchangeForm, httpExchange } from './harness.js';

const clock = new FakeClock(Date.UTC(2030, 0, 1));
let k8s: TestIssuer;
let env: InProcessStint;
let stint: RunningStint;
let url: string;

beforeAll(async () => {
  k8s = await TestIssuer.start({ clock });
  env = await startStintInProcess({
    prefix: 'stint-rotation-',
    clock,
    audience: AUDIENCE,
    policy: e2ePolicy(k8s.issuer, 'https://unused.example'),
    maxTtl: '30m',
    attestors: [{ kind: 'kubernetes', name: 'cluster', issuer: k8s.issuer }],
    admins: [{ name: 'ops', token: 'rotation-admin-token' }],
    extra: { signing: { algorithm: 'ES256', rotationPeriod: '1h', prepublish: '10m' } },
    alsoClose: [k8s],
  });
  ({ stint, url } = env);
});

afterAll(() => env?.close());

async function jwks(): Promise<JSONWebKeySet> {
  return (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
}

async function issue(): Promise<string> {
  const subject = await k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-rot', audience: AUDIENCE });
  const res = await httpExchange(url, exchangeForm(subject, { ttl_seconds: '1800' }));
  expect(res.status).toBe(200);
  return String(res.body.access_token);
}

const kidOf = (token: string): string => decodeProtectedHeader(token).kid!;
const kids = (set: JSONWebKeySet): string[] => set.keys.map((k) => k.kid!);
const verifyAt = (token: string, set: JSONWebKeySet) =>
  jwtVerify(token, createLocalJWKSet(set), { issuer: 'http://127.0.0.1:1', audience: API_AUDIENCE, currentDate: new Date(clock.now()) });

describe('signing key rotation', () => {
  it('publishes the next key before it signs, keeps the retired key until its tokens expire', async () => {
    const before = await issue();
    const firstKid = kidOf(before);
    expect(kids(await jwks())).toEqual([firstKid]);

    // Every minute for 2.5 hours: record when each kid first appeared in the JWKS, and check
    // that whatever signs has been published for at least the prepublish window.
    const firstSeen = new Map<string, number>([[firstKid, clock.now()]]);
    let rotatedToken: string | null = null;
    let lastOfFirstKey = before;
    for (let minute = 1; minute <= 150; minute++) {
      clock.advance(60_000);
      await stint.tick();
      for (const kid of kids(await jwks())) if (!firstSeen.has(kid)) firstSeen.set(kid, clock.now());
      const token = await issue();
      const kid = kidOf(token);
      if (kid !== firstKid) {
        expect(clock.now() - firstSeen.get(kid)!).toBeGreaterThanOrEqual(10 * 60_000);
        rotatedToken ??= token;
      } else {
        lastOfFirstKey = token;
      }
      // Every token the first key signed verifies for as long as it is unexpired.
      const set = await jwks();
      for (const t of [before, lastOfFirstKey]) {
        const exp = (JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
        if (exp * 1000 > clock.now()) await expect(verifyAt(t, set)).resolves.toBeTruthy();
      }
    }
    expect(kidOf(lastOfFirstKey)).toBe(firstKid);
    expect(rotatedToken).not.toBeNull();
    // By now (2.5 h) the first key was retired at 1 h and has been dropped after 30 min TTL + skew.
    expect(kids(await jwks())).not.toContain(firstKid);
  });
});
