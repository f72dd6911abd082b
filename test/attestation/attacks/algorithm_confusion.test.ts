/** Attacks on the algorithm: `none`, HMAC with the public key, algorithms outside the allowlist. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attestorConfigSchema } from '../../../src/config/schema.js';
import { AUDIENCE, expectRefused, expectStillServes, startHarness, type Harness } from '../helpers.js';

describe('algorithm confusion', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ config: { algorithms: ['RS256'] } });
  });
  afterEach(async () => {
    await expectStillServes(h);
    await h.close();
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])('refuses an unsigned token with alg %s', async (alg) => {
    const token = h.issuer.mintRaw({ alg, typ: 'JWT' }, h.issuer.claims(AUDIENCE));
    expect(token.endsWith('.')).toBe(true);
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ALG_NOT_ALLOWED', { details: { reason: 'alg_none' }, token });
  });

  it('refuses alg none even with a signature attached', async () => {
    const signed = await h.goodToken();
    const [, , signature] = signed.split('.');
    const unsigned = h.issuer.mintRaw({ alg: 'none' }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(`${unsigned}${signature}`), 'ERR_TOKEN_ALG_NOT_ALLOWED');
  });

  it('refuses HS256 signed with the issuer public key (PEM) as HMAC secret', async () => {
    const pem = h.issuer.signingKey.publicKey.export({ type: 'spki', format: 'pem' });
    const token = h.issuer.mintRaw({ alg: 'HS256', kid: h.issuer.signingKey.kid }, h.issuer.claims(AUDIENCE), { hmacSecret: pem });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ALG_NOT_ALLOWED', { details: { reason: 'alg_symmetric' }, token });
  });

  it('refuses HS256 signed with the issuer public JWK modulus as HMAC secret', async () => {
    const n = Buffer.from(h.issuer.signingKey.publicJwk.n ?? '', 'base64url');
    const token = h.issuer.mintRaw({ alg: 'HS256', kid: h.issuer.signingKey.kid }, h.issuer.claims(AUDIENCE), { hmacSecret: n });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ALG_NOT_ALLOWED', { details: { reason: 'alg_symmetric' } });
  });

  it.each(['HS384', 'HS512'])('refuses %s whatever the secret', async (alg) => {
    const token = h.issuer.mintRaw({ alg, kid: h.issuer.signingKey.kid }, h.issuer.claims(AUDIENCE), { hmacSecret: 'secret' });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ALG_NOT_ALLOWED');
  });

  it('refuses an asymmetric algorithm the issuer is not configured for, even with a published key', async () => {
    const es = h.issuer.addKey('ES256');
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE), { key: es });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ALG_NOT_ALLOWED', { details: { reason: 'alg_not_in_allowlist', alg: 'ES256' } });
  });

  it('refuses PS256 over the RS256 key when only RS256 is allowed (RSA padding confusion)', async () => {
    const token = h.issuer.mintRaw({ alg: 'PS256', kid: h.issuer.signingKey.kid }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ALG_NOT_ALLOWED');
  });

  it('refuses a header without alg', async () => {
    const token = h.issuer.mintRaw({ kid: h.issuer.signingKey.kid }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ALG_NOT_ALLOWED', { details: { reason: 'alg_missing' } });
  });

  it('refuses a non-string alg', async () => {
    const token = h.issuer.mintRaw({ alg: ['RS256'], kid: h.issuer.signingKey.kid }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ALG_NOT_ALLOWED');
  });
});

describe('algorithm allowlist configuration', () => {
  it.each([['HS256'], ['none'], ['RS256', 'HS256']])('refuses %j in an attestor allowlist at config time', (...algorithms) => {
    const result = attestorConfigSchema.safeParse({ kind: 'oidc', issuer: 'https://issuer.example', algorithms });
    expect(result.success).toBe(false);
  });
});
