/**
 * Attacks through header members: keys embedded in or pointed at by the header (jwk, jku, x5u,
 * x5c) are never trusted nor fetched; `kid` is an opaque lookup key; `crit` and `b64` refused.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIENCE, expectRefused, expectStillServes, startHarness, type Harness } from '../helpers.js';
import { TestIssuer } from '../../support/test_issuer.js';

describe('header-embedded and remote keys', () => {
  let h: Harness;
  let attacker: TestIssuer;
  beforeEach(async () => {
    h = await startHarness();
    attacker = await TestIssuer.start({ clock: h.clock });
  });
  afterEach(async () => {
    await expectStillServes(h);
    expect(attacker.requests, 'the attacker server must never be contacted').toEqual([]);
    for (const r of h.issuer.requests) expect(r.url).toMatch(/^\/\.well-known\/(openid-configuration|jwks)$/);
    await attacker.close();
    await h.close();
  });

  const attackerToken = (header: Record<string, unknown>): Promise<string> =>
    // Claims name the real issuer; the signature is the attacker's own key.
    attacker.mint(h.issuer.claims(AUDIENCE), { header });

  it('refuses jku pointing at an attacker JWKS and never fetches it', async () => {
    const token = await attackerToken({ jku: attacker.jwksUrl });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_HEADER_FORBIDDEN', { details: { reason: 'embedded_key', header: 'jku' }, token });
  });

  it('refuses jku even when kid names a key the issuer really publishes', async () => {
    const token = await attackerToken({ jku: attacker.jwksUrl, kid: h.issuer.signingKey.kid });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_HEADER_FORBIDDEN', { details: { header: 'jku' } });
  });

  it('refuses x5u pointing at an attacker certificate URL and never fetches it', async () => {
    const token = await attackerToken({ x5u: `${attacker.origin}/cert.pem` });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_HEADER_FORBIDDEN', { details: { header: 'x5u' } });
  });

  it('refuses a jwk header embedding the attacker public key', async () => {
    const token = await attackerToken({ jwk: attacker.signingKey.publicJwk });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_HEADER_FORBIDDEN', { details: { header: 'jwk' } });
  });

  it('refuses an x5c header embedding an attacker certificate chain', async () => {
    const der = attacker.signingKey.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const token = await attackerToken({ x5c: [der] });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_HEADER_FORBIDDEN', { details: { header: 'x5c' } });
  });

  it('refuses key headers on a token the issuer itself signed (no exceptions for valid signatures)', async () => {
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE), { header: { jku: h.issuer.jwksUrl } });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_HEADER_FORBIDDEN');
  });

  it('never fetches a URL given as kid', async () => {
    const token = await attackerToken({ kid: attacker.jwksUrl });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_KEY_NOT_FOUND');
  });
});

describe('kid is an opaque lookup key', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await expectStillServes(h);
    await h.close();
  });

  it.each(['../../etc/passwd', '/etc/passwd', '..%2F..%2Fetc%2Fpasswd', 'a/../../b', 'C:\\Windows\\win.ini', "' OR 1=1 --"])(
    'treats kid %j as an unknown key, not a path',
    async (kid) => {
      const token = await h.issuer.mint(h.issuer.claims(AUDIENCE), { header: { kid } });
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_KEY_NOT_FOUND', { details: { reason: 'no_matching_key' } });
      for (const r of h.issuer.requests) expect(r.url).toMatch(/^\/\.well-known\/(openid-configuration|jwks)$/);
    },
  );

  it('refuses a non-string kid', async () => {
    const token = h.issuer.mintRaw({ alg: 'RS256', kid: 42 }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_MALFORMED', { details: { reason: 'kid_invalid' } });
  });

  it('refuses an oversized kid', async () => {
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE), { header: { kid: 'k'.repeat(1000) } });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_MALFORMED', { details: { reason: 'kid_invalid' } });
  });
});

describe('crit and other refused header members', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await expectStillServes(h);
    await h.close();
  });

  it('refuses an unknown crit extension', async () => {
    const key = h.issuer.signingKey;
    const token = h.issuer.mintRaw({ alg: key.alg, kid: key.kid, crit: ['https://attacker.example/ext'], 'https://attacker.example/ext': true }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_CRIT_UNSUPPORTED', { token });
  });

  it('refuses crit even when it lists only registered names', async () => {
    const key = h.issuer.signingKey;
    const token = h.issuer.mintRaw({ alg: key.alg, kid: key.kid, crit: ['exp'], exp: 1 }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_CRIT_UNSUPPORTED');
  });

  it('refuses an empty crit list', async () => {
    const key = h.issuer.signingKey;
    const token = h.issuer.mintRaw({ alg: key.alg, kid: key.kid, crit: [] }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_CRIT_UNSUPPORTED');
  });

  it('refuses b64 (unencoded payload)', async () => {
    const key = h.issuer.signingKey;
    const token = h.issuer.mintRaw({ alg: key.alg, kid: key.kid, b64: false, crit: ['b64'] }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_HEADER_FORBIDDEN', { details: { header: 'b64' } });
  });

  it.each(['zip', 'enc'])('refuses a JWE-only %s member in a JWS header', async (member) => {
    const key = h.issuer.signingKey;
    const token = h.issuer.mintRaw({ alg: key.alg, kid: key.kid, [member]: 'DEF' }, h.issuer.claims(AUDIENCE));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_HEADER_FORBIDDEN', { details: { header: member } });
  });

  it('tolerates x5t (a thumbprint hint GitHub sends) and still selects the key by kid only', async () => {
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE), { header: { x5t: 'bm90LWEtcmVhbC10aHVtYnByaW50', 'x5t#S256': 'AAAA' } });
    await expect(h.set.attest(token)).resolves.toMatchObject({ subject: 'workload' });
  });
});
