/**
 * Wycheproof's signature vectors (test/vectors/wycheproof/) against the signature step subject
 * tokens go through (issue 12): each group's public key is published in a JWKS file and chosen
 * by the production key source (jose's key selection, key_source.ts), turned into a KeyObject by
 * jwsVerificationKey, and every vector is verified by verifyJwsSignature, the functions verify.ts
 * calls. `valid` must verify, `invalid` must be false (never an exception), and each `acceptable`
 * vector's outcome is pinned below with its reason.
 */
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { jwsVerificationKey, verifyJwsSignature } from '../../../src/attestation/jwt/jws_signature.js';
import { createKeySource } from '../../../src/attestation/jwt/key_source.js';
import { FakeClock } from '../../support/fake_clock.js';

const VECTORS = join(import.meta.dirname, '../../vectors/wycheproof');

/** Each vendored file and the JWS algorithm it exercises. */
const FILES: ReadonlyArray<readonly [file: string, alg: string]> = [
  ['rsa_signature_2048_sha256_test.json', 'RS256'],
  ['rsa_signature_2048_sha384_test.json', 'RS384'],
  ['rsa_signature_2048_sha512_test.json', 'RS512'],
  ['rsa_pss_2048_sha256_mgf1_32_test.json', 'PS256'],
  ['rsa_pss_2048_sha384_mgf1_48_test.json', 'PS384'],
  ['rsa_pss_4096_sha512_mgf1_64_test.json', 'PS512'],
  ['ecdsa_secp256r1_sha256_p1363_test.json', 'ES256'],
  ['ecdsa_secp384r1_sha384_p1363_test.json', 'ES384'],
  ['ecdsa_secp521r1_sha512_p1363_test.json', 'ES512'],
  ['ed25519_test.json', 'EdDSA'],
];

/**
 * The outcome Stint gives each `acceptable` vector (Wycheproof: either answer is compliant).
 * `MissingNull`: a PKCS #1 v1.5 DigestInfo whose AlgorithmIdentifier omits the NULL parameters,
 * which "some legacy implementations" produced (the file's note: invalid, accepted by some
 * libraries for compatibility). OpenSSL builds the expected encoding with the NULL and compares,
 * so Stint refuses it, as jose's WebCrypto path did; current JWS signers include the NULL.
 */
const ACCEPTABLE: Readonly<Record<string, boolean>> = {
  'rsa_signature_2048_sha256_test.json#8': false,
  'rsa_signature_2048_sha384_test.json#8': false,
  'rsa_signature_2048_sha512_test.json#8': false,
};

interface Vector {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly msg: string;
  readonly sig: string;
  readonly result: 'valid' | 'invalid' | 'acceptable';
}

interface Group {
  readonly publicKeyJwk?: JWK;
  readonly keyJwk?: JWK;
  readonly publicKeyDer: string;
  readonly tests: readonly Vector[];
}

interface VectorFile {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly Group[];
}

/** The group's public key as a JWKS member: the vector's own JWK when it has one, else from its DER. */
function groupJwk(group: Group, kid: string): JWK {
  const jwk = group.publicKeyJwk ?? group.keyJwk ?? (createPublicKey({ key: Buffer.from(group.publicKeyDer, 'hex'), format: 'der', type: 'spki' }).export({ format: 'jwk' }) as JWK);
  // The vectors' `alg` and `kid` members are the generator's; keys are chosen here by kid only.
  const { alg: _alg, kid: _kid, ...rest } = jwk;
  return { ...rest, kid };
}

const dir = mkdtempSync(join(tmpdir(), 'stint-wycheproof-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the JWS signature step against Wycheproof', () => {
  it.each(FILES)('%s (%s): valid verifies, invalid is refused, acceptable as pinned', async (file, alg) => {
    const data = JSON.parse(readFileSync(join(VECTORS, file), 'utf8')) as VectorFile;
    const jwksFile = join(dir, `${file}.jwks.json`);
    writeFileSync(jwksFile, JSON.stringify({ keys: data.testGroups.map((g, i) => groupJwk(g, `group-${i}`)) }));
    const keys = createKeySource({ attestorName: 'wycheproof', issuer: 'https://wycheproof.test', jwksFile, fetchTimeout: 5, refetchCooldown: 30, staleKeysFor: 3600, clock: new FakeClock() });

    const wrong: string[] = [];
    let run = 0;
    try {
      for (const [i, group] of data.testGroups.entries()) {
        const kid = `group-${i}`;
        const key = await keys.getKey({ alg, kid }, { protected: '', payload: '', signature: '' });
        const keyObject = jwsVerificationKey(alg, key);
        expect(keyObject, `${file} group ${i}: key refused for ${alg}`).not.toBeNull();
        if (keyObject === null) continue;
        for (const vector of group.tests) {
          run++;
          let verified: boolean | string;
          try {
            verified = verifyJwsSignature(alg, keyObject, Buffer.from(vector.msg, 'hex'), Buffer.from(vector.sig, 'hex'));
          } catch (err) {
            verified = `threw ${(err as Error).name}`;
          }
          const id = `${file}#${vector.tcId}`;
          const expected = vector.result === 'acceptable' ? ACCEPTABLE[id] : vector.result === 'valid';
          if (expected === undefined) wrong.push(`${id} acceptable (${vector.flags.join(',')}: ${vector.comment}) has no pinned outcome; got ${String(verified)}`);
          else if (verified !== expected) wrong.push(`${id} ${vector.result} (${vector.flags.join(',')}: ${vector.comment}): got ${String(verified)}`);
        }
      }
    } finally {
      keys.close();
    }
    expect(wrong).toEqual([]);
    expect(run).toBe(data.numberOfTests);
  });

  it('pins only acceptable vectors that exist', () => {
    for (const id of Object.keys(ACCEPTABLE)) {
      const [file, tcId] = id.split('#') as [string, string];
      const data = JSON.parse(readFileSync(join(VECTORS, file), 'utf8')) as VectorFile;
      const vector = data.testGroups.flatMap((g) => g.tests).find((t) => t.tcId === Number(tcId));
      expect(vector?.result, id).toBe('acceptable');
    }
  });
});
