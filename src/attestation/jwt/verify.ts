/**
 * Verify a compact JWS subject token: Stint's precheck, then jose `jwtVerify` for the signature
 * and the registered claims, then Stint's audience and lifetime rules. jose does all signature
 * verification. Every failure is a TokenError (or ERR_ISSUER_UNAVAILABLE) with a stable code.
 */
import { jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { Clock } from '../../clock.js';
import { TokenError } from '../../errors.js';
import { checkAudience } from './check_audience.js';
import { mapJoseError } from './map_jose_error.js';
import { precheckToken, type PrecheckedToken } from './precheck.js';

/** What a token must satisfy for one issuer. Durations are in seconds. */
export interface JwtVerifyPolicy {
  /** The expected `iss`, compared byte-exact. */
  readonly issuer: string;
  /** Allowed algorithms (asymmetric only). */
  readonly algorithms: readonly string[];
  /** Accepted audiences: Stint's own plus configured extras. */
  readonly audiences: readonly string[];
  /** Accept several audiences as long as one is accepted. */
  readonly allowMultipleAudiences: boolean;
  /** Allowed clock skew for exp, nbf and iat. */
  readonly clockSkew: number;
  /** Longest accepted lifetime: exp - iat, or exp - now without iat. */
  readonly maxLifetime: number;
  /** Size cap checked before decoding. */
  readonly maxTokenBytes: number;
  /** A legacy Kubernetes secret token: `exp` and `aud` are not required (opt-in only). */
  readonly legacy?: boolean;
}

/** A verified token. */
export interface VerifiedJwt {
  /** The protected header. */
  readonly header: Readonly<Record<string, unknown>>;
  /** The verified claims set, as the token carried it. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Fingerprint of the token, safe for logs. */
  readonly fingerprint: string;
}

/** Precheck then verify `token` against `policy` with keys from `getKey`. */
export async function verifyJwt(token: string, policy: JwtVerifyPolicy, getKey: JWTVerifyGetKey, clock: Clock): Promise<VerifiedJwt> {
  const prechecked = precheckToken(token, { maxTokenBytes: policy.maxTokenBytes, algorithms: policy.algorithms });
  return verifyPrechecked(token, prechecked, policy, getKey, clock);
}

/** Verify a token that already passed {@link precheckToken} with this policy's limits. */
export async function verifyPrechecked(
  token: string,
  prechecked: PrecheckedToken,
  policy: JwtVerifyPolicy,
  getKey: JWTVerifyGetKey,
  clock: Clock,
): Promise<VerifiedJwt> {
  const fp = (): string => prechecked.fingerprint;
  const legacy = policy.legacy ?? false;
  const options: JWTVerifyOptions = {
    issuer: policy.issuer,
    algorithms: [...policy.algorithms],
    clockTolerance: policy.clockSkew,
    requiredClaims: legacy ? ['iss', 'sub'] : ['iss', 'sub', 'exp', 'aud'],
    currentDate: new Date(clock.now()),
  };
  // jose only checks `iat` against the clock when maxTokenAge is set, and then requires it.
  if (prechecked.payload['iat'] !== undefined) options.maxTokenAge = policy.maxLifetime;

  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(token, getKey, options));
  } catch (err) {
    throw mapJoseError(err, fp());
  }

  if (typeof claims['sub'] !== 'string' || claims['sub'].length === 0) {
    throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'token "sub" must be a non-empty string', { claim: 'sub', reason: 'invalid', fingerprint: fp() });
  }
  if (!legacy || claims['aud'] !== undefined) checkAudience(claims['aud'], policy.audiences, policy.allowMultipleAudiences, fp);
  const exp = claims['exp'];
  if (typeof exp === 'number') {
    const iat = claims['iat'];
    const start = typeof iat === 'number' ? iat : Math.floor(clock.now() / 1000);
    if (exp - start > policy.maxLifetime) {
      throw new TokenError('ERR_TOKEN_LIFETIME_TOO_LONG', `token lifetime exceeds ${policy.maxLifetime} s`, {
        claim: 'exp',
        reason: 'too_long',
        maxLifetime: policy.maxLifetime,
        fingerprint: fp(),
      });
    }
  }
  return {
    header: prechecked.header,
    claims,
    get fingerprint() {
      return fp();
    },
  };
}
