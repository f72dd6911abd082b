/** Attacks on the signature: foreign keys, truncation, bad encodings, splicing. jose verifies. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIENCE, expectRefused, expectStillServes, startHarness, type Harness } from '../helpers.js';
import { b64url, joinToken, tokenParts } from '../../support/test_issuer.js';

describe('signature', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await expectStillServes(h);
    await h.close();
  });

  it('refuses a token signed by a key the issuer never published, claiming a published kid', async () => {
    const rogue = h.issuer.unpublishedKey('RS256', h.issuer.signingKey.kid);
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE), { key: rogue });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_SIGNATURE_INVALID', { token });
  });

  it('refuses a token signed by a key the issuer never published, with its own kid', async () => {
    const rogue = h.issuer.unpublishedKey();
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE), { key: rogue });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_KEY_NOT_FOUND', { token });
  });

  it('refuses a signature cut by one character (not valid base64url)', async () => {
    const token = await h.goodToken();
    await expectRefused(h.set.attest(token.slice(0, -1)), 'ERR_TOKEN_MALFORMED', { details: { reason: 'signature_encoding' } });
  });

  it('refuses a well-encoded but truncated signature (shorter than any RSA-2048 signature)', async () => {
    const { header, payload, signature } = tokenParts(await h.goodToken());
    for (const bytes of [0, 1, 128, 255]) {
      const short = b64url(Buffer.from(signature, 'base64url').subarray(0, bytes));
      const reason = bytes === 0 ? 'signature_missing' : 'signature_length';
      await expectRefused(h.set.attest(joinToken(header, payload, short)), 'ERR_TOKEN_MALFORMED', { details: { reason } });
    }
  });

  it('refuses a signature cut by any number of characters, whatever its encoding happens to be', async () => {
    const token = await h.goodToken();
    for (let cut = 1; cut <= 40; cut++) await expectRefused(h.set.attest(token.slice(0, -cut)), 'ERR_TOKEN_MALFORMED');
  });

  it('refuses an ES256 signature that is not exactly 64 bytes', async () => {
    const h2 = await startHarness({ config: { algorithms: ['ES256'] }, issuer: { alg: 'ES256' } });
    try {
      const { header, payload, signature } = tokenParts(await h2.goodToken());
      const raw = Buffer.from(signature, 'base64url');
      expect(raw.length).toBe(64);
      await expectRefused(h2.set.attest(joinToken(header, payload, b64url(raw.subarray(0, 63)))), 'ERR_TOKEN_MALFORMED', { details: { reason: 'signature_length' } });
      await expectRefused(h2.set.attest(joinToken(header, payload, b64url(Buffer.concat([raw, Buffer.from([0])])))), 'ERR_TOKEN_MALFORMED', { details: { reason: 'signature_length' } });
      await expect(h2.set.attest(joinToken(header, payload, signature))).resolves.toBeDefined();
    } finally {
      await h2.close();
    }
  });

  it.each([
    ['standard base64 characters', (s: string) => `${s.slice(0, -2)}+/`],
    ['padding', (s: string) => `${s}==`],
    ['a space', (s: string) => `${s.slice(0, 10)} ${s.slice(11)}`],
    ['a trailing newline', (s: string) => `${s}\n`],
    ['non-ASCII', (s: string) => `${s.slice(0, -1)}é`],
  ])('refuses a signature containing %s', async (_what, mangle) => {
    const { header, payload, signature } = tokenParts(await h.goodToken());
    await expectRefused(h.set.attest(joinToken(header, payload, mangle(signature))), 'ERR_TOKEN_MALFORMED', { details: { reason: 'signature_encoding' } });
  });

  it('refuses a signature with non-canonical trailing bits (one token, one spelling)', async () => {
    const { header, payload, signature } = tokenParts(await h.goodToken());
    // 256-byte RSA signature: the last base64url char carries 4 padding bits; set one of them.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(signature.at(-1) ?? 'A');
    const mangled = signature.slice(0, -1) + (alphabet[last | 1] ?? 'B');
    await expectRefused(h.set.attest(joinToken(header, payload, mangled)), 'ERR_TOKEN_MALFORMED', { details: { reason: 'signature_encoding' } });
  });

  it('refuses an empty signature on an RS256 token', async () => {
    const { header, payload } = tokenParts(await h.goodToken());
    await expectRefused(h.set.attest(joinToken(header, payload, '')), 'ERR_TOKEN_MALFORMED', { details: { reason: 'signature_missing' } });
  });

  it('refuses a payload changed after signing', async () => {
    const { header, signature, payloadJson } = tokenParts(await h.goodToken());
    const changed = b64url(payloadJson.replace('"sub":"workload"', '"sub":"admin"'));
    await expectRefused(h.set.attest(joinToken(header, changed, signature)), 'ERR_TOKEN_SIGNATURE_INVALID');
  });

  it('refuses the signature of another token spliced onto this one', async () => {
    const a = tokenParts(await h.issuer.mint(h.issuer.claims(AUDIENCE, { sub: 'a' })));
    const b = tokenParts(await h.issuer.mint(h.issuer.claims(AUDIENCE, { sub: 'b' })));
    await expectRefused(h.set.attest(joinToken(a.header, a.payload, b.signature)), 'ERR_TOKEN_SIGNATURE_INVALID');
  });

  it('refuses a signature of the right length made of zeros', async () => {
    const { header, payload } = tokenParts(await h.goodToken());
    await expectRefused(h.set.attest(joinToken(header, payload, b64url(Buffer.alloc(256)))), 'ERR_TOKEN_SIGNATURE_INVALID');
  });
});
