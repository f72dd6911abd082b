/**
 * Attacks on the encoding: duplicate members, oversized tokens, deep nesting, non-JSON, other
 * serializations (JWE, JSON). All refused before any signature work.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIENCE, expectRefused, expectStillServes, startHarness, type Harness } from '../helpers.js';
import { b64url, joinToken, tokenParts } from '../../support/test_issuer.js';

describe('encoding', () => {
  let h: Harness;
  let header: string;
  beforeEach(async () => {
    h = await startHarness();
    header = JSON.stringify({ alg: h.issuer.signingKey.alg, kid: h.issuer.signingKey.kid });
  });
  afterEach(async () => {
    await expectStillServes(h);
    await h.close();
  });

  const payloadText = (): string => JSON.stringify(h.issuer.claims(AUDIENCE));

  describe('duplicate member names', () => {
    it('refuses a duplicated top-level claim (parsers disagree on which wins)', async () => {
      const payload = payloadText().replace('"sub":"workload"', '"sub":"workload","sub":"admin"');
      const token = h.issuer.signRaw(header, payload);
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_DUPLICATE_MEMBER', { details: { part: 'payload', member: 'sub' }, token });
    });

    it('refuses a duplicate spelled with a \\u escape', async () => {
      const payload = payloadText().replace('"sub":"workload"', '"sub":"workload","\\u0073ub":"admin"');
      await expectRefused(h.set.attest(h.issuer.signRaw(header, payload)), 'ERR_TOKEN_DUPLICATE_MEMBER', { details: { member: 'sub' } });
    });

    it('refuses a duplicate nested deep inside a claim', async () => {
      const payload = payloadText().replace(/}$/, ',"ctx":{"a":[{"b":{"role":"user","role":"admin"}}]}}');
      await expectRefused(h.set.attest(h.issuer.signRaw(header, payload)), 'ERR_TOKEN_DUPLICATE_MEMBER', { details: { part: 'payload' } });
    });

    it('refuses a duplicated aud', async () => {
      const payload = payloadText().replace(/}$/, `,"aud":"${AUDIENCE}"}`);
      await expectRefused(h.set.attest(h.issuer.signRaw(header, payload)), 'ERR_TOKEN_DUPLICATE_MEMBER');
    });

    it('refuses a duplicated alg in the header', async () => {
      const token = h.issuer.signRaw(`{"alg":"RS256","kid":"${h.issuer.signingKey.kid}","alg":"none"}`, payloadText());
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_DUPLICATE_MEMBER', { details: { part: 'header', member: 'alg' } });
    });

    it('refuses a duplicated kid in the header', async () => {
      const kid = h.issuer.signingKey.kid;
      const token = h.issuer.signRaw(`{"alg":"RS256","kid":"unknown","kid":"${kid}"}`, payloadText());
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_DUPLICATE_MEMBER', { details: { part: 'header', member: 'kid' } });
    });
  });

  describe('size', () => {
    it('refuses a 1 MB token before decoding it', async () => {
      const big = 'A'.repeat(1024 * 1024);
      const token = joinToken(b64url(header), big, 'sig');
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_TOO_LARGE', { details: { maxTokenBytes: 16384 } });
      expect(h.issuer.requests).toEqual([]);
    });

    it('refuses a signed token one byte over the configured cap', async () => {
      const token = await h.issuer.mint(h.issuer.claims(AUDIENCE, { pad: 'x'.repeat(12000) }));
      expect(token.length).toBeGreaterThan(16384);
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_TOO_LARGE');
    });

    it('counts bytes, not UTF-16 code units', async () => {
      await expectRefused(h.set.attest('é'.repeat(9000)), 'ERR_TOKEN_TOO_LARGE');
    });
  });

  describe('nesting and JSON', () => {
    const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

    it('accepts claims nested to the depth cap (32 levels including the claims object)', async () => {
      const payload = payloadText().replace(/}$/, `,"deep":${nested(31)}}`);
      await expect(h.set.attest(h.issuer.signRaw(header, payload))).resolves.toBeDefined();
    });

    it('refuses claims nested one level deeper than the cap', async () => {
      const payload = payloadText().replace(/}$/, `,"deep":${nested(32)}}`);
      await expectRefused(h.set.attest(h.issuer.signRaw(header, payload)), 'ERR_TOKEN_MALFORMED', { details: { reason: 'payload_too_deep' } });
    });

    it('refuses a pathologically deep payload without exhausting the stack', async () => {
      const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      const token = joinToken(b64url(header), b64url(deep), 'c2ln');
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_MALFORMED', { details: { reason: 'payload_too_deep' } });
    });

    it.each([
      ['plain text', 'hello'],
      ['truncated JSON', '{"iss":"x"'],
      ['a trailing comma', '{"iss":"x",}'],
      ['single quotes', "{'iss':'x'}"],
      ['a comment', '{"iss":"x"/* c */}'],
      ['NaN', '{"exp":NaN}'],
      ['two documents', '{}{}'],
      ['a byte order mark', '\uFEFF{"iss":"x"}'],
    ])('refuses a payload that is %s', async (_what, text) => {
      await expectRefused(h.set.attest(h.issuer.signRaw(header, text)), 'ERR_TOKEN_MALFORMED', { details: { part: 'payload' } });
    });

    it.each([['an array', '[]'], ['a string', '"x"'], ['null', 'null'], ['a number', '1']])('refuses a payload that is %s, not an object', async (_what, text) => {
      await expectRefused(h.set.attest(h.issuer.signRaw(header, text)), 'ERR_TOKEN_MALFORMED', { details: { reason: 'payload_not_object' } });
    });

    it('refuses a payload that is not UTF-8', async () => {
      const { signature } = tokenParts(await h.goodToken());
      const token = joinToken(b64url(header), b64url(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), signature);
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_MALFORMED', { details: { reason: 'payload_encoding' } });
    });

    it('refuses a header that is not JSON', async () => {
      const token = h.issuer.signRaw('RS256', payloadText());
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_MALFORMED', { details: { part: 'header' } });
    });

    it('refuses padded base64 in the payload segment', async () => {
      const { header: hdr, payload, signature } = tokenParts(await h.goodToken());
      await expectRefused(h.set.attest(joinToken(hdr, `${payload}==`, signature)), 'ERR_TOKEN_MALFORMED');
    });
  });

  describe('serialization', () => {
    it('refuses a JWE (five segments)', async () => {
      const jwe = joinToken(b64url('{"alg":"RSA-OAEP","enc":"A256GCM"}'), 'ZW5jcnlwdGVka2V5', 'aXY', 'Y2lwaGVydGV4dA', 'dGFn');
      await expectRefused(h.set.attest(jwe), 'ERR_TOKEN_MALFORMED', { details: { reason: 'jwe' } });
    });

    it('refuses the JWS JSON serialization of a valid token', async () => {
      const { header: protectedHeader, payload, signature } = tokenParts(await h.goodToken());
      const json = JSON.stringify({ protected: protectedHeader, payload, signature });
      await expectRefused(h.set.attest(json), 'ERR_TOKEN_MALFORMED', { details: { reason: 'json_serialization' } });
    });

    it.each([
      ['two segments', 'a.b'],
      ['four segments', 'a.b.c.d'],
      ['six segments', 'a.b.c.d.e.f'],
      ['an empty string', ''],
      ['only dots', '..'],
    ])('refuses a token with %s', async (_what, token) => {
      await expectRefused(h.set.attest(token), 'ERR_TOKEN_MALFORMED');
    });

    it('refuses a Bearer-prefixed token (the transport strips prefixes, not the verifier)', async () => {
      await expectRefused(h.set.attest(`Bearer ${await h.goodToken()}`), 'ERR_TOKEN_MALFORMED');
    });
  });
});
