/**
 * Introspection across replicas whose clocks differ (issue 14, clock skew): a Stint JWT signed by a
 * replica up to a minute ahead is active on a replica behind it (jose's clockTolerance on nbf/iat),
 * while whether it is still active is decided by the grant's expiry and state, by this replica's clock.
 */
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { INTROSPECTION_CLOCK_TOLERANCE_SECONDS, Introspector } from '../../src/pipeline/introspect.js';
import type { Grant, Store } from '../../src/store/store.js';
import { FakeClock } from '../support/fake_clock.js';

const ISSUER = 'https://stint.example';
let jwks: JSONWebKeySet;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }] };
});

function grant(id: string, expiresAt: number, state: Grant['state'] = 'active'): Grant {
  return { id, identity: 'spiffe://stint.local/ns/a/sa/b', attestor: 'cluster', issuer: 'https://k8s.example', rule: 'r', kind: 'stint-jwt', audience: 'api', target: null, issuedAt: expiresAt - 600, expiresAt, state, revokedAt: null, revokedReason: null, revocationHandle: null, credentialFingerprint: 'fp', cleanup: 'none', cleanupAttempts: 0, cleanupNextAt: null, cleanupError: null };
}

/** A token as a replica whose clock reads `signerNow` (epoch seconds) signs it. */
async function tokenFrom(signerNow: number, jti: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(ISSUER).setSubject('spiffe://stint.local/ns/a/sa/b').setAudience('api').setJti(jti).setIssuedAt(signerNow).setNotBefore(signerNow).setExpirationTime(signerNow + 600).sign(privateKey);
}

function introspector(grants: Grant[], clock: FakeClock): Introspector {
  const store = { getGrant: async (id: string) => grants.find((g) => g.id === id) ?? null } as unknown as Store;
  return new Introspector({ issuer: ISSUER, jwks: () => jwks, store, clock });
}

describe('introspection with replicas whose clocks differ', () => {
  it('a token from a replica 45 s ahead is active here', async () => {
    const clock = new FakeClock();
    const here = Math.floor(clock.now() / 1000);
    const r = await introspector([grant('g1', here + 645)], clock).introspect(await tokenFrom(here + 45, 'g1'));
    expect(r).toMatchObject({ active: true, jti: 'g1' });
  });

  it(`a token from a replica further ahead than ${INTROSPECTION_CLOCK_TOLERANCE_SECONDS} s is not`, async () => {
    const clock = new FakeClock();
    const here = Math.floor(clock.now() / 1000);
    const r = await introspector([grant('g2', here + 700)], clock).introspect(await tokenFrom(here + INTROSPECTION_CLOCK_TOLERANCE_SECONDS + 30, 'g2'));
    expect(r).toEqual({ active: false });
  });

  it("the tolerance does not stretch a grant's end: past its expiry by this clock, or revoked, it is inactive", async () => {
    const clock = new FakeClock();
    const here = Math.floor(clock.now() / 1000);
    const token = await tokenFrom(here - 590, 'g3');
    expect(await introspector([grant('g3', here + 10)], clock).introspect(token)).toMatchObject({ active: true });
    clock.advance(20_000);
    expect(await introspector([grant('g3', here + 10)], clock).introspect(token)).toEqual({ active: false });
    expect(await introspector([grant('g3', here + 600, 'revoked')], new FakeClock()).introspect(await tokenFrom(here, 'g3'))).toEqual({ active: false });
  });
});
