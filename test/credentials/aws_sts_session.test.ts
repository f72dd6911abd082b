/** Role session names and session tag values always fit AWS's constraints, whatever the identity. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GRANT_TAG, sessionName, sessionOptions, tagValue, webIdentityClaims } from '../../src/credentials/aws/session.js';

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

describe('sessionName', () => {
  it('drops the URI scheme, replaces what AWS refuses, and ends in a hash of the identity', () => {
    const name = sessionName('spiffe://stint.local/ns/payments/sa/api');
    expect(name).toMatch(/^stint\.local-ns-payments-sa-api-[0-9a-f]{8}$/);
    expect(sessionName('spiffe://stint.local/ns/payments/sa/api')).toBe(name);
  });

  it('keeps identities that sanitize alike apart', () => {
    const a = sessionName('spiffe://d/ns/a/sa/b c');
    const b = sessionName('spiffe://d/ns/a/sa/b:c');
    expect(a.slice(0, -9)).toBe(b.slice(0, -9));
    expect(a).not.toBe(b);
  });

  it('keeps the most specific end of a long identity', () => {
    const name = sessionName(`https://token.actions.githubusercontent.com#repo:${'org/'.repeat(30)}deploy-service:ref:refs/heads/main`);
    expect(name.length).toBeLessThanOrEqual(64);
    expect(name).toMatch(/refs-heads-main-[0-9a-f]{8}$/);
  });

  it('names an identity with nothing usable', () => {
    expect(sessionName('////')).toMatch(/^stint-[0-9a-f]{8}$/);
    expect(sessionName('')).toMatch(/^stint-[0-9a-f]{8}$/);
  });

  it('always fits [\\w+=,.@-]{2,64} and is deterministic (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (identity) => {
        const name = sessionName(identity);
        expect(name).toMatch(SESSION_NAME);
        expect(sessionName(identity)).toBe(name);
      }),
      { numRuns: 500 },
    );
  });
});

describe('tagValue', () => {
  it('replaces characters AWS refuses and truncates to 256 characters', () => {
    expect(tagValue('repo:acme/payments')).toBe('repo:acme/payments');
    expect(tagValue('a#b;c"d')).toBe('a_b_c_d');
    expect(tagValue('é'.repeat(300))).toBe('é'.repeat(256));
  });

  it('always fits the tag value pattern and length, counted in characters (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (value) => {
        const out = tagValue(value);
        expect(out).toMatch(TAG_VALUE);
        expect([...out].length).toBeLessThanOrEqual(256);
      }),
      { numRuns: 500 },
    );
  });
});

describe('sessionOptions', () => {
  it('parses a rule entry once and returns the same result', () => {
    const options = { sessionTags: { Env: 'environment' } };
    expect(sessionOptions(options, 'r')).toBe(sessionOptions(options, 'r'));
    expect(sessionOptions({}, 'r')).toEqual({ sessionTags: [] });
  });
});

describe('webIdentityClaims', () => {
  it('uses the claim names and shapes AWS reads from OIDC tokens', () => {
    expect(JSON.parse(JSON.stringify(webIdentityClaims([{ Key: GRANT_TAG, Value: 'g1' }, { Key: 'Env', Value: 'prod' }], 'who-1234')))).toEqual({
      'https://aws.amazon.com/tags': { principal_tags: { 'stint-grant': ['g1'], Env: ['prod'] } },
      'https://aws.amazon.com/source_identity': 'who-1234',
    });
  });
});
