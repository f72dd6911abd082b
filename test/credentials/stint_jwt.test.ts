import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { createStintJwtProvider, JWT_TOKEN_TYPE, REGISTERED_CLAIMS } from '../../src/credentials/stint_jwt.js';
import { Keyring, type SigningAlgorithm } from '../../src/keys/keyring.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite.js';
import { FakeClock } from '../support/fake_clock.js';
import { draftFor, IDENTITY, ISSUER } from './drafts.js';

const MAX_TTL = 3600;
const ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'EdDSA', 'RS256'];

interface Setup {
  clock: FakeClock;
  keyring: Keyring;
  provider: CredentialProvider;
  verify(token: string, audience?: string): Promise<{ payload: JWTPayload; protectedHeader: Record<string, unknown> }>;
}

let dir: string;
const stores: SqliteStore[] = [];
const setups = new Map<SigningAlgorithm, Setup>();

async function setup(algorithm: SigningAlgorithm): Promise<Setup> {
  const clock = new FakeClock();
  const store = openSqliteStore(join(dir, `${algorithm}.db`));
  stores.push(store);
  const keyring = await Keyring.open({ store, clock, algorithm, rotationPeriodSeconds: 86400, prepublishSeconds: 3600, maxTokenTtlSeconds: MAX_TTL });
  const provider = createStintJwtProvider({ issuer: ISSUER, keyring, clock, maxTtlSeconds: MAX_TTL });
  return {
    clock,
    keyring,
    provider,
    async verify(token, audience) {
      const jwks = createLocalJWKSet(keyring.jwks());
      const result = await jwtVerify(token, jwks, {
        issuer: ISSUER,
        ...(audience !== undefined ? { audience } : {}),
        algorithms: [algorithm],
        typ: 'stint+jwt',
        currentDate: new Date(clock.now()),
      });
      return { payload: result.payload, protectedHeader: result.protectedHeader as Record<string, unknown> };
    },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stint-jwt-'));
  for (const alg of ALGORITHMS) setups.set(alg, await setup(alg));
});
afterAll(async () => {
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function nowOf(s: Setup): number {
  return Math.floor(s.clock.now() / 1000);
}

describe('stint-jwt provider', () => {
  for (const alg of ALGORITHMS) {
    describe(alg, () => {
      it('issues a compact JWS that jose verifies against the JWKS, with exactly the expected claims', async () => {
        const s = setups.get(alg)!;
        const now = nowOf(s);
        const draft = draftFor({ issuedAt: now, ttl: 900, passClaims: { namespace: 'default', run: 42, tags: ['a', 'b'], nested: { ok: true } } });
        const credential = await s.provider.issue(draft);
        expect(credential.token.split('.')).toHaveLength(3);
        const { payload, protectedHeader } = await s.verify(credential.token, 'https://api.example.com');
        expect(protectedHeader).toEqual({ alg, kid: s.keyring.signer().kid, typ: 'stint+jwt' });
        expect(payload).toEqual({
          iss: ISSUER,
          sub: IDENTITY.id,
          aud: 'https://api.example.com',
          iat: now,
          nbf: now,
          exp: now + 900,
          jti: draft.id,
          namespace: 'default',
          run: 42,
          tags: ['a', 'b'],
          nested: { ok: true },
        });
        // Registered claims come first in the encoded payload.
        const encoded = Buffer.from(credential.token.split('.')[1]!, 'base64url').toString();
        expect(Object.keys(JSON.parse(encoded) as object).slice(0, 7)).toEqual(['iss', 'sub', 'aud', 'iat', 'nbf', 'exp', 'jti']);
      });

      it('returns the credential envelope: type, expiry, renewal at 2/3 of the TTL', async () => {
        const s = setups.get(alg)!;
        const now = nowOf(s);
        const credential = await s.provider.issue(draftFor({ issuedAt: now, ttl: 900 }));
        expect(credential).toMatchObject({
          kind: 'stint-jwt',
          tokenType: JWT_TOKEN_TYPE,
          fields: {},
          secretFields: [],
          expiresAt: now + 900,
          renewAfter: now + 600,
        });
        expect(credential.revocationHandle).toBeUndefined();
        const odd = await s.provider.issue(draftFor({ issuedAt: now, ttl: 100 }));
        expect(odd.renewAfter).toBe(now + 66);
      });
    });
  }

  it('never lets passClaims override the registered claims', async () => {
    const s = setups.get('ES256')!;
    const now = nowOf(s);
    const hostile = { iss: 'https://evil.example', sub: 'admin', aud: 'https://bank.example', exp: now + 10 ** 9, iat: 0, nbf: 0, jti: 'fixed', scope: 'admin:*', team: 'payments' };
    const draft = draftFor({ issuedAt: now, ttl: 300, passClaims: hostile });
    const { payload } = await s.verify((await s.provider.issue(draft)).token, 'https://api.example.com');
    expect(payload).toEqual({ iss: ISSUER, sub: IDENTITY.id, aud: 'https://api.example.com', iat: now, nbf: now, exp: now + 300, jti: draft.id, team: 'payments' });
  });

  it('puts granted scopes in a space-separated scope claim', async () => {
    const s = setups.get('ES256')!;
    const now = nowOf(s);
    const { payload } = await s.verify((await s.provider.issue(draftFor({ issuedAt: now, ttl: 60, scopes: ['read', 'write'] }))).token);
    expect(payload.scope).toBe('read write');
  });

  it('treats a __proto__ pass claim as an ordinary claim', async () => {
    const s = setups.get('ES256')!;
    const now = nowOf(s);
    const passClaims = JSON.parse('{"__proto__": {"iss": "https://evil.example"}, "x": 1}') as Record<string, unknown>;
    const { payload } = await s.verify((await s.provider.issue(draftFor({ issuedAt: now, ttl: 60, passClaims }))).token);
    expect(payload.iss).toBe(ISSUER);
    expect(Object.getOwnPropertyDescriptor(payload, '__proto__')?.value).toEqual({ iss: 'https://evil.example' });
  });

  it('signs with the new key after a rotation (the per-key cache follows the keyring)', async () => {
    const s = await setup('ES256');
    const before = await s.provider.issue(draftFor({ issuedAt: nowOf(s), ttl: 60 }));
    const { current } = await s.keyring.rotateNow({ force: true });
    const after = await s.provider.issue(draftFor({ issuedAt: nowOf(s), ttl: 60 }));
    expect(decodeProtectedHeader(before.token).kid).not.toBe(current);
    expect(decodeProtectedHeader(after.token).kid).toBe(current);
    await s.verify(before.token);
    await s.verify(after.token);
  });

  describe('refuses', () => {
    it('a grant without an audience: ERR_INVALID_REQUEST', async () => {
      const s = setups.get('ES256')!;
      await expect(s.provider.issue(draftFor({ issuedAt: nowOf(s), ttl: 60, audience: undefined }))).rejects.toMatchObject({
        code: 'ERR_INVALID_REQUEST',
        details: { kind: 'stint-jwt', field: 'audience' },
      });
      await expect(s.provider.issue(draftFor({ issuedAt: nowOf(s), ttl: 60, audience: '' }))).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST' });
    });

    it('a TTL above the provider limit, zero or negative: ERR_INVALID_REQUEST', async () => {
      const s = setups.get('ES256')!;
      for (const ttl of [MAX_TTL + 1, 0, -5]) {
        await expect(s.provider.issue(draftFor({ issuedAt: nowOf(s), ttl }))).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST' });
      }
      await expect(s.provider.issue(draftFor({ issuedAt: nowOf(s), ttl: MAX_TTL }))).resolves.toBeDefined();
    });

    it('a draft that has already expired: ERR_INVALID_REQUEST', async () => {
      const s = setups.get('ES256')!;
      await expect(s.provider.issue(draftFor({ issuedAt: nowOf(s) - 120, ttl: 60 }))).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST' });
    });

    it('a maxTtlSeconds above what the keyring keeps keys published for: ERR_CONFIG_INVALID', () => {
      const s = setups.get('ES256')!;
      expect(() => createStintJwtProvider({ issuer: ISSUER, keyring: s.keyring, clock: s.clock, maxTtlSeconds: MAX_TTL + 1 })).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
      );
    });
  });

  it('declares its kind, limit and requirement, and says revocation is not effective upstream', async () => {
    const { provider } = setups.get('ES256')!;
    expect(provider).toMatchObject({ kind: 'stint-jwt', maxTtlSeconds: MAX_TTL, requires: 'audience' });
    await expect(provider.revoke({ id: 'g1', kind: 'stint-jwt', identity: 'spiffe://x', target: null, audience: 'a', expiresAt: 0, revocationHandle: null })).resolves.toEqual({
      effective: false,
      note: 'Stint JWTs stay valid until expiry for verifiers that do not call introspection; introspection reports them inactive',
    });
  });

  it('property: any claims and TTL give a token that verifies and round-trips the claims', async () => {
    const claimName = fc.string({ minLength: 1, maxLength: 12 });
    const arb = fc.record({
      alg: fc.constantFrom(...ALGORITHMS),
      ttl: fc.integer({ min: 1, max: MAX_TTL }),
      audience: fc.string({ minLength: 1, maxLength: 40 }),
      identityId: fc.string({ maxLength: 60 }),
      passClaims: fc.dictionary(fc.oneof(claimName, fc.constantFrom(...REGISTERED_CLAIMS)), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
      scopes: fc.array(fc.stringMatching(/^[a-z:]{1,8}$/), { maxLength: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ alg, ttl, audience, identityId, passClaims, scopes }) => {
        const s = setups.get(alg)!;
        const now = nowOf(s);
        const draft = draftFor({ issuedAt: now, ttl, audience, passClaims, scopes, identity: { ...IDENTITY, id: identityId } });
        const credential = await s.provider.issue(draft);
        const { payload, protectedHeader } = await s.verify(credential.token, audience);
        const expected: Record<string, unknown> = { iss: ISSUER, sub: identityId, aud: audience, iat: now, nbf: now, exp: now + ttl, jti: draft.id };
        if (scopes.length > 0) expected.scope = scopes.join(' ');
        for (const [name, value] of Object.entries(passClaims)) {
          if (!REGISTERED_CLAIMS.has(name)) Object.defineProperty(expected, name, { value, enumerable: true, writable: true, configurable: true });
        }
        expect(protectedHeader).toEqual({ alg, kid: s.keyring.signer().kid, typ: 'stint+jwt' });
        expect(payload).toEqual(JSON.parse(JSON.stringify(expected)));
        expect(credential.expiresAt).toBe(now + ttl);
        expect(credential.renewAfter).toBe(now + Math.floor((2 * ttl) / 3));
      }),
      { numRuns: 150 },
    );
  });

  // Its speed (goal: under 1 ms a token) is measured by `npm run bench` (attest.bench.ts, "Credential
  // signing"), never timed here; this keeps the functional half: thousands back to back, each distinct and valid.
  it('issues 2,000 tokens back to back, each with its own jti, each verifying', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const s = setups.get(alg)!;
      const drafts = Array.from({ length: 2000 }, () => draftFor({ issuedAt: nowOf(s), ttl: 900, passClaims: { namespace: 'default' } }));
      const tokens: string[] = [];
      for (const d of drafts) tokens.push((await s.provider.issue(d)).token);
      expect(new Set(tokens).size).toBe(drafts.length);
      for (const i of [0, 999, 1999]) expect((await s.verify(tokens[i]!)).payload.jti).toBe(drafts[i]!.id);
    }
  });
});

describe('explicit typing (RFC 8725 §3.11)', () => {
  it('a verifier requiring typ stint+jwt accepts a Stint JWT and refuses one typed for something else', async () => {
    const s = await setup('ES256');
    const credential = await s.provider.issue(draftFor({ issuedAt: nowOf(s), ttl: 300 }));
    const jwks = createLocalJWKSet(s.keyring.jwks());
    const options = { issuer: ISSUER, audience: 'https://api.example.com', currentDate: new Date(s.clock.now()) };
    await expect(jwtVerify(credential.token, jwks, { ...options, typ: 'stint+jwt' })).resolves.toBeDefined();
    await expect(jwtVerify(credential.token, jwks, { ...options, typ: 'at+jwt' })).rejects.toThrow(/typ/);
  });

  it('credentials.jwtTyp JWT opts back into the generic type for a verifier that insists on it', async () => {
    const s = await setup('ES256');
    const generic = createStintJwtProvider({ issuer: ISSUER, keyring: s.keyring, clock: s.clock, maxTtlSeconds: MAX_TTL, typ: 'JWT' });
    const credential = await generic.issue(draftFor({ issuedAt: nowOf(s), ttl: 300 }));
    const { protectedHeader } = await s.verify(credential.token, 'https://api.example.com').catch(() => ({ protectedHeader: null }));
    expect(protectedHeader).toBeNull();
    const header = JSON.parse(Buffer.from(credential.token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect(header.typ).toBe('JWT');
  });
});
