/** Invalid policies are refused with the key path, the line:column and the reason. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { compilePolicy, loadPolicyFile } from '../../src/policy/index.js';
import { policyError } from './helpers.js';

const GOOD = `version: 1
rules:
  - name: demo
    match:
      attestor: kubernetes
      issuer: https://k8s.example
      claims:
        namespace: default
        ref: { regex: "^refs/heads/main$" }
    allow:
      - kind: stint-jwt
        audiences: [https://api.example]
        ttl: { default: 15m, max: 1h }
`;

/** Replace one exact fragment of GOOD (which must exist). */
function broken(from: string, to: string): string {
  if (!GOOD.includes(from)) throw new Error(`fragment not found: ${from}`);
  return GOOD.replace(from, to);
}

function expectProblem(e: ConfigError, path: string, line: number, column: number, message: RegExp): void {
  expect(e.code).toBe('ERR_POLICY_INVALID');
  expect(e.path).toBe(path);
  expect(e.details).toMatchObject({ file: 'broken.yaml', line, column });
  expect(e.message).toMatch(message);
  expect(e.message).toContain(`broken.yaml:${line}:${column}`);
}

describe('policy validation', () => {
  it('accepts the baseline policy used below', () => {
    expect(compilePolicy(GOOD, { maxTtlSeconds: 3600 }).ruleNames).toEqual(['demo']);
  });

  it('refuses an unanchored regex, naming the regex value', () => {
    const e = policyError(broken('"^refs/heads/main$"', '"refs/heads/main"'));
    expectProblem(e, 'rules[0].match.claims.ref.regex', 9, 23, /must be anchored/);
  });
  it('refuses an unknown key, pointing at the key', () => {
    const e = policyError(broken('      claims:\n', '      claim:\n'));
    expectProblem(e, 'rules[0].match.claim', 7, 7, /unknown key "claim"/);
  });
  it('refuses an unknown attestor kind', () => {
    const e = policyError(broken('attestor: kubernetes', 'attestor: k8s'));
    expectProblem(e, 'rules[0].match.attestor', 5, 17, /kubernetes/);
  });
  it('refuses a missing issuer, pointing at the match mapping', () => {
    const e = policyError(broken('      issuer: https://k8s.example\n', ''));
    expectProblem(e, 'rules[0].match.issuer', 5, 7, /required key is missing/);
  });
  it('refuses a default TTL above the maximum', () => {
    const e = policyError(broken('default: 15m, max: 1h', 'default: 2h, max: 1h'));
    expectProblem(e, 'rules[0].allow[0].ttl.default', 13, 25, /above the maximum/);
  });
  it('refuses an invalid duration', () => {
    const e = policyError(broken('max: 1h', 'max: 1 hour'));
    expectProblem(e, 'rules[0].allow[0].ttl.max', 13, 35, /invalid duration/);
  });
  it('refuses an empty allow list', () => {
    const e = policyError(broken(/ {4}allow:[\s\S]*$/.exec(GOOD)?.[0] ?? '', '    allow: []\n'));
    expectProblem(e, 'rules[0].allow', 10, 12, /at least one allow entry/);
  });
  it('refuses a stint-jwt entry without audiences', () => {
    const e = policyError(broken('        audiences: [https://api.example]\n', ''));
    expectProblem(e, 'rules[0].allow[0].audiences', 11, 9, /requires audiences/);
  });
  it('refuses duplicate rule names, naming the second', () => {
    const rule = GOOD.slice(GOOD.indexOf('  - name: demo'));
    const e = policyError(GOOD + rule);
    expectProblem(e, 'rules[1].name', 14, 11, /duplicate rule name "demo"/);
  });
  it('refuses an invalid rule name', () => {
    const e = policyError(broken('name: demo', 'name: Demo_App'));
    expectProblem(e, 'rules[0].name', 3, 11, /rule name/);
  });
  it('refuses a duplicate YAML key (the later value would silently win)', () => {
    const e = policyError(broken('        namespace: default\n', '        namespace: default\n        namespace: kube-system\n'));
    expectProblem(e, '', 9, 9, /unique/);
  });
  it('refuses a YAML syntax error with its position', () => {
    const e = policyError(broken('[https://api.example]', '[https://api.example'));
    expect(e.code).toBe('ERR_POLICY_INVALID');
    expect(e.details.line).toBeGreaterThan(0);
  });
  it('refuses an unsupported version', () => {
    const e = policyError(broken('version: 1', 'version: 2'));
    expectProblem(e, 'version', 1, 10, /unsupported policy version/);
  });
  it('refuses a number not written as a plain decimal integer', () => {
    const e = policyError(broken('namespace: default', 'repository_id: 0123'));
    expectProblem(e, '', 8, 24, /not a plain decimal integer/);
    expect(policyError(broken('namespace: default', 'repository_id: 1e3')).message).toMatch(/quote it/);
  });
  it('refuses a matcher with two forms', () => {
    const e = policyError(broken('{ regex: "^refs/heads/main$" }', '{ regex: "^refs/heads/main$", glob: "x" }'));
    expectProblem(e, 'rules[0].match.claims.ref', 9, 14, /exactly one of/);
  });
  it('refuses an unknown matcher form', () => {
    const e = policyError(broken('{ regex: "^refs/heads/main$" }', '{ prefix: "refs/" }'));
    expectProblem(e, 'rules[0].match.claims.ref.prefix', 9, 16, /unknown matcher "prefix"/);
  });
  it('refuses an empty oneOf', () => {
    const e = policyError(broken('{ regex: "^refs/heads/main$" }', '{ oneOf: [] }'));
    expectProblem(e, 'rules[0].match.claims.ref.oneOf', 9, 23, /non-empty/);
  });
  it('refuses a null claim matcher', () => {
    const e = policyError(broken('namespace: default', 'namespace: null'));
    expectProblem(e, 'rules[0].match.claims.namespace', 8, 20, /got null/);
  });
  it('refuses a claim named __proto__ instead of dropping it silently', () => {
    const e = policyError(broken('namespace: default', '__proto__: default'));
    expectProblem(e, 'rules[0].match.claims.__proto__', 8, 20, /not allowed/);
  });
  it('refuses passing a registered JWT claim through', () => {
    const e = policyError(broken('        ttl: { default: 15m, max: 1h }\n', '        ttl: { default: 15m, max: 1h }\n        passClaims: [namespace, sub]\n'));
    expectProblem(e, 'rules[0].allow[0].passClaims[1]', 14, 33, /registered JWT claim/);
  });
  it('quotes claim names that are not identifiers in the path', () => {
    const e = policyError(broken('namespace: default', '"kubernetes.io": { glob: "a\\\\" }'));
    expect(e.path).toBe('rules[0].match.claims["kubernetes.io"].glob');
  });
  it('reports the first problem in file order and counts the rest', () => {
    const e = policyError(broken('version: 1', 'version: 3').replace('attestor: kubernetes', 'attestor: k8s'));
    expect(e.path).toBe('version');
    expect(e.message).toMatch(/and 1 more/);
    expect((e.details.problems as unknown[]).length).toBe(2);
  });
  it('refuses an empty document and a non-mapping document', () => {
    expect(policyError('').code).toBe('ERR_POLICY_INVALID');
    expect(policyError('- a\n- b\n').code).toBe('ERR_POLICY_INVALID');
  });
  it('refuses multiple documents in one file', () => {
    expect(policyError(`${GOOD}---\n${GOOD}`).message).toMatch(/multiple documents/);
  });
  it('refuses an invalid global TTL cap with ERR_CONFIG_INVALID', () => {
    expect(() => compilePolicy(GOOD, { maxTtlSeconds: 0 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });
});

describe('loadPolicyFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-policy-'));

  it('loads and compiles a file', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, GOOD);
    const p = loadPolicyFile(file, { maxTtlSeconds: 3600 });
    expect(p.filename).toBe(file);
    expect(p.ruleNames).toEqual(['demo']);
  });
  it('names the file in validation errors', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, broken('attestor: kubernetes', 'attestor: k8s'));
    try {
      loadPolicyFile(file, { maxTtlSeconds: 3600 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).details).toMatchObject({ file, line: 5, column: 17 });
      expect((e as ConfigError).message).toContain(`${file}:5:17`);
    }
  });
  it('refuses a missing file with ERR_POLICY_INVALID', () => {
    expect(() => loadPolicyFile(join(dir, 'missing.yaml'), { maxTtlSeconds: 3600 })).toThrow(expect.objectContaining({ code: 'ERR_POLICY_INVALID' }));
  });
});

describe('policy validation of YAML tags', () => {
  it('refuses a tagged value (!!binary) where a matcher is expected', () => {
    const e = policyError(broken('namespace: default', 'namespace: !!binary aGVsbG8='));
    expectProblem(e, 'rules[0].match.claims.namespace', 8, 29, /got a YAML-tagged/);
  });
  it('refuses an unknown tag', () => {
    expect(policyError(broken('namespace: default', 'namespace: !vault default')).message).toMatch(/tag/i);
  });
});
