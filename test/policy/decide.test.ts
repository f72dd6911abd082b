/** Decisions: rule order, nearest-rule reasons, TTLs, legacy tokens, grants. */
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/policy/index.js';
import { k8s, policy } from './helpers.js';

const ORDERED = `version: 1
rules:
  - name: payments-admin
    match:
      attestor: kubernetes
      issuer: https://k8s.example
      claims:
        namespace: payments
        service_account: admin
    allow:
      - kind: stint-jwt
        audiences: [https://admin.example]
        ttl: { default: 5m, max: 10m }
  - name: payments-any
    match:
      attestor: kubernetes
      issuer: https://k8s.example
      claims:
        namespace: payments
    allow:
      - kind: stint-jwt
        audiences: [https://api.example, https://admin.example]
        ttl: { default: 15m, max: 1h }
        passClaims: [namespace, service_account, missing_claim]
        options: { keyId: main }
      - kind: aws-sts
        targets: [arn:aws:iam::1:role/payments, { glob: "arn:aws:iam::1:role/payments-ci-*" }]
        scopes: [s3:read, s3:write]
        ttl: { default: 15m, max: 1h }
  - name: other-cluster
    match:
      attestor: kubernetes
      issuer: https://other.example
    allow:
      - kind: stint-jwt
        audiences: [https://api.example]
        ttl: { default: 15m, max: 1h }
`;

function denied(d: Decision): Extract<Decision, { outcome: 'deny' }> {
  if (d.outcome !== 'deny') throw new Error(`expected a denial, got ${JSON.stringify(d)}`);
  return d;
}

function allowed(d: Decision): Extract<Decision, { outcome: 'allow' }> {
  if (d.outcome !== 'allow') throw new Error(`expected an allow, got ${JSON.stringify(d)}`);
  return d;
}

describe('rule order', () => {
  const p = policy(ORDERED);
  const admin = k8s({ namespace: 'payments', service_account: 'admin' });
  const worker = k8s({ namespace: 'payments', service_account: 'worker' });

  it('the first applicable rule that allows the request wins', () => {
    const d = allowed(p.decide(admin, [{ kind: 'stint-jwt', audience: 'https://admin.example' }], 0));
    expect(d.rule).toBe('payments-admin');
    expect(d.reason).toBe('RULE_MATCHED');
    expect(d.credentials[0]?.ttlSeconds).toBe(300);
  });
  it('a later applicable rule allows what an earlier one does not', () => {
    const d = allowed(p.decide(admin, [{ kind: 'stint-jwt', audience: 'https://api.example' }], 0));
    expect(d.rule).toBe('payments-any');
  });
  it('a rule whose conditions fail is skipped', () => {
    const d = allowed(p.decide(worker, [{ kind: 'stint-jwt', audience: 'https://admin.example' }], 0));
    expect(d.rule).toBe('payments-any');
  });
  it('rules of another issuer never apply', () => {
    const d = allowed(p.decide(k8s({}, { issuer: 'https://other.example' }), [{ kind: 'stint-jwt', audience: 'https://api.example' }], 0));
    expect(d.rule).toBe('other-cluster');
  });
  it('rule names are exposed in order', () => {
    expect(p.ruleNames).toEqual(['payments-admin', 'payments-any', 'other-cluster']);
  });
});

describe('grants', () => {
  const p = policy(ORDERED);
  const worker = k8s({ namespace: 'payments', service_account: 'worker' });

  it('carries audience, TTL, pass-through claims and options', () => {
    const d = allowed(p.decide(worker, [{ kind: 'stint-jwt', audience: 'https://api.example' }], 0));
    const c = d.credentials[0];
    expect(c).toMatchObject({ kind: 'stint-jwt', audience: 'https://api.example', ttlSeconds: 900, ttlCapped: false, scopes: [] });
    expect(c?.passClaims).toEqual({ namespace: 'payments', service_account: 'worker' });
    expect(c?.options).toEqual({ keyId: 'main' });
    expect(c?.target).toBeUndefined();
  });
  it('allows a multi-credential request only when one rule allows all of it', () => {
    const d = allowed(p.decide(worker, [
      { kind: 'stint-jwt', audience: 'https://api.example' },
      { kind: 'aws-sts', target: 'arn:aws:iam::1:role/payments-ci-build', scopes: ['s3:read'] },
    ], 0));
    expect(d.credentials.map((c) => c.kind)).toEqual(['stint-jwt', 'aws-sts']);
    expect(d.credentials[1]).toMatchObject({ target: 'arn:aws:iam::1:role/payments-ci-build', scopes: ['s3:read'] });
  });
  it('all-or-nothing: one disallowed credential denies the whole request', () => {
    const d = denied(p.decide(worker, [
      { kind: 'stint-jwt', audience: 'https://api.example' },
      { kind: 'aws-sts', target: 'arn:aws:iam::1:role/admin' },
    ], 0));
    expect(d.reason).toBe('TARGET_NOT_ALLOWED');
    expect(d.rule).toBe('payments-any');
  });
  it('granted objects do not share the request scopes array', () => {
    const scopes = ['s3:read'];
    const d = allowed(p.decide(worker, [{ kind: 'aws-sts', target: 'arn:aws:iam::1:role/payments', scopes }], 0));
    scopes.push('s3:write');
    expect(d.credentials[0]?.scopes).toEqual(['s3:read']);
  });
});

describe('denials name the nearest rule and the reason', () => {
  const p = policy(ORDERED);
  const worker = k8s({ namespace: 'payments', service_account: 'worker' });
  const admin = k8s({ namespace: 'payments', service_account: 'admin' });

  it('NO_CREDENTIALS_REQUESTED for an empty request list', () => {
    const d = denied(p.decide(worker, [], 0));
    expect(d).toMatchObject({ reason: 'NO_CREDENTIALS_REQUESTED', rule: null });
  });
  it('KIND_NOT_ALLOWED names the first applicable rule', () => {
    const d = denied(p.decide(admin, [{ kind: 'vault' }], 0));
    expect(d).toMatchObject({ reason: 'KIND_NOT_ALLOWED', rule: 'payments-admin' });
  });
  it('AUDIENCE_NOT_ALLOWED for an unlisted audience', () => {
    const d = denied(p.decide(worker, [{ kind: 'stint-jwt', audience: 'https://evil.example' }], 0));
    expect(d).toMatchObject({ reason: 'AUDIENCE_NOT_ALLOWED', rule: 'payments-any' });
  });
  it('AUDIENCE_NOT_ALLOWED compares audiences byte-exact', () => {
    const d = denied(p.decide(worker, [{ kind: 'stint-jwt', audience: 'https://API.example' }], 0));
    expect(d.reason).toBe('AUDIENCE_NOT_ALLOWED');
  });
  it('AUDIENCE_REQUIRED for a stint-jwt without audience (absent or empty)', () => {
    expect(denied(p.decide(worker, [{ kind: 'stint-jwt' }], 0)).reason).toBe('AUDIENCE_REQUIRED');
    expect(denied(p.decide(worker, [{ kind: 'stint-jwt', audience: '' }], 0)).reason).toBe('AUDIENCE_REQUIRED');
  });
  it('AUDIENCE_NOT_ALLOWED for an audience on a kind that takes none', () => {
    const d = denied(p.decide(worker, [{ kind: 'aws-sts', target: 'arn:aws:iam::1:role/payments', audience: 'x' }], 0));
    expect(d.reason).toBe('AUDIENCE_NOT_ALLOWED');
  });
  it('TARGET_REQUIRED for a target kind without target', () => {
    expect(denied(p.decide(worker, [{ kind: 'aws-sts' }], 0)).reason).toBe('TARGET_REQUIRED');
  });
  it('TARGET_NOT_ALLOWED: a glob star does not cross "/" in a target', () => {
    const d = denied(p.decide(worker, [{ kind: 'aws-sts', target: 'arn:aws:iam::1:role/payments-ci-x/../admin' }], 0));
    expect(d.reason).toBe('TARGET_NOT_ALLOWED');
  });
  it('TARGET_NOT_ALLOWED for a target on a kind that takes none', () => {
    const d = denied(p.decide(worker, [{ kind: 'stint-jwt', audience: 'https://api.example', target: 'x' }], 0));
    expect(d.reason).toBe('TARGET_NOT_ALLOWED');
  });
  it('SCOPE_NOT_ALLOWED for an unlisted scope or where no scopes are listed', () => {
    expect(denied(p.decide(worker, [{ kind: 'aws-sts', target: 'arn:aws:iam::1:role/payments', scopes: ['s3:delete'] }], 0)).reason).toBe('SCOPE_NOT_ALLOWED');
    expect(denied(p.decide(worker, [{ kind: 'stint-jwt', audience: 'https://api.example', scopes: ['x'] }], 0)).reason).toBe('SCOPE_NOT_ALLOWED');
  });
  it('the first applicable rule is named even when a later one gets further', () => {
    const d = denied(p.decide(admin, [{ kind: 'stint-jwt', audience: 'https://evil.example' }], 0));
    expect(d.rule).toBe('payments-admin');
  });
  it('with several entries of a kind, the entry that got furthest gives the reason', () => {
    const q = policy(`version: 1
rules:
  - name: r
    ttlOverMax: deny
    match: { attestor: kubernetes, issuer: https://k8s.example }
    allow:
      - kind: stint-jwt
        audiences: [a]
        ttl: { default: 1m, max: 10m }
      - kind: stint-jwt
        audiences: [b]
        ttl: { default: 1m, max: 5m }
`);
    expect(denied(q.decide(k8s({}), [{ kind: 'stint-jwt', audience: 'b', ttlSeconds: 3600 }], 0)).reason).toBe('TTL_ABOVE_MAX');
    expect(allowed(q.decide(k8s({}), [{ kind: 'stint-jwt', audience: 'a', ttlSeconds: 600 }], 0)).credentials[0]?.ttlSeconds).toBe(600);
  });

  it('NO_RULE_MATCHED has rule null and the failed conditions of the nearest rule', () => {
    const d = denied(p.decide(k8s({ namespace: 'Payments', service_account: 'admin' }), [{ kind: 'stint-jwt', audience: 'https://api.example' }], 0));
    expect(d.reason).toBe('NO_RULE_MATCHED');
    expect(d.rule).toBeNull();
    expect(d.nearestRule).toBe('payments-admin');
    expect(d.failed).toEqual([{ field: 'claims.namespace', expected: '"payments"', actual: 'Payments' }]);
  });
  it('NO_RULE_MATCHED picks the rule with the most satisfied conditions', () => {
    const q = policy(`version: 1
rules:
  - name: one-claim
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { a: "1" } }
    allow: [{ kind: stint-jwt, audiences: [x], ttl: { default: 1m, max: 1m } }]
  - name: three-claims
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { a: "1", b: "2", c: "3" } }
    allow: [{ kind: stint-jwt, audiences: [x], ttl: { default: 1m, max: 1m } }]
`);
    const d = denied(q.decide(k8s({ a: '0', b: '2', c: '3' }), [{ kind: 'stint-jwt', audience: 'x' }], 0));
    expect(d.nearestRule).toBe('three-claims');
    expect(d.failed).toEqual([{ field: 'claims.a', expected: '"1"', actual: '0' }]);
  });
  it('NO_RULE_MATCHED for an unknown issuer explains the issuer mismatch', () => {
    const d = denied(p.decide(k8s({ namespace: 'payments' }, { issuer: 'https://k8s.example.evil' }), [{ kind: 'stint-jwt', audience: 'x' }], 0));
    expect(d.reason).toBe('NO_RULE_MATCHED');
    expect(d.failed?.map((f) => f.field)).toContain('issuer');
  });
  it('NO_RULE_MATCHED reports a missing claim as <missing>', () => {
    const d = denied(p.decide(k8s({}), [{ kind: 'stint-jwt', audience: 'x' }], 0));
    expect(d.failed?.find((f) => f.field === 'claims.namespace')?.actual).toBe('<missing>');
  });
  it('an empty policy denies everything with NO_RULE_MATCHED', () => {
    const q = policy('version: 1\nrules: []\n');
    const d = denied(q.decide(k8s({}), [{ kind: 'stint-jwt', audience: 'x' }], 0));
    expect(d).toMatchObject({ reason: 'NO_RULE_MATCHED', rule: null, failed: [] });
  });
});

describe('TTL', () => {
  const rule = (extra = '', max = '1h') => `version: 1
${extra}
rules:
  - name: r
    match: { attestor: kubernetes, issuer: https://k8s.example }
    allow:
      - kind: stint-jwt
        audiences: [a]
        ttl: { default: 15m, max: ${max} }
`;
  const ask = (ttlSeconds?: number) => [{ kind: 'stint-jwt', audience: 'a', ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) }];

  it('absent or 0 gets the rule default', () => {
    const p = policy(rule());
    expect(allowed(p.decide(k8s({}), ask(), 0)).credentials[0]?.ttlSeconds).toBe(900);
    expect(allowed(p.decide(k8s({}), ask(0), 0)).credentials[0]?.ttlSeconds).toBe(900);
  });
  it('a TTL within the maximum is granted as asked (whole seconds)', () => {
    const p = policy(rule());
    expect(allowed(p.decide(k8s({}), ask(1800), 0)).credentials[0]).toMatchObject({ ttlSeconds: 1800, ttlCapped: false });
    expect(allowed(p.decide(k8s({}), ask(60.9), 0)).credentials[0]?.ttlSeconds).toBe(60);
  });
  it('exactly the maximum is not capped', () => {
    const p = policy(rule());
    expect(allowed(p.decide(k8s({}), ask(3600), 0)).credentials[0]).toMatchObject({ ttlSeconds: 3600, ttlCapped: false });
  });
  it('above the maximum is capped by default (ttlCapped)', () => {
    const p = policy(rule());
    expect(allowed(p.decide(k8s({}), ask(7200), 0)).credentials[0]).toMatchObject({ ttlSeconds: 3600, ttlCapped: true });
  });
  it('above the maximum is denied with TTL_ABOVE_MAX under ttlOverMax: deny', () => {
    const p = policy(rule('defaults: { ttlOverMax: deny }'));
    const d = denied(p.decide(k8s({}), ask(3601), 0));
    expect(d).toMatchObject({ reason: 'TTL_ABOVE_MAX', rule: 'r' });
  });
  it('a rule-level ttlOverMax overrides the default', () => {
    const src = rule('defaults: { ttlOverMax: deny }').replace('  - name: r\n', '  - name: r\n    ttlOverMax: cap\n');
    expect(allowed(policy(src).decide(k8s({}), ask(7200), 0)).credentials[0]?.ttlCapped).toBe(true);
  });
  it('the global cap lowers the rule maximum and default', () => {
    const p = policy(rule('', '2h'), 600);
    expect(allowed(p.decide(k8s({}), ask(), 0)).credentials[0]?.ttlSeconds).toBe(600);
    expect(allowed(p.decide(k8s({}), ask(5000), 0)).credentials[0]).toMatchObject({ ttlSeconds: 600, ttlCapped: true });
    expect(p.warnings[0]).toMatchObject({ path: 'rules[0].allow[0].ttl.max', line: 9 });
    expect(p.rules[0]?.allow[0]?.ttl).toEqual({ default: 600, max: 600 });
  });
  it('the global cap applies with ttlOverMax: deny too', () => {
    const p = policy(rule('defaults: { ttlOverMax: deny }', '2h'), 1800);
    expect(denied(p.decide(k8s({}), ask(3600), 0)).reason).toBe('TTL_ABOVE_MAX');
  });
  it('negative or non-finite TTLs get the default, never more than the maximum', () => {
    const p = policy(rule());
    for (const t of [-5, Number.NaN, Number.POSITIVE_INFINITY, 0.5]) {
      expect(allowed(p.decide(k8s({}), ask(t), 0)).credentials[0]?.ttlSeconds).toBe(900);
    }
  });
});

describe('legacy Kubernetes tokens', () => {
  const src = (optIn: boolean) => `version: 1
rules:
  - name: modern
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: default } }
    allow: [{ kind: stint-jwt, audiences: [a], ttl: { default: 1m, max: 1h } }]
  - name: legacy
    allowLegacyTokens: ${optIn}
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: legacy-apps } }
    allow: [{ kind: stint-jwt, audiences: [a], ttl: { default: 1m, max: 1h } }]
`;
  const req = [{ kind: 'stint-jwt', audience: 'a' }];

  it('a legacy identity is refused by a rule that does not opt in (LEGACY_TOKEN_NOT_ALLOWED)', () => {
    const d = denied(policy(src(true)).decide(k8s({ namespace: 'default' }, { legacy: true }), req, 0));
    expect(d).toMatchObject({ reason: 'LEGACY_TOKEN_NOT_ALLOWED', rule: 'modern' });
  });
  it('a legacy identity is allowed by a rule that opts in', () => {
    const d = allowed(policy(src(true)).decide(k8s({ namespace: 'legacy-apps' }, { legacy: true }), req, 0));
    expect(d.rule).toBe('legacy');
  });
  it('allowLegacyTokens defaults to false', () => {
    const d = denied(policy(src(false)).decide(k8s({ namespace: 'legacy-apps' }, { legacy: true }), req, 0));
    expect(d.reason).toBe('LEGACY_TOKEN_NOT_ALLOWED');
  });
  it('a rule opting in still accepts projected tokens', () => {
    expect(allowed(policy(src(true)).decide(k8s({ namespace: 'legacy-apps' }), req, 0)).rule).toBe('legacy');
  });
});

describe('compiled policy metadata', () => {
  it('digest is the SHA-256 of the source', async () => {
    const { createHash } = await import('node:crypto');
    expect(policy(ORDERED).digest).toBe(createHash('sha256').update(ORDERED).digest('hex'));
  });
  it('rules are normalized, located and frozen', () => {
    const p = policy(ORDERED);
    const r = p.rules[1];
    expect(r).toMatchObject({ name: 'payments-any', index: 1, line: 14, ttlOverMax: 'cap' });
    expect(r?.match.claims).toEqual({ namespace: { exact: 'payments' } });
    expect(r?.allow[1]?.targets).toEqual([{ exact: 'arn:aws:iam::1:role/payments' }, { glob: 'arn:aws:iam::1:role/payments-ci-*' }]);
    expect(Object.isFrozen(r?.allow[0]?.options)).toBe(true);
    expect(p.credentialKinds).toEqual(['stint-jwt', 'aws-sts']);
    expect(JSON.parse(JSON.stringify(p.rules))).toEqual(p.rules);
  });
});

describe('rule index keeps first-applicable order', () => {
  // Four or more rules pinning `namespace` make the index split the bucket by its value; rules
  // that do not pin it must still be tried in their place in the file.
  const rule = (name: string, claims: string, aud: string) => `  - name: ${name}
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: ${claims} }
    allow: [{ kind: stint-jwt, audiences: [${aud}], ttl: { default: 1m, max: 1h } }]
`;
  const p = policy(`version: 1
rules:
${rule('pin-a', '{ namespace: a }', 'x')}${rule('unpinned-glob', '{ namespace: { glob: "*" }, team: blue }', 'x')}${rule('pin-b', '{ namespace: b }', 'x')}${rule('pin-a-or-b', '{ namespace: { oneOf: [a, b] } }', 'x')}${rule('pin-42', '{ namespace: "42" }', 'x')}${rule('pin-c', '{ namespace: c }', 'x')}${rule('unpinned-any', '{}', 'y')}
`);
  const ask = (aud: string) => [{ kind: 'stint-jwt', audience: aud }];

  it('a pinned rule before an unpinned one wins', () => {
    expect(p.decide(k8s({ namespace: 'a', team: 'blue' }), ask('x'), 0)).toMatchObject({ outcome: 'allow', rule: 'pin-a' });
  });
  it('an unpinned rule before a pinned one wins', () => {
    expect(p.decide(k8s({ namespace: 'b', team: 'blue' }), ask('x'), 0)).toMatchObject({ outcome: 'allow', rule: 'unpinned-glob' });
  });
  it('oneOf pins are indexed under each value', () => {
    expect(p.decide(k8s({ namespace: 'a' }), ask('x'), 0)).toMatchObject({ rule: 'pin-a' });
    expect(p.decide(k8s({ namespace: 'b' }), ask('x'), 0)).toMatchObject({ rule: 'pin-b' });
  });
  it('an integer claim finds the rule pinning its decimal form', () => {
    expect(p.decide(k8s({ namespace: 42 }), ask('x'), 0)).toMatchObject({ outcome: 'allow', rule: 'pin-42' });
  });
  it('a value no rule pins still reaches the unpinned rules', () => {
    expect(p.decide(k8s({ namespace: 'zzz' }), ask('y'), 0)).toMatchObject({ outcome: 'allow', rule: 'unpinned-any' });
    expect(p.decide(k8s({}), ask('y'), 0)).toMatchObject({ outcome: 'allow', rule: 'unpinned-any' });
    expect(p.decide(k8s({ namespace: ['a'] }), ask('y'), 0)).toMatchObject({ outcome: 'allow', rule: 'unpinned-any' });
  });
  it('the nearest denial is the first applicable rule across pinned and unpinned ones', () => {
    expect(p.decide(k8s({ namespace: 'c' }), ask('nope'), 0)).toMatchObject({ outcome: 'deny', reason: 'AUDIENCE_NOT_ALLOWED', rule: 'pin-c' });
    expect(p.decide(k8s({ namespace: 'b', team: 'blue' }), ask('nope'), 0)).toMatchObject({ outcome: 'deny', rule: 'unpinned-glob' });
  });
});
