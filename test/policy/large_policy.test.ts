/** decide() over 1,000 rules: the exact-value index and the ordered scan pick the same rules as file order. */
import { describe, expect, it } from 'vitest';
import type { CredentialRequest } from '../../src/policy/index.js';
import { k8s, policy } from './helpers.js';

/** 1,000 rules on one issuer; `pinned` rules name their namespace exactly, others by a suffix glob. */
function bigPolicy(rules: number, pinned: boolean): string {
  const out = ['version: 1', 'rules:'];
  for (let i = 0; i < rules; i++) {
    out.push(
      `  - name: rule-${i}`,
      '    match:',
      '      attestor: kubernetes',
      '      issuer: https://k8s.example',
      '      claims:',
      pinned ? `        namespace: team-ns-${i}` : `        namespace: { glob: "*-ns-${i}" }`,
      `        service_account: { glob: "sa-${i}-*" }`,
      '        /kubernetes.io/pod/name: { regex: "^web-[0-9a-f]{5}$" }',
      '    allow:',
      '      - kind: stint-jwt',
      `        audiences: [https://api-${i}.example, { glob: "https://*.svc-${i}.example" }]`,
      '        ttl: { default: 15m, max: 1h }',
      '        passClaims: [namespace]',
    );
  }
  return `${out.join('\n')}\n`;
}


const pod = { pod: { name: 'web-1a2b3' } };
const req: CredentialRequest[] = [{ kind: 'stint-jwt', audience: 'https://api-999.example' }];
const last = k8s({ namespace: 'team-ns-999', service_account: 'sa-999-x', 'kubernetes.io': pod });
const wrongSa = k8s({ namespace: 'team-ns-999', service_account: 'other', 'kubernetes.io': pod });
const unknownNs = k8s({ namespace: 'team-ns-x', service_account: 'sa-999-x', 'kubernetes.io': pod });

// Timing lives in the benchmark (npm run bench), never in tests; these check the rule index picks the right rule.
describe('decide() with 1,000 rules on one issuer', () => {
  it('rules pinning the namespace exactly: only the rules for that namespace are tested', () => {
    const p = policy(bigPolicy(1000, true));
    expect(p.decide(last, req, 0)).toMatchObject({ outcome: 'allow', rule: 'rule-999' });
    expect(p.decide(wrongSa, req, 0)).toMatchObject({ outcome: 'deny', reason: 'NO_RULE_MATCHED', nearestRule: 'rule-999' });
    expect(p.decide(unknownNs, req, 0)).toMatchObject({ outcome: 'deny', reason: 'NO_RULE_MATCHED', rule: null });
  });

  it('rules matching by glob only: every rule is tested in order (worst case)', () => {
    const p = policy(bigPolicy(1000, false));
    expect(p.decide(last, req, 0)).toMatchObject({ outcome: 'allow', rule: 'rule-999' });
  });
});
