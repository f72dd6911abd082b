/**
 * The signature step of subject-token verification, on node:crypto and synchronous (issue 12:
 * jose's WebCrypto verify cost ~2.5 times as much CPU plus a thread-pool hop per token). jose
 * still selects the key (key_source.ts); the CryptoKey it returns is converted once to a
 * KeyObject, checked to fit the algorithm as jose checks it, then used with `crypto.verify`.
 * Wycheproof's vectors run against these two functions (test/attestation/jwt/jws_signature_wycheproof.test.ts).
 */
import { constants, KeyObject, verify as cryptoVerify, type webcrypto } from 'node:crypto';

/** What one JWS algorithm (RFC 7518 §3, RFC 8037) needs from its key and from crypto.verify. */
interface AlgorithmRule {
  /** Digest of crypto.verify; null for EdDSA (the digest is part of the scheme). */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** KeyObject type the key must have. */
  readonly keyType: 'rsa' | 'ec' | 'ed25519';
  /** OpenSSL name of the curve an EC key must be on. */
  readonly curve?: string;
  /** RSA padding: PKCS #1 v1.5 (RS*) or PSS with the salt as long as the hash (PS*, RFC 7518 §3.5). */
  readonly padding?: number;
  readonly saltLength?: number;
  /** The WebCrypto algorithm jose imports the key for; a CryptoKey of another one is refused as jose does. */
  readonly webCrypto: { readonly name: string; readonly hash?: string; readonly namedCurve?: string };
}

const rsa = (bits: 256 | 384 | 512): AlgorithmRule => ({
  hash: `sha${bits}`,
  keyType: 'rsa',
  padding: constants.RSA_PKCS1_PADDING,
  webCrypto: { name: 'RSASSA-PKCS1-v1_5', hash: `SHA-${bits}` },
});
const pss = (bits: 256 | 384 | 512): AlgorithmRule => ({
  hash: `sha${bits}`,
  keyType: 'rsa',
  padding: constants.RSA_PKCS1_PSS_PADDING,
  saltLength: bits / 8,
  webCrypto: { name: 'RSA-PSS', hash: `SHA-${bits}` },
});
const ecdsa = (bits: 256 | 384 | 512, curve: string, namedCurve: string): AlgorithmRule => ({
  hash: `sha${bits}`,
  keyType: 'ec',
  curve,
  webCrypto: { name: 'ECDSA', namedCurve },
});

const RULES: ReadonlyMap<string, AlgorithmRule> = new Map([
  ['RS256', rsa(256)],
  ['RS384', rsa(384)],
  ['RS512', rsa(512)],
  ['PS256', pss(256)],
  ['PS384', pss(384)],
  ['PS512', pss(512)],
  ['ES256', ecdsa(256, 'prime256v1', 'P-256')],
  ['ES384', ecdsa(384, 'secp384r1', 'P-384')],
  ['ES512', ecdsa(512, 'secp521r1', 'P-521')],
  ['EdDSA', { hash: null, keyType: 'ed25519', webCrypto: { name: 'Ed25519' } }],
]);

/** Smallest RSA modulus accepted, in bits (jose's rule for RS* and PS*). */
export const MIN_RSA_MODULUS_BITS = 2048;

// One KeyObject per CryptoKey: jose returns the same CryptoKey for a JWK and alg until its key set
// is replaced, so the conversion runs once per key, and the entry goes with the key set.
const keyObjects = new WeakMap<object, KeyObject>();

const isCryptoKey = (key: unknown): key is webcrypto.CryptoKey =>
  typeof key === 'object' && key !== null && (key as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'CryptoKey';

/**
 * The KeyObject to verify `alg` with, from the key jose's key selection returned (a CryptoKey,
 * or a KeyObject); null when the key cannot serve `alg`: not a public key, a CryptoKey imported
 * for another algorithm or without the verify usage, an RSA modulus under 2048 bits, an EC key
 * on another curve, not Ed25519 for EdDSA, or an unknown algorithm.
 */
export function jwsVerificationKey(alg: string, key: unknown): KeyObject | null {
  const rule = RULES.get(alg);
  if (rule === undefined) return null;
  let keyObject: KeyObject;
  if (key instanceof KeyObject) {
    keyObject = key;
  } else if (isCryptoKey(key)) {
    if (!cryptoKeyFits(key, rule)) return null;
    const cached = keyObjects.get(key);
    if (cached !== undefined) {
      keyObject = cached;
    } else {
      try {
        keyObject = KeyObject.from(key);
      } catch {
        return null;
      }
      keyObjects.set(key, keyObject);
    }
  } else {
    return null;
  }
  return keyObjectFits(keyObject, rule) ? keyObject : null;
}

function cryptoKeyFits(key: webcrypto.CryptoKey, rule: AlgorithmRule): boolean {
  const algorithm = key.algorithm as { name?: unknown; hash?: { name?: unknown }; namedCurve?: unknown };
  const expected = rule.webCrypto;
  return (
    key.type === 'public' &&
    key.usages.includes('verify') &&
    algorithm.name === expected.name &&
    (expected.hash === undefined || algorithm.hash?.name === expected.hash) &&
    (expected.namedCurve === undefined || algorithm.namedCurve === expected.namedCurve)
  );
}

function keyObjectFits(key: KeyObject, rule: AlgorithmRule): boolean {
  if (key.type !== 'public' || key.asymmetricKeyType !== rule.keyType) return false;
  const details = key.asymmetricKeyDetails;
  if (rule.keyType === 'rsa') return (details?.modulusLength ?? 0) >= MIN_RSA_MODULUS_BITS;
  if (rule.keyType === 'ec') return details?.namedCurve === rule.curve;
  return true;
}

/**
 * True when `signature` is a valid `alg` signature of `signingInput` (the ASCII bytes of
 * `header.payload`) under `key`, a key {@link jwsVerificationKey} returned for `alg`. Never
 * throws: anything crypto.verify refuses (a signature of the wrong size, an out-of-range value)
 * is false. ECDSA signatures are the JWS form, r || s (IEEE P1363), not DER.
 */
export function verifyJwsSignature(alg: string, key: KeyObject, signingInput: Uint8Array, signature: Uint8Array): boolean {
  const rule = RULES.get(alg);
  // crypto.verify picks the scheme from the key, not from the options: an RSA key given for ES256
  // would check a PKCS #1 v1.5 signature. The key is checked against the algorithm here too.
  if (rule === undefined || !keyObjectFits(key, rule)) return false;
  try {
    switch (rule.keyType) {
      case 'rsa':
        return cryptoVerify(rule.hash, signingInput, { key, padding: rule.padding, saltLength: rule.saltLength }, signature);
      case 'ec':
        return cryptoVerify(rule.hash, signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
      default:
        return cryptoVerify(null, signingInput, key, signature);
    }
  } catch {
    return false;
  }
}
