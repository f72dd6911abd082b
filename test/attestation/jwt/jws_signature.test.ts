/**
 * The node:crypto signature step in isolation: which keys fit which algorithm (as jose required
 * them: RSA of 2048 bits or more, the algorithm's curve, Ed25519, a CryptoKey imported for that
 * algorithm), one KeyObject per CryptoKey, and verification that answers true or false and never
 * throws. Wycheproof's vectors are in jws_signature_wycheproof.test.ts.
 */
import { constants, generateKeyPairSync, KeyObject, sign, type KeyPairKeyObjectResult } from 'node:crypto';
import { createLocalJWKSet, exportJWK, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { jwsVerificationKey, verifyJwsSignature } from '../../../src/attestation/jwt/jws_signature.js';

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
const ed25519 = generateKeyPairSync('ed25519');
const ed448 = generateKeyPairSync('ed448');

const PAIRS: Readonly<Record<string, KeyPairKeyObjectResult>> = {
  RS256: rsa2048,
  RS384: rsa2048,
  RS512: rsa2048,
  PS256: rsa2048,
  PS384: rsa2048,
  PS512: rsa2048,
  ES256: p256,
  ES384: p384,
  ES512: p521,
  EdDSA: ed25519,
};
const ALGS = Object.keys(PAIRS);

/** A JWS signature made with node:crypto the way RFC 7518 and RFC 8037 define each algorithm. */
function signFor(alg: string, data: Buffer, key: KeyObject): Buffer {
  const bits = alg.slice(2);
  if (alg.startsWith('RS')) return sign(`sha${bits}`, data, key);
  if (alg.startsWith('PS')) return sign(`sha${bits}`, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 });
  if (alg.startsWith('ES')) return sign(`sha${bits}`, data, { key, dsaEncoding: 'ieee-p1363' });
  return sign(null, data, key);
}

/** The CryptoKey jose's key selection returns for a published JWK and `alg`. */
async function cryptoKeyFor(alg: string, publicKey: KeyObject): Promise<unknown> {
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k' };
  return createLocalJWKSet({ keys: [jwk] })({ alg, kid: 'k' });
}

const data = Buffer.from('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9', 'latin1');

describe('jwsVerificationKey', () => {
  it.each(ALGS)('accepts the %s key jose selects (a CryptoKey) and a fitting KeyObject', async (alg) => {
    const pair = PAIRS[alg] as KeyPairKeyObjectResult;
    const fromJose = jwsVerificationKey(alg, await cryptoKeyFor(alg, pair.publicKey));
    expect(fromJose).toBeInstanceOf(KeyObject);
    expect(fromJose?.equals(pair.publicKey)).toBe(true);
    expect(jwsVerificationKey(alg, pair.publicKey)).toBe(pair.publicKey);
  });

  it('converts a CryptoKey once: the same KeyObject for the same CryptoKey', async () => {
    const cryptoKey = await cryptoKeyFor('RS256', rsa2048.publicKey);
    const first = jwsVerificationKey('RS256', cryptoKey);
    expect(first).not.toBeNull();
    expect(jwsVerificationKey('RS256', cryptoKey)).toBe(first);
  });

  it('refuses an RSA modulus under 2048 bits for RS* and PS*, as jose did', async () => {
    for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']) {
      expect(jwsVerificationKey(alg, rsa1024.publicKey), alg).toBeNull();
      expect(jwsVerificationKey(alg, await cryptoKeyFor(alg, rsa1024.publicKey)), alg).toBeNull();
    }
    expect(jwsVerificationKey('RS256', rsa2048.publicKey)).not.toBeNull();
  });

  it('refuses an EC key on another curve than the algorithm names', () => {
    expect(jwsVerificationKey('ES256', p384.publicKey)).toBeNull();
    expect(jwsVerificationKey('ES384', p256.publicKey)).toBeNull();
    expect(jwsVerificationKey('ES512', p384.publicKey)).toBeNull();
    expect(jwsVerificationKey('ES256', secp256k1.publicKey)).toBeNull();
    expect(jwsVerificationKey('ES256', p256.publicKey)).not.toBeNull();
  });

  it('refuses a key of another type: RSA for ES*/EdDSA, EC for RS*, Ed448 for EdDSA', () => {
    expect(jwsVerificationKey('ES256', rsa2048.publicKey)).toBeNull();
    expect(jwsVerificationKey('EdDSA', rsa2048.publicKey)).toBeNull();
    expect(jwsVerificationKey('RS256', p256.publicKey)).toBeNull();
    expect(jwsVerificationKey('PS256', ed25519.publicKey)).toBeNull();
    expect(jwsVerificationKey('EdDSA', ed448.publicKey)).toBeNull();
    expect(jwsVerificationKey('EdDSA', ed25519.publicKey)).not.toBeNull();
  });

  it('refuses a private or secret key, and anything that is not a key', () => {
    expect(jwsVerificationKey('RS256', rsa2048.privateKey)).toBeNull();
    expect(jwsVerificationKey('EdDSA', ed25519.privateKey)).toBeNull();
    for (const notAKey of [undefined, null, 'key', Buffer.alloc(32), new Uint8Array(32), { kty: 'RSA' }, {}]) {
      expect(jwsVerificationKey('RS256', notAKey)).toBeNull();
    }
    expect(jwsVerificationKey('RS256', rsa2048.publicKey)).not.toBeNull();
  });

  it('refuses a CryptoKey jose imported for another algorithm (RSA padding or hash confusion)', async () => {
    const forRs256 = await cryptoKeyFor('RS256', rsa2048.publicKey);
    expect(jwsVerificationKey('PS256', forRs256)).toBeNull();
    expect(jwsVerificationKey('RS384', forRs256)).toBeNull();
    const forPs256 = await cryptoKeyFor('PS256', rsa2048.publicKey);
    expect(jwsVerificationKey('RS256', forPs256)).toBeNull();
    expect(jwsVerificationKey('PS256', forPs256)).not.toBeNull();
  });

  it('refuses every algorithm outside the JWS set (none, HS*, unknown)', () => {
    for (const alg of ['none', 'HS256', 'ES256K', 'RSA-OAEP', 'Ed25519', '']) expect(jwsVerificationKey(alg, rsa2048.publicKey)).toBeNull();
  });
});

describe('verifyJwsSignature', () => {
  it.each(ALGS)('verifies a %s signature and refuses it over other data or after one flipped bit', (alg) => {
    const pair = PAIRS[alg] as KeyPairKeyObjectResult;
    const signature = signFor(alg, data, pair.privateKey);
    expect(verifyJwsSignature(alg, pair.publicKey, data, signature)).toBe(true);
    expect(verifyJwsSignature(alg, pair.publicKey, Buffer.concat([data, Buffer.from('x')]), signature)).toBe(false);
    const flipped = Buffer.from(signature);
    flipped[flipped.length >> 1] = (flipped[flipped.length >> 1] as number) ^ 1;
    expect(verifyJwsSignature(alg, pair.publicKey, data, flipped)).toBe(false);
  });

  it.each(ALGS)('answers false, never throws, for %s signatures of any wrong size or made of zeros or ones', (alg) => {
    const pair = PAIRS[alg] as KeyPairKeyObjectResult;
    const size = signFor(alg, data, pair.privateKey).length;
    for (const bytes of [0, 1, size - 1, size + 1, 2 * size]) {
      expect(verifyJwsSignature(alg, pair.publicKey, data, Buffer.alloc(bytes, 0x5a))).toBe(false);
    }
    expect(verifyJwsSignature(alg, pair.publicKey, data, Buffer.alloc(size, 0))).toBe(false);
    expect(verifyJwsSignature(alg, pair.publicKey, data, Buffer.alloc(size, 0xff))).toBe(false);
  });

  it('refuses a PS256 signature made with another salt length (RFC 7518: salt = hash length)', () => {
    const other = sign('sha256', data, { key: rsa2048.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 });
    expect(verifyJwsSignature('PS256', rsa2048.publicKey, data, other)).toBe(false);
    const right = sign('sha256', data, { key: rsa2048.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    expect(verifyJwsSignature('PS256', rsa2048.publicKey, data, right)).toBe(true);
  });

  it('refuses a DER-encoded ECDSA signature: JWS carries r || s', () => {
    const der = sign('sha256', data, { key: p256.privateKey, dsaEncoding: 'der' });
    expect(verifyJwsSignature('ES256', p256.publicKey, data, der)).toBe(false);
  });

  it('refuses a signature under one algorithm presented as another of the same key', () => {
    const rs256 = signFor('RS256', data, rsa2048.privateKey);
    expect(verifyJwsSignature('PS256', rsa2048.publicKey, data, rs256)).toBe(false);
    expect(verifyJwsSignature('RS384', rsa2048.publicKey, data, rs256)).toBe(false);
    expect(verifyJwsSignature('RS256', rsa2048.publicKey, data, rs256)).toBe(true);
  });

  it('answers false for an unknown algorithm or a key that does not fit it, even under a signature valid for that key', () => {
    const rs256 = signFor('RS256', data, rsa2048.privateKey);
    expect(verifyJwsSignature('HS256', rsa2048.publicKey, data, rs256)).toBe(false);
    // crypto.verify follows the key: without the check, an RSA key would verify RS256 as "ES256".
    expect(verifyJwsSignature('ES256', rsa2048.publicKey, data, rs256)).toBe(false);
    const p384WithSha256 = sign('sha256', data, { key: p384.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifyJwsSignature('ES256', p384.publicKey, data, p384WithSha256)).toBe(false);
    expect(verifyJwsSignature('RS256', rsa1024.publicKey, data, signFor('RS256', data, rsa1024.privateKey))).toBe(false);
    expect(verifyJwsSignature('EdDSA', p256.publicKey, data, Buffer.alloc(64))).toBe(false);
    expect(verifyJwsSignature('RS256', rsa2048.publicKey, data, rs256)).toBe(true);
  });
});
