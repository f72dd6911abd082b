/** Properties: decide() is total over arbitrary claims and requests, and exact matching is identity. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClaimValue } from '../../src/attestation/attestor.js';
import type { CredentialRequest, DecisionReason } from '../../src/policy/index.js';
import { compileGlob, globProblem, globToRegExp } from '../../src/policy/glob.js';
import { k8s, policy } from './helpers.js';

const REASONS: ReadonlySet<DecisionReason> = new Set<DecisionReason>([
  'RULE_MATCHED', 'NO_RULE_MATCHED', 'KIND_NOT_ALLOWED', 'AUDIENCE_NOT_ALLOWED', 'AUDIENCE_REQUIRED', 'TARGET_NOT_ALLOWED',
  'TARGET_REQUIRED', 'SCOPE_NOT_ALLOWED', 'TTL_ABOVE_MAX', 'LEGACY_TOKEN_NOT_ALLOWED', 'NO_CREDENTIALS_REQUESTED',
]);

const P = policy(`version: 1
rules:
  - name: exact
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: default, n: 42 } }
    allow: [{ kind: stint-jwt, audiences: [a, { glob: "b/*" }], ttl: { default: 1m, max: 1h }, passClaims: [namespace, constructor] }]
  - name: patterns
    match:
      attestor: kubernetes
      issuer: https://k8s.example
      claims:
        namespace: { glob: "team-**" }
        /kubernetes.io/pod/name: { regex: "^[a-z]+-[0-9]+$" }
        env: { oneOf: [prod, "1"] }
        flag: true
    allow:
      - { kind: aws-sts, targets: [{ regex: "^arn:.*$" }], scopes: [x, y], ttl: { default: 1m, max: 10m } }
  - name: legacy
    allowLegacyTokens: true
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { constructor: { glob: "*" } } }
    allow: [{ kind: stint-jwt, audiences: [c], ttl: { default: 1m, max: 1h } }]
`);

const claimKey = fc.oneof(fc.constantFrom('namespace', 'n', 'env', 'flag', 'constructor', '__proto__', 'toString', 'kubernetes.io', 'hasOwnProperty'), fc.string());
const claimValue: fc.Arbitrary<ClaimValue> = fc.oneof(
  fc.constantFrom<ClaimValue>('default', 'team-a', 'team-a/b', 'prod', '1', 42, 42.5, -0, true, null, [], {}, { pod: { name: 'web-1' } }),
  fc.jsonValue() as fc.Arbitrary<ClaimValue>,
);
const claims = fc.dictionary(claimKey, claimValue, { maxKeys: 8 });
const request: fc.Arbitrary<CredentialRequest> = fc.record(
  {
    kind: fc.oneof(fc.constantFrom('stint-jwt', 'aws-sts', 'vault'), fc.string()),
    audience: fc.oneof(fc.constantFrom('a', 'b/x', 'b/x/y', 'c', ''), fc.string()),
    target: fc.oneof(fc.constant('arn:aws:iam::1:role/x'), fc.string()),
    ttlSeconds: fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.double()),
    scopes: fc.array(fc.oneof(fc.constantFrom('x', 'y', 'z'), fc.string()), { maxLength: 3 }),
  },
  { requiredKeys: ['kind'] },
);

describe('decide() properties', () => {
  it('never throws and always returns an outcome, a known reason and a rule (or null)', () => {
    fc.assert(
      fc.property(claims, fc.array(request, { maxLength: 3 }), fc.boolean(), fc.constantFrom('https://k8s.example', 'https://other', ''), (c, reqs, legacy, issuer) => {
        const d = P.decide(k8s(c, { legacy, issuer }), reqs, 0);
        expect(['allow', 'deny']).toContain(d.outcome);
        expect(REASONS.has(d.reason)).toBe(true);
        expect(d.rule === null || P.ruleNames.includes(d.rule)).toBe(true);
        if (d.outcome === 'allow') {
          expect(d.credentials).toHaveLength(reqs.length);
          for (const g of d.credentials) {
            expect(g.ttlSeconds).toBeGreaterThanOrEqual(1);
            expect(g.ttlSeconds).toBeLessThanOrEqual(3600);
            expect(Number.isInteger(g.ttlSeconds)).toBe(true);
          }
        } else {
          // The fail-closed fallback of CompiledPolicy.decide must not be what answered.
          expect(d.message).not.toMatch(/malformed/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws for malformed identities and requests from untyped callers', () => {
    const junk = fc.oneof(fc.constant(undefined), fc.constant(null), fc.jsonValue());
    fc.assert(
      fc.property(junk, junk, fc.array(junk, { maxLength: 3 }), (claimsJunk, idJunk, reqs) => {
        const identity = { ...k8s({}), claims: claimsJunk, id: idJunk } as unknown as Parameters<typeof P.decide>[0];
        const d = P.decide(identity, reqs as unknown as CredentialRequest[], 0);
        expect(REASONS.has(d.reason)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('an exact matcher matches a string claim exactly when it is the same string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1 }), fc.string({ unit: 'binary' }), (expected, actual) => {
        const p = policy(`version: 1
rules:
  - name: r
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { c: ${JSON.stringify(expected)} } }
    allow: [{ kind: stint-jwt, audiences: [a], ttl: { default: 1m, max: 1h } }]
`);
        const ok = (v: string) => p.decide(k8s({ c: v }), [{ kind: 'stint-jwt', audience: 'a' }], 0).outcome === 'allow';
        expect(ok(expected)).toBe(true);
        expect(ok(actual)).toBe(actual === expected);
      }),
      { numRuns: 300 },
    );
  });

  it('glob fast paths answer exactly as the RegExp form', () => {
    const piece = fc.constantFrom('a', 'b', '/', '-', '.', '*', '**', '?', '\\*', '\\\\', '\u00e9', '\u{1F600}');
    const glob = fc.array(piece, { minLength: 0, maxLength: 4 }).map((p) => p.join('')).filter((g) => globProblem(g) === null);
    const value = fc.array(fc.constantFrom('a', 'b', '/', '-', '.', '*', '\\', '\u00e9', '\u{1F600}', '\uD83D', ''), { maxLength: 6 }).map((p) => p.join(''));
    fc.assert(
      fc.property(glob, value, (g, v) => {
        expect(compileGlob(g)(v)).toBe(globToRegExp(g).test(v));
      }),
      { numRuns: 5000 },
    );
  });
});
