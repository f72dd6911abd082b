/** Every jose error class maps to one stable Stint code, and no jose payload leaks through. */
import { errors } from 'jose';
import { describe, expect, it } from 'vitest';
import { mapJoseError } from '../../../src/attestation/jwt/map_jose_error.js';
import { StintError, TokenError } from '../../../src/errors.js';

const payload = { sub: 'secret-subject' };

describe('mapJoseError', () => {
  it.each([
    [new errors.JWTExpired('x', payload, 'exp', 'check_failed'), 'ERR_TOKEN_EXPIRED', { claim: 'exp' }],
    [new errors.JWTExpired('x', payload, 'iat', 'check_failed'), 'ERR_TOKEN_LIFETIME_TOO_LONG', { claim: 'iat' }],
    [new errors.JWTClaimValidationFailed('x', payload, 'nbf', 'check_failed'), 'ERR_TOKEN_NOT_YET_VALID', { claim: 'nbf' }],
    [new errors.JWTClaimValidationFailed('x', payload, 'iat', 'check_failed'), 'ERR_TOKEN_NOT_YET_VALID', { claim: 'iat' }],
    [new errors.JWTClaimValidationFailed('x', payload, 'iat', 'invalid'), 'ERR_TOKEN_CLAIM_INVALID', { claim: 'iat', reason: 'invalid' }],
    [new errors.JWTClaimValidationFailed('x', payload, 'aud', 'missing'), 'ERR_TOKEN_AUDIENCE_INVALID', { claim: 'aud' }],
    [new errors.JWTClaimValidationFailed('x', payload, 'iss', 'check_failed'), 'ERR_TOKEN_CLAIM_INVALID', { claim: 'iss' }],
    [new errors.JWTClaimValidationFailed('x', payload, 'exp', 'missing'), 'ERR_TOKEN_CLAIM_INVALID', { claim: 'exp', reason: 'missing' }],
    [new errors.JWSSignatureVerificationFailed(), 'ERR_TOKEN_SIGNATURE_INVALID', {}],
    [new errors.JWKSNoMatchingKey(), 'ERR_TOKEN_KEY_NOT_FOUND', { reason: 'no_matching_key' }],
    [new errors.JWKSMultipleMatchingKeys(), 'ERR_TOKEN_KEY_NOT_FOUND', { reason: 'ambiguous_key' }],
    [new errors.JOSEAlgNotAllowed('x'), 'ERR_TOKEN_ALG_NOT_ALLOWED', {}],
    [new errors.JOSENotSupported('x'), 'ERR_TOKEN_KEY_NOT_FOUND', { reason: 'key_unusable' }],
    [new errors.JWKInvalid('x'), 'ERR_TOKEN_KEY_NOT_FOUND', { reason: 'key_unusable' }],
    [new errors.JWKSInvalid('x'), 'ERR_TOKEN_KEY_NOT_FOUND', { reason: 'key_unusable' }],
    [new errors.JWSInvalid('x'), 'ERR_TOKEN_MALFORMED', {}],
    [new errors.JWTInvalid('x'), 'ERR_TOKEN_MALFORMED', {}],
    [new errors.JWKSTimeout(), 'ERR_TOKEN_MALFORMED', {}],
    [new TypeError('RS256 requires key modulusLength to be 2048 bits or larger'), 'ERR_TOKEN_KEY_NOT_FOUND', {}],
  ])('maps %s to %s', (err, code, details) => {
    const mapped = mapJoseError(err, 'sha256:0000');
    expect(mapped).toBeInstanceOf(TokenError);
    expect(mapped).toMatchObject({ code, details: { fingerprint: 'sha256:0000', ...details } });
    expect(JSON.stringify(mapped.details) + mapped.message).not.toContain('secret-subject');
    expect(mapped.cause).toBeUndefined();
  });

  it('passes Stint errors through and wraps anything else as ERR_INTERNAL', () => {
    const ours = new StintError('ERR_ISSUER_UNAVAILABLE', 'down');
    expect(mapJoseError(ours, 'fp')).toBe(ours);
    expect(mapJoseError(new Error('boom'), 'fp')).toMatchObject({ code: 'ERR_INTERNAL' });
  });
});
