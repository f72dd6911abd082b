/** Claim, identity and issuer matchers: exact (byte-exact), glob, anchored regex, one-of. */
import { describe, expect, it } from 'vitest';
import { globProblem, globToRegExp } from '../../src/policy/glob.js';
import { compileRegex, regexProblem } from '../../src/policy/regex.js';
import { allows, claimsPolicy, k8s, policy } from './helpers.js';

describe('exact matcher', () => {
  const p = claimsPolicy('namespace: default');

  it('matches the identical string', () => {
    expect(allows(p, k8s({ namespace: 'default' }))).toBe(true);
  });
  it('does not match a case variant (no case folding)', () => {
    expect(allows(p, k8s({ namespace: 'Default' }))).toBe(false);
    expect(allows(p, k8s({ namespace: 'DEFAULT' }))).toBe(false);
  });
  it('does not match with surrounding whitespace (no trimming)', () => {
    expect(allows(p, k8s({ namespace: 'default ' }))).toBe(false);
    expect(allows(p, k8s({ namespace: ' default' }))).toBe(false);
  });
  it('does not match a prefix or an extension', () => {
    expect(allows(p, k8s({ namespace: 'defaul' }))).toBe(false);
    expect(allows(p, k8s({ namespace: 'default-2' }))).toBe(false);
  });
  it('fails when the claim is missing', () => {
    expect(allows(p, k8s({}))).toBe(false);
  });
  it('does not search arrays: a list containing the value does not match', () => {
    expect(allows(p, k8s({ namespace: ['default'] }))).toBe(false);
  });
  it('does not match null, objects or booleans', () => {
    expect(allows(p, k8s({ namespace: null }))).toBe(false);
    expect(allows(p, k8s({ namespace: { default: 'default' } }))).toBe(false);
    expect(allows(p, k8s({ namespace: true }))).toBe(false);
  });

  it('does not match a Unicode-normalization variant (NFC vs NFD)', () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    expect(nfc.normalize('NFD')).toBe(nfd);
    const q = claimsPolicy(`team: "${nfc}"`);
    expect(allows(q, k8s({ team: nfc }))).toBe(true);
    expect(allows(q, k8s({ team: nfd }))).toBe(false);
    const r = claimsPolicy(`team: "${nfd}"`);
    expect(allows(r, k8s({ team: nfd }))).toBe(true);
    expect(allows(r, k8s({ team: nfc }))).toBe(false);
  });
  it('does not match compatibility look-alikes (fullwidth, Kelvin sign)', () => {
    expect(allows(p, k8s({ namespace: '\uff44efault' }))).toBe(false);
    const q = claimsPolicy('unit: K');
    expect(allows(q, k8s({ unit: '\u212a' }))).toBe(false);
  });

  it('compares an integer claim by its canonical decimal form', () => {
    const q = claimsPolicy('repository_id: "123456"');
    expect(allows(q, k8s({ repository_id: '123456' }))).toBe(true);
    expect(allows(q, k8s({ repository_id: 123456 }))).toBe(true);
  });
  it('reads an unquoted integer in the policy as its decimal string', () => {
    const q = claimsPolicy('repository_id: 123456');
    expect(allows(q, k8s({ repository_id: '123456' }))).toBe(true);
    expect(allows(q, k8s({ repository_id: 123456 }))).toBe(true);
  });
  it('does not match a numeric string in another form (leading zeros, sign, exponent)', () => {
    const q = claimsPolicy('repository_id: "123456"');
    expect(allows(q, k8s({ repository_id: '0123456' }))).toBe(false);
    expect(allows(q, k8s({ repository_id: '+123456' }))).toBe(false);
    expect(allows(q, k8s({ repository_id: '1.23456e5' }))).toBe(false);
  });
  it('never matches fractions or integers beyond 2^53-1', () => {
    const q = claimsPolicy('n: "1.5"');
    expect(allows(q, k8s({ n: 1.5 }))).toBe(false);
    // JSON.parse('9007199254740993') is 2^53: the token's digits are already lost.
    const big = claimsPolicy('n: "9007199254740993"');
    expect(allows(big, k8s({ n: JSON.parse('9007199254740993') as number }))).toBe(false);
    expect(allows(big, k8s({ n: '9007199254740993' }))).toBe(true);
    const twoTo53 = claimsPolicy('n: "9007199254740992"');
    expect(allows(twoTo53, k8s({ n: 2 ** 53 }))).toBe(false);
  });
  it('matches a boolean claim only with a boolean matcher', () => {
    const q = claimsPolicy('email_verified: true');
    expect(allows(q, k8s({ email_verified: true }))).toBe(true);
    expect(allows(q, k8s({ email_verified: 'true' }))).toBe(false);
    expect(allows(q, k8s({ email_verified: false }))).toBe(false);
    const s = claimsPolicy('email_verified: "true"');
    expect(allows(s, k8s({ email_verified: true }))).toBe(false);
  });
  it('accepts the explicit { exact } form', () => {
    const q = claimsPolicy('namespace: { exact: default }');
    expect(allows(q, k8s({ namespace: 'default' }))).toBe(true);
    expect(allows(q, k8s({ namespace: 'Default' }))).toBe(false);
  });
});

describe('glob matcher', () => {
  const p = claimsPolicy('service_account: { glob: "demo-*" }');

  it('matches any run of characters within a segment, including none', () => {
    expect(allows(p, k8s({ service_account: 'demo-' }))).toBe(true);
    expect(allows(p, k8s({ service_account: 'demo-api' }))).toBe(true);
  });
  it('is anchored at both ends', () => {
    expect(allows(p, k8s({ service_account: 'xdemo-api' }))).toBe(false);
    expect(allows(p, k8s({ service_account: 'demo' }))).toBe(false);
  });
  it('single star does not cross "/"', () => {
    expect(allows(p, k8s({ service_account: 'demo-a/b' }))).toBe(false);
  });
  it('is case-sensitive', () => {
    expect(allows(p, k8s({ service_account: 'Demo-api' }))).toBe(false);
  });
  it('matches an integer claim by its decimal form', () => {
    const q = claimsPolicy('id: { glob: "12*" }');
    expect(allows(q, k8s({ id: 1234 }))).toBe(true);
    expect(allows(q, k8s({ id: 2134 }))).toBe(false);
  });

  const re = (g: string): RegExp => globToRegExp(g);
  it('double star crosses "/"', () => {
    expect(re('spiffe://x/**').test('spiffe://x/ns/a/sa/b')).toBe(true);
    expect(re('spiffe://x/*').test('spiffe://x/ns/a')).toBe(false);
    expect(re('a/**/z').test('a/b/c/z')).toBe(true);
  });
  it('question mark is exactly one character, never "/"', () => {
    expect(re('v?').test('v1')).toBe(true);
    expect(re('v?').test('v')).toBe(false);
    expect(re('v?').test('v12')).toBe(false);
    expect(re('a?b').test('a/b')).toBe(false);
  });
  it('question mark matches one code point, not half a surrogate pair', () => {
    expect(re('x?').test('x\u{1F600}')).toBe(true);
  });
  it('treats regex metacharacters literally', () => {
    expect(re('a.b').test('axb')).toBe(false);
    expect(re('a.b').test('a.b')).toBe(true);
    expect(re('(a|b)+[c]{1}$^').test('(a|b)+[c]{1}$^')).toBe(true);
    expect(re('a+').test('aa')).toBe(false);
  });
  it('backslash escapes a wildcard', () => {
    expect(re('a\\*').test('a*')).toBe(true);
    expect(re('a\\*').test('ab')).toBe(false);
    expect(re('a\\?').test('ab')).toBe(false);
    expect(re('a\\\\b').test('a\\b')).toBe(true);
  });
  it('refuses a trailing lone backslash and a triple star', () => {
    expect(globProblem('abc\\')).toMatch(/lone/);
    expect(globProblem('a/***')).toMatch(/ambiguous/);
    expect(globProblem('a/**')).toBeNull();
  });
  it('star matches an empty value but a missing claim still fails', () => {
    const q = claimsPolicy('service_account: { glob: "*" }');
    expect(allows(q, k8s({ service_account: '' }))).toBe(true);
    expect(allows(q, k8s({}))).toBe(false);
  });
});

describe('regex matcher', () => {
  const p = claimsPolicy('ref: { regex: "^refs/heads/(main|release-[0-9]+)$" }');

  it('matches a full value', () => {
    expect(allows(p, k8s({ ref: 'refs/heads/main' }))).toBe(true);
    expect(allows(p, k8s({ ref: 'refs/heads/release-12' }))).toBe(true);
  });
  it('does not match with extra text before or after', () => {
    expect(allows(p, k8s({ ref: 'refs/heads/main2' }))).toBe(false);
    expect(allows(p, k8s({ ref: 'xrefs/heads/main' }))).toBe(false);
  });
  it('"$" does not accept a trailing newline', () => {
    expect(allows(p, k8s({ ref: 'refs/heads/main\n' }))).toBe(false);
  });
  it('is case-sensitive', () => {
    expect(allows(p, k8s({ ref: 'refs/heads/MAIN' }))).toBe(false);
  });
  it('a top-level alternation cannot escape the anchors', () => {
    const q = claimsPolicy('ref: { regex: "^main|dev$" }');
    expect(allows(q, k8s({ ref: 'main' }))).toBe(true);
    expect(allows(q, k8s({ ref: 'dev' }))).toBe(true);
    expect(allows(q, k8s({ ref: 'main-evil' }))).toBe(false);
    expect(allows(q, k8s({ ref: 'evil-dev' }))).toBe(false);
    expect(compileRegex('^a|b$').test('ab')).toBe(false);
  });
  it('refuses unanchored patterns', () => {
    expect(regexProblem('refs/heads/main$')).toMatch(/anchored/);
    expect(regexProblem('^refs/heads/main')).toMatch(/anchored/);
    expect(regexProblem('^refs/heads/main\\$')).toMatch(/anchored/);
    expect(regexProblem('.*')).toMatch(/anchored/);
    expect(regexProblem('^refs\\\\$')).toBeNull();
  });
  it('refuses inline case-insensitive modifiers', () => {
    expect(regexProblem('^(?i:main)$')).toMatch(/byte-exact/);
    expect(regexProblem('^(?i)main$')).not.toBeNull();
    expect(regexProblem('^\\(?i:x$')).toBeNull();
    expect(regexProblem('^[(?i]x$')).toBeNull();
    expect(regexProblem('^(?:a|b)(?=c)c$')).toBeNull();
  });
  it('refuses patterns that do not compile or are too long', () => {
    expect(regexProblem('^(unclosed$')).toMatch(/invalid regex/);
    expect(regexProblem(`^${'a'.repeat(2000)}$`)).toMatch(/longer/);
  });
});

describe('oneOf matcher', () => {
  const p = claimsPolicy('environment: { oneOf: [prod, staging, 42] }');

  it('matches each listed value', () => {
    expect(allows(p, k8s({ environment: 'prod' }))).toBe(true);
    expect(allows(p, k8s({ environment: 'staging' }))).toBe(true);
    expect(allows(p, k8s({ environment: 42 }))).toBe(true);
    expect(allows(p, k8s({ environment: '42' }))).toBe(true);
  });
  it('does not match an unlisted value or a case variant', () => {
    expect(allows(p, k8s({ environment: 'dev' }))).toBe(false);
    expect(allows(p, k8s({ environment: 'Prod' }))).toBe(false);
  });
  it('does not match a list of listed values', () => {
    expect(allows(p, k8s({ environment: ['prod'] }))).toBe(false);
  });
});

describe('claim references', () => {
  it('a dotted name is one literal top-level claim', () => {
    const p = claimsPolicy('"kubernetes.io": x');
    expect(allows(p, k8s({ 'kubernetes.io': 'x' }))).toBe(true);
    expect(allows(p, k8s({ kubernetes: { io: 'x' } }))).toBe(false);
  });
  it('a JSON Pointer reads nested claims', () => {
    const p = claimsPolicy('/kubernetes.io/pod/name: { glob: "demo-*" }\n/a~1b/c~0d: y');
    const claims = { 'kubernetes.io': { pod: { name: 'demo-7f9' } }, 'a/b': { 'c~d': 'y' } };
    expect(allows(p, k8s(claims))).toBe(true);
    expect(allows(p, k8s({ ...claims, 'kubernetes.io': { pod: { name: 'other' } } }))).toBe(false);
    expect(allows(p, k8s({ ...claims, 'kubernetes.io': 'flat' }))).toBe(false);
  });
  it('never resolves inherited properties such as constructor or toString', () => {
    const p = claimsPolicy('constructor: { glob: "**" }\n/toString/name: { glob: "**" }');
    expect(allows(p, k8s({}))).toBe(false);
    expect(allows(p, k8s({ constructor: 'x', toString: { name: 'y' } }))).toBe(true);
  });
});

describe('identity, issuer and attestor conditions', () => {
  const p = policy(`version: 1
rules:
  - name: r
    match:
      attestor: kubernetes
      attestorName: cluster
      issuer: https://k8s.example
      identity: { glob: "spiffe://stint.local/ns/default/sa/*" }
    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: 10m, max: 1h }
`);
  it('matches the identity string with a glob', () => {
    expect(allows(p, k8s({}))).toBe(true);
    expect(allows(p, k8s({}, { id: 'spiffe://stint.local/ns/other/sa/demo' }))).toBe(false);
  });
  it('compares the issuer byte-exact (trailing slash, case)', () => {
    expect(allows(p, k8s({}, { issuer: 'https://k8s.example/' }))).toBe(false);
    expect(allows(p, k8s({}, { issuer: 'https://K8S.example' }))).toBe(false);
  });
  it('requires the same attestor kind and name', () => {
    expect(allows(p, k8s({}, { attestor: 'oidc' }))).toBe(false);
    expect(allows(p, k8s({}, { attestorName: 'cluster2' }))).toBe(false);
  });
});
