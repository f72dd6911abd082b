/** verifyJwt used directly with a key source: the low-level API beneath the attestors. */
import { afterEach, describe, expect, it } from 'vitest';
import { createKeySource, type KeySource } from '../../../src/attestation/jwt/key_source.js';
import { verifyJwt, type JwtVerifyPolicy } from '../../../src/attestation/jwt/verify.js';
import { AUDIENCE, expectRefused } from '../helpers.js';
import { TestIssuer } from '../../support/test_issuer.js';
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
});
