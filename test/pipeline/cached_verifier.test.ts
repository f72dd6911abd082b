/**
 * The verified-identity cache: a token verified once is answered from the cache with the same
 * identity, until its expiry or the cache's own bound, and a claim named __proto__ stays an own
 * claim of the cached identity. (The compact claims objects: test/attestation/claims.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import { parseStrictJson } from '../../src/attestation/jwt/strict_json.js';
import { JWT_TOKEN_TYPE } from '../../src/attestation/token_types.js';
import { TokenError } from '../../src/errors.js';
import { cacheVerifiedIdentities, SUBJECT_CACHE_MAX_SECONDS } from '../../src/pipeline/cached_verifier.js';
import type { IdentityVerifier } from '../../src/pipeline/contracts.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { AUDIENCE, startHarness, type Harness } from '../attestation/helpers.js';
import { FakeClock } from '../support/fake_clock.js';

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
});

/** Cache lookups counted by result. */
async function lookups(metrics: StintMetrics): Promise<Record<string, number>> {
  const values = (await metrics.subjectTokenCache.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels['result']), v.value]));
}

/** A verifier over the harness's real attestor set, counting its verifications. */
function countingVerifier(h: Harness): IdentityVerifier & { verified: number } {
  const v = {
    verified: 0,
    attest: (token: { type: string; value: string }) => {
      v.verified++;
      return h.set.attest(token);
    },
    accepts: (type: string) => h.set.accepts(type),
    ready: () => h.set.ready(),
    close: () => h.set.close(),
  };
  return v;
}

describe('the verified-identity cache', () => {
  it('answers a token verified once from the cache, with the same identity and claims', async () => {
    harness = await startHarness({ kind: 'kubernetes' });
    const metrics = new StintMetrics();
    const inner = countingVerifier(harness);
    const cached = cacheVerifiedIdentities(inner, { size: 10, clock: harness.clock, metrics });
    const token = { type: JWT_TOKEN_TYPE, value: await harness.issuer.mintKubernetes({ namespace: 'default', serviceAccount: 'app', podName: 'app-0', audience: AUDIENCE }) };

    const first = await cached.attest(token);
    const second = await cached.attest(token);
    expect(inner.verified).toBe(1);
    expect(await lookups(metrics)).toEqual({ miss: 1, hit: 1 });
    expect(second).toEqual(first);
    expect(Object.keys(second.claims)).toEqual(Object.keys(first.claims));
    expect(second.claims['namespace']).toBe('default');
    expect(second.claims['kubernetes.io']).toEqual(first.claims['kubernetes.io']);
  });

  it('verifies again once the cache bound has passed, then serves the new entry', async () => {
    harness = await startHarness({ kind: 'kubernetes' });
    const metrics = new StintMetrics();
    const inner = countingVerifier(harness);
    const cached = cacheVerifiedIdentities(inner, { size: 10, clock: harness.clock, metrics });
    const token = { type: JWT_TOKEN_TYPE, value: await harness.issuer.mintKubernetes({ namespace: 'default', serviceAccount: 'app', podName: 'app-0', audience: AUDIENCE }) };

    await cached.attest(token);
    harness.clock.advance(SUBJECT_CACHE_MAX_SECONDS * 1000 + 1);
    await cached.attest(token);
    expect(inner.verified).toBe(2);
    await cached.attest(token);
    expect(inner.verified).toBe(2);
    expect(await lookups(metrics)).toEqual({ miss: 2, hit: 1 });
  });

  it('keeps a claim named __proto__ as an own claim of the cached identity, the prototype untouched', async () => {
    const clock = new FakeClock();
    const claims = parseStrictJson('{"sub":"app","__proto__":{"polluted":true},"exp":1}') as WorkloadIdentity['claims'];
    const identity: WorkloadIdentity = { attestor: 'oidc', attestorName: 'oidc', issuer: 'https://issuer.test', subject: 'app', id: 'spiffe://stint.test/app', claims, expiresAt: clock.now() / 1000 + 600 };
    const verifier: IdentityVerifier = {
      attest: async (token) => {
        if (token.value !== 'good') throw new TokenError('ERR_TOKEN_SIGNATURE_INVALID', 'not a good token');
        return identity;
      },
      accepts: () => true,
      ready: () => true,
      close: () => undefined,
    };
    const metrics = new StintMetrics();
    const cached = cacheVerifiedIdentities(verifier, { size: 10, clock, metrics });

    await expect(cached.attest({ type: JWT_TOKEN_TYPE, value: 'bad' })).rejects.toMatchObject({ code: 'ERR_TOKEN_SIGNATURE_INVALID' });
    await cached.attest({ type: JWT_TOKEN_TYPE, value: 'good' });
    const hit = await cached.attest({ type: JWT_TOKEN_TYPE, value: 'good' });
    expect(await lookups(metrics)).toEqual({ miss: 2, hit: 1 });
    expect(Object.getPrototypeOf(hit.claims)).toBe(Object.prototype);
    expect(Object.keys(hit.claims)).toEqual(['sub', '__proto__', 'exp']);
    expect(Object.getOwnPropertyDescriptor(hit.claims, '__proto__')?.value).toEqual({ polluted: true });
    expect((hit.claims as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
