import { errors } from 'jose';
import { StintError, TokenError } from '../../errors.js';

/**
 * Map an error thrown by jose (today: its key selection, the key source's getKey, in verify.ts)
 * to Stint's taxonomy. Our own errors pass through; jose errors become TokenErrors with a stable
 * code; jose's message and any claims set it carries are dropped (only the claim name and reason
 * survive). Unknown errors become ERR_INTERNAL. The claim classes keep their mapping, which
 * registered_claims.ts reproduces (its tests compare the two).
 */
export function mapJoseError(err: unknown, fp: string): StintError {
  if (err instanceof StintError) return err;
  const base = { fingerprint: fp };
  if (err instanceof errors.JWTExpired) {
    // jose reports `iat` older than maxTokenAge (= maxLifetime) as expired; exp was still valid
    // then, so the token's lifetime exceeds the maximum.
    if (err.claim === 'iat') return new TokenError('ERR_TOKEN_LIFETIME_TOO_LONG', 'token lifetime exceeds the maximum', { ...base, claim: 'iat', reason: 'too_old' });
    return new TokenError('ERR_TOKEN_EXPIRED', 'token has expired', { ...base, claim: 'exp', reason: 'expired' });
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim;
    const reason = err.reason;
    if ((claim === 'nbf' || claim === 'iat') && reason === 'check_failed') {
      return new TokenError('ERR_TOKEN_NOT_YET_VALID', `token "${claim}" is in the future`, { ...base, claim, reason: 'in_future' });
    }
    if (claim === 'aud') return new TokenError('ERR_TOKEN_AUDIENCE_INVALID', 'token audience is invalid', { ...base, claim, reason });
    return new TokenError('ERR_TOKEN_CLAIM_INVALID', `token claim "${claim}" is invalid`, { ...base, claim, reason });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenError('ERR_TOKEN_SIGNATURE_INVALID', 'token signature is invalid', { ...base, reason: 'signature' });
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return new TokenError('ERR_TOKEN_KEY_NOT_FOUND', "no key of the issuer matches the token's kid and alg", { ...base, reason: 'no_matching_key' });
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenError('ERR_TOKEN_KEY_NOT_FOUND', 'several keys of the issuer match a token without kid', { ...base, reason: 'ambiguous_key' });
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new TokenError('ERR_TOKEN_ALG_NOT_ALLOWED', 'token algorithm is not allowed', { ...base, reason: 'alg_not_in_allowlist' });
  }
  if (err instanceof errors.JWKInvalid || err instanceof errors.JWKSInvalid || err instanceof errors.JOSENotSupported) {
    return new TokenError('ERR_TOKEN_KEY_NOT_FOUND', "the issuer's matching key is unusable", { ...base, reason: 'key_unusable' });
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return new TokenError('ERR_TOKEN_MALFORMED', 'token is malformed', { ...base, reason: 'jose_invalid' });
  }
  if (err instanceof errors.JOSEError) {
    return new TokenError('ERR_TOKEN_MALFORMED', 'token could not be verified', { ...base, reason: err.code });
  }
  if (err instanceof TypeError) {
    // jose throws TypeError for keys it refuses to use (e.g. RSA modulus below 2048 bits).
    return new TokenError('ERR_TOKEN_KEY_NOT_FOUND', "the issuer's matching key is unusable", { ...base, reason: 'key_unusable' });
  }
  return new StintError('ERR_INTERNAL', 'internal error during token verification', base, { cause: err });
}
