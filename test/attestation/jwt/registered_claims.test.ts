/**
 * The registered-claim rules that replaced jose's jwtVerify claim checks (issue 12): each rule
 * with its code and reason, then a good claims set passing; and the whole rule set against jose's
 * own validateClaimsSet (reached through UnsecuredJWT.decode, mapped by mapJoseError as verify.ts
 * mapped jwtVerify's errors) over a grid of claim values, outcome for outcome.
 */
import { UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { mapJoseError } from '../../../src/attestation/jwt/map_jose_error.js';
import { checkRegisteredClaims, type RegisteredClaimRules } from '../../../src/attestation/jwt/registered_claims.js';
import { TokenError } from '../../../src/errors.js';

const NOW = 1_700_000_000;
const ISSUER = 'https://issuer.example';
const FP = 'sha256:0123456789abcdef';
const fp = (): string => FP;
const STANDARD = ['iss', 'sub', 'exp', 'aud'];
const LEGACY = ['iss', 'sub'];
const SKEW = 60;
const MAX_AGE = 3600;

const good = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ iss: ISSUER, sub: 'workload', aud: 'stint', iat: NOW, nbf: NOW, exp: NOW + 600, ...extra });
const without = (claims: Record<string, unknown>, ...names: string[]): Record<string, unknown> => Object.fromEntries(Object.entries(claims).filter(([k]) => !names.includes(k)));

/** The rules verify.ts derives from a policy: maxTokenAge only when the token carries `iat`. */
const rulesFor = (claims: Record<string, unknown>, requiredClaims = STANDARD): RegisteredClaimRules => ({
  issuer: ISSUER,
  requiredClaims,
  clockTolerance: SKEW,
  now: NOW,
  maxTokenAge: claims['iat'] !== undefined ? MAX_AGE : undefined,
});

type Outcome = 'ok' | { code: string; details: Record<string, unknown> };

function ours(claims: Record<string, unknown>, requiredClaims = STANDARD): Outcome {
  try {
    checkRegisteredClaims(claims, rulesFor(claims, requiredClaims), fp);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(TokenError);
    const e = err as TokenError;
    return { code: e.code, details: { ...e.details } };
  }
}

function jose(claims: Record<string, unknown>, requiredClaims = STANDARD): Outcome {
  const token = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  const rules = rulesFor(claims, requiredClaims);
  try {
    UnsecuredJWT.decode(token, {
      issuer: rules.issuer,
      requiredClaims: [...rules.requiredClaims],
      clockTolerance: rules.clockTolerance,
      currentDate: new Date(NOW * 1000),
      ...(rules.maxTokenAge !== undefined ? { maxTokenAge: rules.maxTokenAge } : {}),
    });
    return 'ok';
  } catch (err) {
    const e = mapJoseError(err, FP);
    return { code: e.code, details: { ...e.details } };
  }
}

const refused = (claims: Record<string, unknown>, code: string, details: Record<string, unknown>, requiredClaims = STANDARD): void => {
  expect(ours(claims, requiredClaims)).toEqual({ code, details: { fingerprint: FP, ...details } });
};

describe('checkRegisteredClaims', () => {
  it('accepts a good claims set, and one without the optional iat and nbf', () => {
    expect(ours(good())).toBe('ok');
    expect(ours(without(good(), 'iat', 'nbf'))).toBe('ok');
  });

  it.each(['iss', 'sub', 'exp'])('refuses a missing %s (CLAIM_INVALID, missing)', (claim) => {
    refused(without(good(), claim), 'ERR_TOKEN_CLAIM_INVALID', { claim, reason: 'missing' });
    expect(ours(good())).toBe('ok');
  });

  it('refuses a missing aud as an audience failure (AUDIENCE_INVALID, missing)', () => {
    refused(without(good(), 'aud'), 'ERR_TOKEN_AUDIENCE_INVALID', { claim: 'aud', reason: 'missing' });
    expect(ours(good())).toBe('ok');
  });

  it('counts a claim that is present with null as present (its type is checked later)', () => {
    expect(ours(good({ sub: null }))).toBe('ok');
    refused(good({ exp: null }), 'ERR_TOKEN_CLAIM_INVALID', { claim: 'exp', reason: 'invalid' });
  });

  it('reports the first missing claim in jose order: iss, aud, exp, sub', () => {
    refused({}, 'ERR_TOKEN_CLAIM_INVALID', { claim: 'iss', reason: 'missing' });
    refused({ iss: ISSUER }, 'ERR_TOKEN_AUDIENCE_INVALID', { claim: 'aud', reason: 'missing' });
    refused({ iss: ISSUER, aud: 'stint' }, 'ERR_TOKEN_CLAIM_INVALID', { claim: 'exp', reason: 'missing' });
    refused({ iss: ISSUER, aud: 'stint', exp: NOW + 60 }, 'ERR_TOKEN_CLAIM_INVALID', { claim: 'sub', reason: 'missing' });
    expect(ours({ iss: ISSUER, aud: 'stint', exp: NOW + 60, sub: 's' })).toBe('ok');
  });

  it('requires only iss and sub for legacy tokens', () => {
    expect(ours({ iss: ISSUER, sub: 's' }, LEGACY)).toBe('ok');
    refused({ iss: ISSUER }, 'ERR_TOKEN_CLAIM_INVALID', { claim: 'sub', reason: 'missing' }, LEGACY);
    refused({ sub: 's' }, 'ERR_TOKEN_CLAIM_INVALID', { claim: 'iss', reason: 'missing' }, LEGACY);
  });

  it.each([`${ISSUER}/`, ISSUER.toUpperCase(), ` ${ISSUER}`, 42, null, [ISSUER]])('refuses iss %j that is not the issuer byte for byte (CLAIM_INVALID, check_failed)', (iss) => {
    refused(good({ iss }), 'ERR_TOKEN_CLAIM_INVALID', { claim: 'iss', reason: 'check_failed' });
    expect(ours(good())).toBe('ok');
  });

  it.each(['iat', 'nbf', 'exp'])('refuses a %s that is not a number (CLAIM_INVALID, invalid)', (claim) => {
    for (const value of [String(NOW), null, true, [NOW], { t: NOW }]) {
      refused(good({ [claim]: value }), 'ERR_TOKEN_CLAIM_INVALID', { claim, reason: 'invalid' });
    }
    expect(ours(good())).toBe('ok');
  });

  it('checks the types in order iat, nbf, exp', () => {
    refused(good({ iat: 'x', nbf: 'x', exp: 'x' }), 'ERR_TOKEN_CLAIM_INVALID', { claim: 'iat', reason: 'invalid' });
    refused(good({ nbf: 'x', exp: 'x' }), 'ERR_TOKEN_CLAIM_INVALID', { claim: 'nbf', reason: 'invalid' });
  });

  it('refuses nbf more than the tolerance in the future (NOT_YET_VALID, in_future), accepts it at the edge', () => {
    refused(good({ nbf: NOW + SKEW + 1 }), 'ERR_TOKEN_NOT_YET_VALID', { claim: 'nbf', reason: 'in_future' });
    expect(ours(good({ nbf: NOW + SKEW }))).toBe('ok');
  });

  it('refuses exp at or past now minus the tolerance (EXPIRED, expired), accepts one second later', () => {
    refused(good({ iat: NOW - 600, exp: NOW - SKEW }), 'ERR_TOKEN_EXPIRED', { claim: 'exp', reason: 'expired' });
    refused(good({ iat: NOW - 600, exp: NOW - 500 }), 'ERR_TOKEN_EXPIRED', { claim: 'exp', reason: 'expired' });
    expect(ours(good({ iat: NOW - 600, exp: NOW - SKEW + 1 }))).toBe('ok');
  });

  it('refuses an iat older than the maximum age plus the tolerance (LIFETIME_TOO_LONG, too_old)', () => {
    refused(good({ iat: NOW - MAX_AGE - SKEW - 1, exp: NOW + 60 }), 'ERR_TOKEN_LIFETIME_TOO_LONG', { claim: 'iat', reason: 'too_old' });
    expect(ours(good({ iat: NOW - MAX_AGE - SKEW, exp: NOW + 60 }))).toBe('ok');
  });

  it('refuses an iat more than the tolerance in the future (NOT_YET_VALID, in_future)', () => {
    refused(good({ iat: NOW + SKEW + 1 }), 'ERR_TOKEN_NOT_YET_VALID', { claim: 'iat', reason: 'in_future' });
    expect(ours(good({ iat: NOW + SKEW }))).toBe('ok');
  });

  it('checks nbf before exp, and exp before the age of iat', () => {
    refused(good({ nbf: NOW + 1000, exp: NOW - 1000 }), 'ERR_TOKEN_NOT_YET_VALID', { claim: 'nbf', reason: 'in_future' });
    refused(good({ iat: NOW - 99999, exp: NOW - 1000 }), 'ERR_TOKEN_EXPIRED', { claim: 'exp', reason: 'expired' });
  });

  it('checks presence before the issuer, and the issuer before any time', () => {
    refused(without(good({ iss: 'other', exp: 'x' }), 'sub'), 'ERR_TOKEN_CLAIM_INVALID', { claim: 'sub', reason: 'missing' });
    refused(good({ iss: 'other', exp: 'x' }), 'ERR_TOKEN_CLAIM_INVALID', { claim: 'iss', reason: 'check_failed' });
  });

  it('compares with whole seconds: a fractional iat, nbf or exp is compared as it is', () => {
    expect(ours(good({ nbf: NOW + SKEW + 0.5 }))).toMatchObject({ code: 'ERR_TOKEN_NOT_YET_VALID' });
    expect(ours(good({ exp: NOW - SKEW + 0.5 }))).toBe('ok');
  });

  it('never puts a claim value in the error', () => {
    const secret = 'secret-subject-value';
    for (const claims of [good({ iss: secret }), good({ exp: secret }), good({ sub: secret, nbf: NOW + 9999 })]) {
      const outcome = ours(claims);
      expect(JSON.stringify(outcome)).not.toContain(secret);
    }
  });
});

describe('checkRegisteredClaims against jose validateClaimsSet', () => {
  const absent = Symbol('absent');
  const grid: Record<string, unknown[]> = {
    iss: [absent, ISSUER, `${ISSUER}/`],
    sub: [absent, 'workload'],
    aud: [absent, null],
    exp: [absent, NOW + 600, NOW - SKEW + 1, NOW - SKEW, NOW - 1e9, 1e300, String(NOW), null],
    nbf: [absent, NOW, NOW + SKEW, NOW + SKEW + 1, -1e300, 'x'],
    iat: [absent, NOW, NOW + SKEW, NOW + SKEW + 1, NOW - MAX_AGE - SKEW, NOW - MAX_AGE - SKEW - 1, 1.5, 'x', null],
  };
  const names = Object.keys(grid);
  function* claimSets(i = 0, acc: Record<string, unknown> = {}): Generator<Record<string, unknown>> {
    if (i === names.length) {
      yield acc;
      return;
    }
    const name = names[i] as string;
    for (const value of grid[name] as unknown[]) yield* claimSets(i + 1, value === absent ? acc : { ...acc, [name]: value });
  }

  it.each([
    ['standard', STANDARD],
    ['legacy', LEGACY],
  ])('gives the same outcome as jose for every claims set of the grid (%s required claims)', (_name, required) => {
    const differences: string[] = [];
    let count = 0;
    let accepted = 0;
    for (const claims of claimSets()) {
      count++;
      const a = ours(claims, required);
      const b = jose(claims, required);
      if (a === 'ok') accepted++;
      if (JSON.stringify(a) !== JSON.stringify(b)) differences.push(`${JSON.stringify(claims)}: ours ${JSON.stringify(a)}, jose ${JSON.stringify(b)}`);
    }
    expect(differences.slice(0, 5)).toEqual([]);
    expect(count).toBe(3 * 2 * 2 * 8 * 6 * 9);
    expect(accepted).toBeGreaterThan(0);
  });
});
