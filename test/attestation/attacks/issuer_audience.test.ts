/** Attacks on iss and aud: byte-exact issuer, exactly one audience equal to Stint's. */
import { JWT_TOKEN_TYPE } from '../../../src/attestation/token_types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIENCE, expectRefused, expectStillServes, startHarness, type Harness } from '../helpers.js';

describe('issuer is compared byte-exact', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ issuer: { path: '/Tenant' } });
  });
  afterEach(async () => {
    await expectStillServes(h);
    await h.close();
  });

  const variants: [string, (iss: string) => string][] = [
    ['a trailing slash', (iss) => `${iss}/`],
    ['a lower-cased path', (iss) => iss.toLowerCase()],
    ['an upper-cased scheme', (iss) => iss.replace('http://', 'HTTP://')],
    ['an explicit default-ish port change', (iss) => iss.replace(/:\d+/, ':1')],
    ['trailing whitespace', (iss) => `${iss} `],
    ['a look-alike Unicode letter', (iss) => iss.replace('Tenant', 'Tеnant')],
    ['a different issuer', () => 'https://evil.example'],
  ];

  it.each(variants)('refuses iss with %s as an unknown issuer', async (_what, mutate) => {
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE, { iss: mutate(h.issuer.issuer) }));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ISSUER_UNKNOWN', { token });
  });

  it('never contacts anything for an unknown issuer', async () => {
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE, { iss: `${h.issuer.issuer}/` }));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_ISSUER_UNKNOWN');
    expect(h.issuer.requests).toEqual([]);
  });

  it('the attestor itself refuses a foreign iss (defence in depth behind the router)', async () => {
    const attestor = h.set.attestors[0];
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE, { iss: h.issuer.issuer.toLowerCase() }));
    await expectRefused(attestor!.attest({ type: JWT_TOKEN_TYPE, value: token }), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'iss' } });
  });

  it('refuses a token without iss', async () => {
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE, { iss: undefined }));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'iss' } });
  });

  it('refuses iss given as an array holding the issuer', async () => {
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE, { iss: [h.issuer.issuer] }));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'iss' } });
  });
});

describe('audience', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await expectStillServes(h);
    await h.close();
  });

  const withAud = async (aud: unknown): Promise<string> => h.issuer.mint({ ...h.issuer.claims(AUDIENCE), aud });

  it('refuses a token without aud', async () => {
    await expectRefused(h.set.attest(await withAud(undefined)), 'ERR_TOKEN_AUDIENCE_INVALID', { details: { claim: 'aud', reason: 'missing' } });
  });

  it("refuses a token minted for another audience", async () => {
    await expectRefused(h.set.attest(await withAud('https://vault.example')), 'ERR_TOKEN_AUDIENCE_INVALID', { details: { reason: 'not_accepted' } });
  });

  it("refuses Stint's audience beside another one (replayable by the other)", async () => {
    await expectRefused(h.set.attest(await withAud([AUDIENCE, 'https://vault.example'])), 'ERR_TOKEN_AUDIENCE_INVALID', { details: { reason: 'multiple' } });
  });

  it("refuses Stint's audience twice", async () => {
    await expectRefused(h.set.attest(await withAud([AUDIENCE, AUDIENCE])), 'ERR_TOKEN_AUDIENCE_INVALID', { details: { reason: 'multiple' } });
  });

  it('refuses an empty audience list', async () => {
    await expectRefused(h.set.attest(await withAud([])), 'ERR_TOKEN_AUDIENCE_INVALID');
  });

  it.each([
    ['case-folded', AUDIENCE.toUpperCase()],
    ['with a trailing slash', `${AUDIENCE}/`],
    ['a prefix', AUDIENCE.slice(0, -1)],
  ])('refuses an audience that is %s', async (_what, aud) => {
    await expectRefused(h.set.attest(await withAud(aud)), 'ERR_TOKEN_AUDIENCE_INVALID');
  });

  it.each([[42], [{ aud: AUDIENCE }], [[AUDIENCE, 1]]])('refuses a non-string audience %j', async (aud) => {
    await expectRefused(h.set.attest(await withAud(aud)), 'ERR_TOKEN_AUDIENCE_INVALID');
  });

  it("accepts Stint's audience as a string or as a one-entry array", async () => {
    await expect(h.set.attest(await withAud(AUDIENCE))).resolves.toBeDefined();
    await expect(h.set.attest(await withAud([AUDIENCE]))).resolves.toBeDefined();
  });
});

describe('audience configuration', () => {
  it('accepts a configured extra audience, still alone', async () => {
    const h = await startHarness({ config: { audiences: ['sts.example'] } });
    try {
      await expect(h.set.attest(await h.issuer.mint(h.issuer.claims('sts.example')))).resolves.toBeDefined();
      await expectRefused(h.set.attest(await h.issuer.mint(h.issuer.claims(AUDIENCE, { aud: ['sts.example', AUDIENCE] }))), 'ERR_TOKEN_AUDIENCE_INVALID');
    } finally {
      await h.close();
    }
  });

  it('with allowMultipleAudiences accepts several when one is ours, and still refuses when none is', async () => {
    const h = await startHarness({ config: { allowMultipleAudiences: true } });
    try {
      await expect(h.set.attest(await h.issuer.mint(h.issuer.claims(AUDIENCE, { aud: ['other', AUDIENCE] })))).resolves.toBeDefined();
      await expectRefused(h.set.attest(await h.issuer.mint(h.issuer.claims(AUDIENCE, { aud: ['other', 'third'] }))), 'ERR_TOKEN_AUDIENCE_INVALID');
    } finally {
      await h.close();
    }
  });
});
