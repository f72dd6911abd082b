/** verifyJwt used directly with a key source: the low-level API beneath the attestors. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { exportJWK, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createKeySource, type KeySource } from '../../../src/attestation/jwt/key_source.js';
import { precheckToken } from '../../../src/attestation/jwt/precheck.js';
import { verifyJwt, verifyPrechecked, type JwtVerifyPolicy } from '../../../src/attestation/jwt/verify.js';
import { AUDIENCE, expectRefused } from '../helpers.js';
import { b64url, joinToken, TestIssuer, tokenParts, type TestAlg } from '../../support/test_issuer.js';
import { mapJoseError } from '../../../src/attestation/jwt/map_jose_error.js';
import { FakeClock } from '../../support/fake_clock.js';

let issuer: TestIssuer;
let keys: KeySource;
afterEach(async () => {
  keys.close();
  await issuer.close();
});

const setUp = async (): Promise<{ clock: FakeClock; policy: JwtVerifyPolicy }> => {
  const clock = new FakeClock();
  issuer = await TestIssuer.start({ clock });
  keys = createKeySource({ attestorName: 'direct', issuer: issuer.issuer, fetchTimeout: 5, refetchCooldown: 30, staleKeysFor: 3600, clock });
  const policy: JwtVerifyPolicy = {
    issuer: issuer.issuer,
    algorithms: ['RS256'],
    audiences: [AUDIENCE],
    allowMultipleAudiences: false,
    clockSkew: 60,
    maxLifetime: 3600,
    maxTokenBytes: 16384,
  };
  return { clock, policy };
};

describe('verifyJwt', () => {
  it('returns the verified header, claims and fingerprint', async () => {
    const { clock, policy } = await setUp();
    const token = await issuer.mint(issuer.claims(AUDIENCE, { custom: 'Value' }));
    const result = await verifyJwt(token, policy, keys.getKey, clock);
    expect(result.header).toMatchObject({ alg: 'RS256', kid: issuer.signingKey.kid });
    expect(result.claims).toMatchObject({ iss: issuer.issuer, custom: 'Value' });
    expect(result.fingerprint).toMatch(/^sha256:/);
  });

  it('refuses a foreign iss byte-exact (CLAIM_INVALID on iss)', async () => {
    const { clock, policy } = await setUp();
    const token = await issuer.mint(issuer.claims(AUDIENCE, { iss: `${issuer.issuer}/` }));
    await expectRefused(verifyJwt(token, policy, keys.getKey, clock), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'iss' } });
  });

  it('in legacy mode requires neither exp nor aud, but still the signature and issuer', async () => {
    const { clock, policy } = await setUp();
    const legacy = { ...policy, issuer: 'kubernetes/serviceaccount', legacy: true };
    const token = await issuer.mintLegacyKubernetes({ namespace: 'ns', serviceAccount: 'sa' });
    await expect(verifyJwt(token, legacy, keys.getKey, clock)).resolves.toBeDefined();
    const forged = await issuer.mintLegacyKubernetes({ namespace: 'ns', serviceAccount: 'sa', key: issuer.unpublishedKey('RS256', issuer.signingKey.kid) });
    await expectRefused(verifyJwt(forged, legacy, keys.getKey, clock), 'ERR_TOKEN_SIGNATURE_INVALID');
  });

  const ALGS: readonly TestAlg[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

  it.each(ALGS)('verifies a %s token (node:crypto) as jose jwtVerify does, and refuses it forged or spliced', async (alg) => {
    const { clock, policy } = await setUp();
    const allowed = { ...policy, algorithms: [alg] };
    const key = issuer.addKey(alg);
    const token = await issuer.mint(issuer.claims(AUDIENCE), { key });
    const result = await verifyJwt(token, allowed, keys.getKey, clock);
    const { payload } = await jwtVerify(token, keys.getKey, { algorithms: [alg], currentDate: new Date(clock.now()) });
    expect(result.claims).toEqual(payload);

    const forged = await issuer.mint(issuer.claims(AUDIENCE), { key: issuer.unpublishedKey(alg, key.kid) });
    await expectRefused(verifyJwt(forged, allowed, keys.getKey, clock), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'signature' }, token: forged });
    const other = tokenParts(await issuer.mint(issuer.claims(AUDIENCE, { sub: 'other' }), { key }));
    const spliced = joinToken(tokenParts(token).header, other.payload, tokenParts(token).signature);
    await expectRefused(verifyJwt(spliced, allowed, keys.getKey, clock), 'ERR_TOKEN_SIGNATURE_INVALID');
    await expect(verifyJwt(token, allowed, keys.getKey, clock)).resolves.toBeDefined();
  });

  it('checks the signature before any claim: a forged expired token is a signature failure, as with jose', async () => {
    const { clock, policy } = await setUp();
    const claims = issuer.claims(AUDIENCE, { exp: Math.floor(clock.now() / 1000) - 3600, iat: Math.floor(clock.now() / 1000) - 4000 });
    const forged = await issuer.mint(claims, { key: issuer.unpublishedKey('RS256', issuer.signingKey.kid) });
    await expectRefused(verifyJwt(forged, policy, keys.getKey, clock), 'ERR_TOKEN_SIGNATURE_INVALID');
    const joseOutcome = await jwtVerify(forged, keys.getKey, { algorithms: ['RS256'], currentDate: new Date(clock.now()) }).catch((err: unknown) => mapJoseError(err, 'fp'));
    expect(joseOutcome).toMatchObject({ code: 'ERR_TOKEN_SIGNATURE_INVALID' });
    await expectRefused(verifyJwt(await issuer.mint(claims), policy, keys.getKey, clock), 'ERR_TOKEN_EXPIRED', { details: { claim: 'exp', reason: 'expired' } });
    await expect(verifyJwt(await issuer.mint(issuer.claims(AUDIENCE)), policy, keys.getKey, clock)).resolves.toBeDefined();
  });

  it('refuses a published RSA key under 2048 bits as unusable (KEY_NOT_FOUND, key_unusable), as jose did', async () => {
    const { clock, policy } = await setUp();
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const kid = 'small-rsa';
    issuer.setResponse('jwks', { body: { keys: [...issuer.jwks().keys, { ...(await exportJWK(small.publicKey)), kid, alg: 'RS256', use: 'sig' }] } });
    const header = b64url(JSON.stringify({ alg: 'RS256', kid }));
    const payload = b64url(JSON.stringify(issuer.claims(AUDIENCE)));
    // The precheck refuses a signature shorter than 2048 bits, so the small key signs a zero-padded 256-byte value.
    const signature = Buffer.concat([Buffer.alloc(128), sign('sha256', Buffer.from(`${header}.${payload}`), small.privateKey)]);
    const token = joinToken(header, payload, b64url(signature));
    await expectRefused(verifyJwt(token, policy, keys.getKey, clock), 'ERR_TOKEN_KEY_NOT_FOUND', { details: { reason: 'key_unusable' }, token });
    const joseOutcome = await jwtVerify(token, keys.getKey, { algorithms: ['RS256'] }).catch((err: unknown) => mapJoseError(err, 'fp'));
    expect(joseOutcome).toMatchObject({ code: 'ERR_TOKEN_KEY_NOT_FOUND', details: { reason: 'key_unusable' } });
    await expect(verifyJwt(await issuer.mint(issuer.claims(AUDIENCE)), policy, keys.getKey, clock)).resolves.toBeDefined();
  });

  it('re-checks the algorithm against the policy it is given (an override narrower than the precheck)', async () => {
    const { clock, policy } = await setUp();
    const token = await issuer.mint(issuer.claims(AUDIENCE));
    const prechecked = precheckToken(token, { maxTokenBytes: 16384, algorithms: ['RS256'] });
    await expectRefused(verifyPrechecked(token, prechecked, { ...policy, algorithms: ['ES256'] }, keys.getKey, clock), 'ERR_TOKEN_ALG_NOT_ALLOWED', {
      details: { reason: 'alg_not_in_allowlist' },
    });
    await expect(verifyPrechecked(token, prechecked, policy, keys.getKey, clock)).resolves.toBeDefined();
  });
});
