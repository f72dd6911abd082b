/** Shadow rules and decision comparison: one classification for live shadow mode and simulation. */
import { describe, expect, it } from 'vitest';
import type { CredentialRequest } from '../../src/policy/decision.js';
import { disagreement, summarize } from '../../src/policy/shadow.js';
import { k8s, policy } from './helpers.js';

const base = (extraRules = '') => `version: 1
rules:
  - name: payments
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: payments } }
    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: 10m, max: 1h }
${extraRules}`;

const req: CredentialRequest[] = [{ kind: 'stint-jwt', audience: 'aud' }];

describe('rules marked mode: shadow', () => {
  const p = policy(base(`  - name: batch-candidate
    mode: shadow
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: batch } }
    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: 5m, max: 1h }
`));

  it('are never enforced', () => {
    expect(p.ruleNames).toEqual(['payments']);
    expect(p.decide(k8s({ namespace: 'batch' }), req, 0).outcome).toBe('deny');
  });

  it('form the candidate policy with every rule, in file order', () => {
    expect(p.candidate).toBeDefined();
    expect(p.candidate?.ruleNames).toEqual(['payments', 'batch-candidate']);
    expect(p.candidate?.decide(k8s({ namespace: 'batch' }), req, 0)).toMatchObject({ outcome: 'allow', rule: 'batch-candidate' });
    expect(p.rules.map((r) => r.mode)).toEqual(['enforce', 'shadow']);
  });

  it('a policy without shadow rules has no candidate', () => {
    expect(policy(base()).candidate).toBeUndefined();
  });
});

describe('disagreement', () => {
  const enforced = policy(base());
  const decide = (yaml: string, claims: Record<string, string> = { namespace: 'payments' }, r: CredentialRequest[] = req) => summarize(policy(yaml).decide(k8s(claims), r, 0));
  const now = summarize(enforced.decide(k8s({ namespace: 'payments' }), req, 0));

  it('agrees for the same policy, and for two denials whatever their reasons', () => {
    expect(disagreement(now, decide(base()))).toBeNull();
    expect(disagreement(decide(base(), { namespace: 'x' }), decide(base(), { namespace: 'x' }, [{ kind: 'other' }]))).toBeNull();
  });

  it('classifies newly denied and newly allowed', () => {
    expect(disagreement(now, decide(base().replace('namespace: payments', 'namespace: other')))).toBe('newly_denied');
    expect(disagreement(decide(base(), { namespace: 'other' }), decide(base().replace('namespace: payments', 'namespace: other'), { namespace: 'other' }))).toBe('newly_allowed');
  });

  it('classifies a different rule, TTL, or target/audience', () => {
    expect(disagreement(now, decide(base().replace('name: payments', 'name: payments-v2')))).toBe('rule');
    expect(disagreement(now, decide(base().replace('default: 10m', 'default: 5m')))).toBe('ttl');
    const two = base().replace('audiences: [aud]', 'audiences: [aud, aud2]');
    expect(disagreement(decide(two, undefined, [{ kind: 'stint-jwt', audience: 'aud' }]), decide(two, undefined, [{ kind: 'stint-jwt', audience: 'aud2' }]))).toBe('target');
  });
});
