/** CEL conditions: compiled once at load, errors name the rule and position, evaluation fails closed. */
import { describe, expect, it } from 'vitest';
import { k8s, policy, policyError } from './helpers.js';

const withCondition = (condition: string, extra = ''): string => `version: 1
rules:
  - name: guarded
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: payments } }
    condition: ${JSON.stringify(condition)}
${extra}    allow:
      - kind: stint-jwt
        audiences: [aud, other]
        ttl: { default: 10m, max: 1h }
`;

const id = (claims: Record<string, string | number | boolean> = {}) => k8s({ namespace: 'payments', service_account: 'api', ...claims });

describe('CEL conditions', () => {
  it('allow when the expression over claims and the request holds', () => {
    const p = policy(withCondition('claims.service_account == "api" && request.audience == "aud" && request.ttl <= 1800'));
    expect(p.decide(id(), [{ kind: 'stint-jwt', audience: 'aud', ttlSeconds: 900 }], 0)).toMatchObject({ outcome: 'allow', rule: 'guarded' });
  });

  it('deny with CONDITION_NOT_MET and the failed condition when it does not hold for one credential', () => {
    const p = policy(withCondition('request.audience == "aud"'));
    const d = p.decide(id(), [{ kind: 'stint-jwt', audience: 'aud' }, { kind: 'stint-jwt', audience: 'other' }], 0);
    expect(d).toMatchObject({ outcome: 'deny', rule: 'guarded', reason: 'CONDITION_NOT_MET', failed: [{ field: 'condition', expected: 'request.audience == "aud"', actual: 'false' }] });
  });

  it('read integer claims as CEL ints, the time of day in UTC, and the request context', () => {
    const p = policy(withCondition('claims.run_attempt < 3 && time.hour >= 9 && time.hour < 17 && context.ticket.startsWith("CHG-")'));
    const at10 = Date.parse('2026-03-02T10:00:00Z') / 1000;
    const at20 = Date.parse('2026-03-02T20:00:00Z') / 1000;
    const req = [{ kind: 'stint-jwt', audience: 'aud' }];
    expect(p.decide(id({ run_attempt: 1 }), req, at10, { ticket: 'CHG-1' }).outcome).toBe('allow');
    expect(p.decide(id({ run_attempt: 1 }), req, at20, { ticket: 'CHG-1' }).outcome).toBe('deny');
    expect(p.decide(id({ run_attempt: 5 }), req, at10, { ticket: 'CHG-1' }).outcome).toBe('deny');
    expect(p.decide(id({ run_attempt: 1 }), req, at10, {}).outcome).toBe('deny');
  });

  it('fail closed when evaluation errs (a missing claim)', () => {
    const p = policy(withCondition('claims.missing == "x" || true == false'));
    expect(p.decide(id(), [{ kind: 'stint-jwt', audience: 'aud' }], 0)).toMatchObject({ outcome: 'deny', reason: 'CONDITION_NOT_MET' });
  });

  it('refuse a syntax error naming the rule, the position and the line', () => {
    const e = policyError(withCondition('claims.namespace == '));
    expect(e.code).toBe('ERR_POLICY_INVALID');
    expect(e.path).toBe('rules[0].condition');
    expect(e.message).toMatch(/rule "guarded": condition does not compile at character 21/);
    expect((e.details as { line: number }).line).toBe(5);
  });

  it('refuse a type error (unknown request field, int compared to string) at load', () => {
    expect(policyError(withCondition('request.ttll > 1')).message).toMatch(/rule "guarded".*at character 9: No such key: ttll/);
    expect(policyError(withCondition('request.ttl > "x"')).message).toMatch(/no such overload/);
  });

  it('refuse an expression that is not of type bool', () => {
    expect(policyError(withCondition('request.ttl')).message).toMatch(/must be of type bool, got int/);
  });
});
