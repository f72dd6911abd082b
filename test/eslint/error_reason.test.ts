/**
 * The stint/error-reason lint rule (eslint/error_reason.js): a string-literal `details.reason` of
 * `new StintError` / `new TokenError` must be lower snake_case; UPPER_CASE, kebab-case and
 * camelCase are flagged, while other constructors, computed reasons and the policy decision's own
 * reason argument are left alone.
 */
import { Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain-JS ESLint rule without type declarations
import { errorReasonRule } from '../../eslint/error_reason.js';

const linter = new Linter({ configType: 'flat' });
const config = [{ plugins: { stint: { rules: { 'error-reason': errorReasonRule } } }, rules: { 'stint/error-reason': 'error' as const } }];
const problems = (code: string): string[] => linter.verify(code, config).map((m) => m.message);

describe('stint/error-reason', () => {
  it('flags UPPER_CASE, kebab-case and camelCase reasons in StintError and TokenError details', () => {
    expect(problems("new StintError('ERR_TARGET_DENIED', 'm', { reason: 'UNKNOWN_DATABASE' });")).toEqual([expect.stringContaining('"UNKNOWN_DATABASE" of StintError must be lower snake_case')]);
    expect(problems("new TokenError('ERR_TOKEN_EXPIRED', 'm', { claim: 'iat', 'reason': 'too-old' });")).toHaveLength(1);
    expect(problems('new StintError("ERR_UNAVAILABLE", "m", { reason: `stsUnavailable` });')).toHaveLength(1);
    expect(problems("new StintError('ERR_UNAVAILABLE', 'm', { reason: '9lives' });")).toHaveLength(1);
  });

  it('accepts lower snake_case reasons and leaves what it cannot read or does not own', () => {
    expect(problems("new TokenError('ERR_TOKEN_EXPIRED', 'm', { claim: 'iat', reason: 'too_old', fingerprint: fp });")).toEqual([]);
    expect(problems("new StintError('ERR_RATE_LIMITED', 'm', { reason: `rate_limited_${scope}` });")).toEqual([]);
    expect(problems("new StintError('ERR_UNAVAILABLE', 'm', { reason });")).toEqual([]);
    expect(problems("new PolicyDeniedError('ERR_POLICY_DENIED', 'm', null, 'NO_RULE_MATCHED', {});")).toEqual([]);
    expect(problems("const d = { outcome: 'deny', reason: 'NO_RULE_MATCHED' };")).toEqual([]);
  });
});
