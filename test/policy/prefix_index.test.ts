/** Rules indexed by the literal prefix of their globs decide exactly as rules tested one by one. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { k8s, policy } from './helpers.js';

const GLOBS = ['ns-1*', 'ns-1-*', 'ns-*', 'ns-12*', 'n*', 'ns-1?-x', 'ns-\\*-*', 'ns-2/**', 'x*', 'ns-1'];

function rule(i: number, glob: string, sa?: string): string {
  return `  - name: r-${i}
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: { glob: ${JSON.stringify(glob)} }${sa ? `, service_account: ${sa}` : ''} } }
    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: 10m, max: 1h }
`;
}

describe('literal-prefix index', () => {
  const rules = GLOBS.map((g, i) => rule(i, g, i % 4 === 0 ? 'api' : undefined));
  rules.splice(4, 0, `  - name: no-prefix
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: { glob: "*-9" } } }
    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: 10m, max: 1h }
`);
  const indexed = policy(`version: 1\nrules:\n${rules.join('')}`);
  const single = rules.map((r) => policy(`version: 1\nrules:\n${r}`));

  it('picks the first rule in file order that a one-by-one test picks', () => {
    const ns = fc.oneof(fc.constantFrom('ns-1', 'ns-1-a', 'ns-12', 'ns-123', 'ns-1x-x', 'ns-*-a', 'ns-2/a/b', 'n', 'x', 'ns-9', 'ns-', ''), fc.stringMatching(/^[ns12x*/-]{0,6}$/));
    fc.assert(
      fc.property(ns, fc.constantFrom('api', 'web'), (namespace, sa) => {
        const id = k8s({ namespace, service_account: sa });
        const req = [{ kind: 'stint-jwt', audience: 'aud' }];
        const expected = single.map((p) => p.decide(id, req, 0)).find((d) => d.outcome === 'allow');
        const got = indexed.decide(id, req, 0);
        expect(got.rule).toBe(expected?.rule ?? null);
        expect(got.outcome).toBe(expected ? 'allow' : 'deny');
      }),
      { numRuns: 500 },
    );
  });

  it('a missing or non-string claim matches no prefixed rule', () => {
    expect(indexed.decide(k8s({ service_account: 'api' }), [{ kind: 'stint-jwt', audience: 'aud' }], 0).outcome).toBe('deny');
    expect(indexed.decide(k8s({ namespace: true, service_account: 'api' }), [{ kind: 'stint-jwt', audience: 'aud' }], 0).outcome).toBe('deny');
  });
});
