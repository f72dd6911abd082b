/**
 * Generate one signing key pair with node:crypto and export it as JWKs, identified by its
 * RFC 7638 thumbprint. Key generation runs on the libuv thread pool, so an RSA key does not
 * stall the event loop.
 */
import { createPrivateKey, generateKeyPair, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { StintError } from '../errors.js';

/** Algorithms Stint signs its JWTs with. */
export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

/** Every supported signing algorithm. */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'EdDSA', 'RS256'];

/** A public JWK as published in Stint's JWKS. */
export interface PublicJwk {
  readonly kty: string;
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly use: 'sig';
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
}

/** A freshly generated key: its kid, both JWKs (as stored) and the private KeyObject. */
export interface GeneratedKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly publicJwk: PublicJwk;
  /** The private JWK (with `d`); stored only in the 0600 store. */
  readonly privateJwk: JsonWebKey;
  readonly privateKey: KeyObject;
}

const generate = promisify(generateKeyPair);

/** RSA modulus length of RS256 keys. */
export const RSA_MODULUS_BITS = 2048;

async function generatePair(alg: SigningAlgorithm): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  switch (alg) {
    case 'ES256':
      return generate('ec', { namedCurve: 'P-256' });
    case 'EdDSA':
      return generate('ed25519');
    case 'RS256':
      return generate('rsa', { modulusLength: RSA_MODULUS_BITS });
  }
}

/** The public members of a key (what RFC 7638 and the JWKS need), from either JWK. */
function publicMembers(jwk: JsonWebKey): Record<string, string> {
  switch (jwk.kty) {
    case 'EC':
      return { kty: 'EC', crv: jwk.crv!, x: jwk.x!, y: jwk.y! };
    case 'OKP':
      return { kty: 'OKP', crv: jwk.crv!, x: jwk.x! };
    case 'RSA':
      return { kty: 'RSA', n: jwk.n!, e: jwk.e! };
    default:
      throw new StintError('ERR_INTERNAL', `unsupported signing key type ${String(jwk.kty)}`);
  }
}

/** The key type a signing algorithm needs, as node:crypto names it. */
export function keyTypeOf(alg: SigningAlgorithm): 'ec' | 'ed25519' | 'rsa' {
  return alg === 'ES256' ? 'ec' : alg === 'EdDSA' ? 'ed25519' : 'rsa';
}

/** Generate a signing key for `alg`. */
export async function generateSigningKey(alg: SigningAlgorithm): Promise<GeneratedKey> {
  const { publicKey, privateKey } = await generatePair(alg);
  const pub = publicMembers(publicKey.export({ format: 'jwk' }));
  const kid = await calculateJwkThumbprint(pub as JWK, 'sha256');
  const publicJwk: PublicJwk = { ...pub, kid, alg, use: 'sig' } as PublicJwk;
  const privateJwk: JsonWebKey = { ...privateKey.export({ format: 'jwk' }), kid, alg };
  return { kid, alg, publicJwk, privateJwk, privateKey };
}

/** Import a stored private JWK, checking that it fits `alg`. */
export function importPrivateJwk(json: string, alg: SigningAlgorithm, kid: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: JSON.parse(json) as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new StintError('ERR_INTERNAL', `stored signing key ${kid} cannot be loaded`, { kid }, { cause: err });
  }
  if (key.asymmetricKeyType !== keyTypeOf(alg)) {
    throw new StintError('ERR_INTERNAL', `stored signing key ${kid} is not a ${alg} key`, { kid, alg });
  }
  return key;
}

/** Parse a stored public JWK into its published form. */
export function parsePublicJwk(json: string, alg: SigningAlgorithm, kid: string): PublicJwk {
  let jwk: JsonWebKey;
  try {
    jwk = JSON.parse(json) as JsonWebKey;
  } catch (err) {
    throw new StintError('ERR_INTERNAL', `stored public key ${kid} is not JSON`, { kid }, { cause: err });
  }
  return { ...publicMembers(jwk), kid, alg, use: 'sig' } as PublicJwk;
}

/** True when `alg` names an algorithm Stint signs with. */
export function isSigningAlgorithm(alg: string): alg is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(alg);
}
