/** Policy tests (`stint policy test`): the example policies pass their cases; a wrong expectation fails with what differed. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCases, runCases } from '../../src/policy/cases.js';
import { lintPolicy } from '../../src/policy/lint.js';
import { loadPolicyFile } from '../../src/policy/index.js';
import { policy } from './helpers.js';

const examples = resolve(import.meta.dirname, '../../examples');
const read = (f: string): string => readFileSync(resolve(examples, f), 'utf8');

describe.each([
  ['policy.dev.yaml', 'cases.dev.yaml'],
  ['policy.github.yaml', 'cases.github.yaml'],
])('examples/%s with examples/%s', (policyFile, casesFile) => {
  const compiled = loadPolicyFile(resolve(examples, policyFile), { maxTtlSeconds: 3600 });
  const results = runCases(compiled, parseCases(read(casesFile), casesFile));
  it.each(results.map((r) => [r.name, r] as const))('%s', (_name, r) => {
    expect(r.problems).toEqual([]);
  });
  it('lints clean', () => {
    expect(lintPolicy(read(policyFile), { filename: policyFile, maxTtlSeconds: 3600 })).toEqual([]);
  });
});

describe('policy test cases', () => {
  const p = policy(`version: 1
rules:
  - name: r
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: a } }
    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: 10m, max: 1h }
`);
  const cases = parseCases(`cases:
  - name: wrong expectations
    identity: { kind: kubernetes, issuer: https://k8s.example, claims: { namespace: a } }
    request: { kind: stint-jwt, audience: aud, ttl: 2h }
    expect: { decision: deny, rule: other, ttl: 30m }
  - name: right
    identity: { kind: kubernetes, issuer: https://k8s.example, claims: { namespace: a } }
    credentials: [{ kind: stint-jwt, audience: aud }]
    expect: { decision: allow, rule: r, reason: RULE_MATCHED, ttl: 10m }
`);

  it('report every difference of a failing case, with its line', () => {
    const [wrong, right] = runCases(p, cases);
    expect(wrong).toMatchObject({ ok: false, line: 2 });
    expect(wrong?.problems).toEqual(['decision: expected deny, got allow (RULE_MATCHED)', 'rule: expected "other", got "r"', 'ttl: expected 1800s, got 3600s']);
    expect(right).toMatchObject({ ok: true, line: 6 });
  });

  it('refuse an unknown key in a case', () => {
    expect(() => parseCases('cases:\n  - name: x\n    identity: { kind: kubernetes, issuer: i }\n    expect: { decision: allow, ttll: 5 }\n')).toThrow(/ttll/);
  });
});
