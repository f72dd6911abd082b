/**
 * Verify a compact JWS subject token: Stint's precheck (which decodes the token once, strictly),
 * the issuer's key chosen by jose (key_source.ts), the signature with node:crypto synchronously
 * (jws_signature.ts, issue 12), the registered claims as jose's jwtVerify checked them
 * (registered_claims.ts), then Stint's `sub`, audience and lifetime rules. Every failure is a
 * TokenError (or ERR_ISSUER_UNAVAILABLE) with a stable code.
 */
import type { FlattenedJWSInput, JWTHeaderParameters, JWTVerifyGetKey } from 'jose';
import type { Clock } from '../../clock.js';
import { TokenError } from '../../errors.js';
import { checkAudience } from './check_audience.js';
import { jwsVerificationKey, verifyJwsSignature } from './jws_signature.js';
import { mapJoseError } from './map_jose_error.js';
import { precheckToken, type PrecheckedToken } from './precheck.js';
import { checkRegisteredClaims } from './registered_claims.js';

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
  const { alg, header, segments } = prechecked;
  // The precheck applied the issuer's allowlist; a policy override (legacy tokens) is checked again.
  if (!policy.algorithms.includes(alg)) {
    throw new TokenError('ERR_TOKEN_ALG_NOT_ALLOWED', 'token algorithm is not allowed', { fingerprint: fp(), reason: 'alg_not_in_allowlist' });
  }

  let key: unknown;
  try {
    const jws: FlattenedJWSInput = { protected: segments[0], payload: segments[1], signature: segments[2] };
    key = await getKey(header as JWTHeaderParameters, jws);
  } catch (err) {
    throw mapJoseError(err, fp());
  }
  const keyObject = jwsVerificationKey(alg, key);
  if (keyObject === null) {
    throw new TokenError('ERR_TOKEN_KEY_NOT_FOUND', "the issuer's matching key is unusable", { fingerprint: fp(), reason: 'key_unusable' });
  }
  // The signing input is `header.payload` as ASCII (the precheck admitted base64url characters only).
  const signingInput = Buffer.from(`${segments[0]}.${segments[1]}`, 'latin1');
  if (!verifyJwsSignature(alg, keyObject, signingInput, prechecked.signature)) {
    throw new TokenError('ERR_TOKEN_SIGNATURE_INVALID', 'token signature is invalid', { fingerprint: fp(), reason: 'signature' });
  }

  // The precheck's strict parse equals JSON.parse's (duplicates and overflowing numbers refused).
  const claims = prechecked.payload;
  checkRegisteredClaims(
    claims,
    {
      issuer: policy.issuer,
      requiredClaims: legacy ? ['iss', 'sub'] : ['iss', 'sub', 'exp', 'aud'],
      clockTolerance: policy.clockSkew,
      now: Math.floor(clock.now() / 1000),
      // `iat` is checked against the clock (and the maximum age) only when the token carries it.
      maxTokenAge: claims['iat'] !== undefined ? policy.maxLifetime : undefined,
    },
    fp,
  );

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
