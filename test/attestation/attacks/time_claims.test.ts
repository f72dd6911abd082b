/** Attacks on time: expired, not yet valid, iat in the future, over-long lifetime, missing exp. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../../src/clock.js';
import { AUDIENCE, expectRefused, expectStillServes, startHarness, type Harness } from '../helpers.js';

describe('time claims (clock skew 60 s, max lifetime 3600 s)', () => {
  let h: Harness;
  let now: number;
  beforeEach(async () => {
    h = await startHarness({ config: { clockSkew: '60s', maxLifetime: '1h' } });
    now = epochSeconds(h.clock);
  });
  afterEach(async () => {
    await expectStillServes(h);
    await h.close();
  });

  const mint = (claims: Record<string, unknown>): Promise<string> => h.issuer.mint(h.issuer.claims(AUDIENCE, claims));

  it('refuses an expired token', async () => {
    const token = await mint({ iat: now - 700, nbf: now - 700, exp: now - 100 });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_EXPIRED', { details: { claim: 'exp' }, token });
  });

  it('accepts a token expired by less than the skew, refuses it once past the skew', async () => {
    const token = await mint({ iat: now - 600, nbf: now - 600, exp: now - 59 });
    await expect(h.set.attest(token)).resolves.toBeDefined();
    h.clock.advance(2_000);
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_EXPIRED');
  });

  it('refuses a token as the fake clock passes its expiry', async () => {
    const token = await mint({});
    await expect(h.set.attest(token)).resolves.toBeDefined();
    h.clock.advance((600 + 61) * 1000);
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_EXPIRED');
  });

  it('refuses nbf in the future beyond the skew', async () => {
    const token = await mint({ nbf: now + 120 });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_NOT_YET_VALID', { details: { claim: 'nbf' } });
  });

  it('accepts nbf in the future within the skew', async () => {
    await expect(h.set.attest(await mint({ nbf: now + 30 }))).resolves.toBeDefined();
  });

  it('refuses iat in the future beyond the skew', async () => {
    const token = await mint({ iat: now + 120, nbf: undefined, exp: now + 600 });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_NOT_YET_VALID', { details: { claim: 'iat' } });
  });

  it('accepts iat in the future within the skew', async () => {
    await expect(h.set.attest(await mint({ iat: now + 30, nbf: undefined, exp: now + 600 }))).resolves.toBeDefined();
  });

  it('refuses a lifetime (exp - iat) above the maximum', async () => {
    const token = await mint({ iat: now, nbf: now, exp: now + 3601 });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_LIFETIME_TOO_LONG', { details: { maxLifetime: 3600 } });
  });

  it('accepts a lifetime equal to the maximum', async () => {
    await expect(h.set.attest(await mint({ iat: now, nbf: now, exp: now + 3600 }))).resolves.toBeDefined();
  });

  it('refuses a long-lived token whose iat is far in the past', async () => {
    const token = await mint({ iat: now - 86400 * 30, nbf: now - 86400 * 30, exp: now + 600 });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_LIFETIME_TOO_LONG');
  });

  it('without iat, bounds the remaining lifetime (exp - now)', async () => {
    await expect(h.set.attest(await mint({ iat: undefined, nbf: undefined, exp: now + 600 }))).resolves.toBeDefined();
    await expectRefused(h.set.attest(await mint({ iat: undefined, nbf: undefined, exp: now + 7200 })), 'ERR_TOKEN_LIFETIME_TOO_LONG');
  });

  it('refuses a token without exp', async () => {
    const token = await mint({ exp: undefined });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'exp', reason: 'missing' } });
  });

  it.each([
    ['a string', '9999999999'],
    ['null', null],
    ['a boolean', true],
  ])('refuses exp given as %s', async (_what, exp) => {
    await expectRefused(h.set.attest(await mint({ exp })), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'exp' } });
  });

  it('refuses iat given as a string', async () => {
    await expectRefused(h.set.attest(await mint({ iat: String(now) })), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'iat' } });
  });

  it('refuses an exp so large it overflows to Infinity', async () => {
    const key = h.issuer.signingKey;
    const payload = JSON.stringify(h.issuer.claims(AUDIENCE)).replace(/"exp":\d+/, '"exp":1e400');
    const token = h.issuer.signRaw(JSON.stringify({ alg: key.alg, kid: key.kid }), payload);
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_MALFORMED', { details: { part: 'payload' } });
  });
});
