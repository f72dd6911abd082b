/** How a client of Stint's HTTP endpoints (CLI, sidecar) turns an error answer back into a StintError. */
import { describe, expect, it } from 'vitest';
import { errorFromOAuthBody, isRetryableCode } from '../src/errors.js';

describe('errorFromOAuthBody', () => {
  it("keeps the server's code, reason and nearest rule", () => {
    const err = errorFromOAuthBody(400, { error: 'unauthorized_client', error_description: 'no rule allows this workload', stint_code: 'ERR_POLICY_DENIED', reason: 'NO_RULE_MATCHED', rule: 'deploy-from-main' });
    expect(err.code).toBe('ERR_POLICY_DENIED');
    expect(err.mapping.exit).toBe(4);
    expect(err.message).toBe('Stint refused (HTTP 400 unauthorized_client): no rule allows this workload (reason NO_RULE_MATCHED, nearest rule deploy-from-main)');
    expect(err.details).toEqual({ reason: 'NO_RULE_MATCHED', status: 400, oauthError: 'unauthorized_client' });
  });

  it.each([
    [503, { error: 'temporarily_unavailable' }, 'ERR_UNAVAILABLE'],
    [0, null, 'ERR_UNAVAILABLE'],
    [400, { error: 'invalid_request', stint_code: 'ERR_NOT_A_CODE' }, 'ERR_INVALID_REQUEST'],
    [404, {}, 'ERR_INVALID_REQUEST'],
  ] as const)('without a code of ours, HTTP %i becomes by status', (status, body, code) => {
    const err = errorFromOAuthBody(status, body);
    expect(err.code).toBe(code);
    expect(err.details.reason).toBe(body && 'error' in body ? body.error : `http_${status}`);
  });

  it('a 429 without Stint\'s code (a proxy in front) is ERR_RATE_LIMITED and retryable; with Stint\'s code, its code wins', () => {
    const proxy = errorFromOAuthBody(429, { error_description: 'slow down' });
    expect(proxy.code).toBe('ERR_RATE_LIMITED');
    expect(isRetryableCode(proxy.code)).toBe(true);
    expect(errorFromOAuthBody(429, { stint_code: 'ERR_IDENTITY_QUARANTINED' }).code).toBe('ERR_IDENTITY_QUARANTINED');
    expect(errorFromOAuthBody(400, {}).code).toBe('ERR_INVALID_REQUEST');
  });

  it('bounds the description', () => {
    expect(errorFromOAuthBody(400, { error_description: 'd'.repeat(1000) }).message.length).toBeLessThan(350);
  });
});
