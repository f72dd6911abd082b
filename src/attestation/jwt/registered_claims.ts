/**
 * The registered-claim rules (RFC 7519 §4.1) jose's jwtVerify enforced before the signature step
 * moved to node:crypto (issue 12), kept with the same order and the same outcomes as jose
 * 6's validateClaimsSet as verify.ts called it: required claims present, `iss` byte-exact,
 * `iat`/`nbf`/`exp` numbers, `nbf` and `exp` against the clock with the tolerance, and `iat`
 * neither older than `maxTokenAge` nor in the future when a maximum age is given. The audience is
 * check_audience.ts's; `sub` and the lifetime are verify.ts's.
 */
import { TokenError } from '../../errors.js';

/** What {@link checkRegisteredClaims} enforces. Times and durations are in seconds. */
export interface RegisteredClaimRules {
  /** The expected `iss`, compared byte-exact (always required). */
  readonly issuer: string;
  /** Claims that must be present (any value, `null` included). */
  readonly requiredClaims: readonly string[];
  /** Tolerance for `exp`, `nbf` and `iat`. */
  readonly clockTolerance: number;
  /** The current time in whole epoch seconds. */
  readonly now: number;
  /** When set, `iat` is required and may be at most this old (jose's maxTokenAge). */
  readonly maxTokenAge?: number | undefined;
}

/** Check `claims` against `rules`; throws the first failure as a TokenError (jose's order). */
export function checkRegisteredClaims(claims: Readonly<Record<string, unknown>>, rules: RegisteredClaimRules, fp: () => string): void {
  const { maxTokenAge } = rules;
  // jose checks presence in reverse order of [...requiredClaims, iat (maxTokenAge), iss], each once.
  const presence = [...rules.requiredClaims];
  if (maxTokenAge !== undefined) presence.push('iat');
  presence.push('iss');
  for (const claim of new Set(presence.reverse())) {
    if (!Object.hasOwn(claims, claim)) throw claimFailure(claim, 'missing', fp);
  }
  if (claims['iss'] !== rules.issuer) throw claimFailure('iss', 'check_failed', fp);

  const tolerance = rules.clockTolerance;
  const now = rules.now;
  const iat = numericDate(claims, 'iat', fp);
  const nbf = numericDate(claims, 'nbf', fp);
  if (nbf !== undefined && nbf > now + tolerance) throw notYetValid('nbf', fp);
  const exp = numericDate(claims, 'exp', fp);
  if (exp !== undefined && exp <= now - tolerance) {
    throw new TokenError('ERR_TOKEN_EXPIRED', 'token has expired', { fingerprint: fp(), claim: 'exp', reason: 'expired' });
  }
  if (maxTokenAge !== undefined && iat !== undefined) {
    const age = now - iat;
    // An iat older than the maximum age (= maxLifetime): exp was still valid, so the lifetime is too long.
    if (age - tolerance > maxTokenAge) {
      throw new TokenError('ERR_TOKEN_LIFETIME_TOO_LONG', 'token lifetime exceeds the maximum', { fingerprint: fp(), claim: 'iat', reason: 'too_old' });
    }
    if (age < -tolerance) throw notYetValid('iat', fp);
  }
}

/** The claim's value when it is present and a number; undefined when absent; CLAIM_INVALID otherwise. */
function numericDate(claims: Readonly<Record<string, unknown>>, claim: 'iat' | 'nbf' | 'exp', fp: () => string): number | undefined {
  const value = claims[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw claimFailure(claim, 'invalid', fp);
  return value;
}

function claimFailure(claim: string, reason: 'missing' | 'check_failed' | 'invalid', fp: () => string): TokenError {
  if (claim === 'aud') return new TokenError('ERR_TOKEN_AUDIENCE_INVALID', 'token audience is invalid', { fingerprint: fp(), claim, reason });
  return new TokenError('ERR_TOKEN_CLAIM_INVALID', `token claim "${claim}" is invalid`, { fingerprint: fp(), claim, reason });
}

function notYetValid(claim: 'nbf' | 'iat', fp: () => string): TokenError {
  return new TokenError('ERR_TOKEN_NOT_YET_VALID', `token "${claim}" is in the future`, { fingerprint: fp(), claim, reason: 'in_future' });
}
