/** Properties: whatever bytes arrive, attestation fails with a TokenError, never a crash. */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenError } from '../../src/errors.js';
import { AUDIENCE, startHarness, type Harness } from './helpers.js';

describe('properties', () => {
  let h: Harness;
  let good: string;
  beforeAll(async () => {
    h = await startHarness({ kind: 'kubernetes' });
    good = await h.goodToken();
    await h.set.attest(good);
  });
  afterAll(async () => {
    await h.close();
  });

  const refusedWithTokenError = async (token: string): Promise<void> => {
    let caught: unknown;
    try {
      await h.set.attest(token);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TokenError);
  };

  it('random byte strings are refused with a TokenError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
        await refusedWithTokenError(Buffer.from(bytes).toString('latin1'));
      }),
      { numRuns: 300 },
    );
  });

  it('random three-segment base64url strings are refused with a TokenError', async () => {
    const segment = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url'));
    await fc.assert(
      fc.asyncProperty(segment, segment, segment, async (a, b, c) => {
        await refusedWithTokenError(`${a}.${b}.${c}`);
      }),
      { numRuns: 300 },
    );
  });

  it('random JSON headers and payloads over a real signature are refused with a TokenError', async () => {
    const signature = good.split('.')[2]!;
    const json = fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url'));
    await fc.assert(
      fc.asyncProperty(json, json, async (header, payload) => {
        await refusedWithTokenError(`${header}.${payload}.${signature}`);
      }),
      { numRuns: 200 },
    );
  });

  it('any single-character change to a valid token is refused with a TokenError', async () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+/= ';
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: good.length - 1 }), fc.constantFrom(...alphabet), async (index, char) => {
        fc.pre(good[index] !== char);
        await refusedWithTokenError(good.slice(0, index) + char + good.slice(index + 1));
      }),
      { numRuns: 300 },
    );
  });

  it('the valid token is still accepted after all of that', async () => {
    await expect(h.set.attest(good)).resolves.toMatchObject({ claims: { aud: [AUDIENCE] } });
  });
});
