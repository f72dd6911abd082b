/** `stint policy lint`: every code fires on a policy that has the problem and stays quiet on one that does not. */
import { describe, expect, it } from 'vitest';
import { catastrophic, lintPolicy, type LintCode } from '../../src/policy/lint.js';

const GH = 'https://token.actions.githubusercontent.com';

function lint(yaml: string, maxTtlSeconds = 3600) {
  return lintPolicy(yaml, { filename: 'p.yaml', maxTtlSeconds });
}
const codes = (yaml: string, maxTtl?: number): LintCode[] => lint(yaml, maxTtl).map((f) => f.code);

const gh = (claims: string, allow = 'audiences: [https://api.example]') => `version: 1
rules:
  - name: ci
    match:
      attestor: github-actions
      issuer: ${GH}
      claims:
${claims.trim().split('\n').map((l) => `        ${l}`).join('\n')}
    allow:
      - kind: stint-jwt
        ${allow}
        ttl: { default: 10m, max: 1h }
`;
const PINNED = `repository_id: "123"\nrepository_owner_id: "456"\nrepository: acme/app\nref: refs/heads/main`;

const k8s = (rules: string) => `version: 1
rules:
${rules}`;
const k8sRule = (name: string, claims: string, allow = 'audiences: [aud]', ttl = '{ default: 10m, max: 1h }', extra = '') => `  - name: ${name}
    match:
      attestor: kubernetes
      issuer: https://k8s.example
      claims: ${claims}
${extra}    allow:
      - kind: stint-jwt
        ${allow}
        ttl: ${ttl}
`;

describe('policy lint', () => {
  it('a clean policy has no findings', () => {
    expect(lint(gh(PINNED))).toEqual([]);
  });

  it('POL001 ci-unpinned-id: a GitHub rule without numeric ids (warning, with file and line)', () => {
    const f = lint(gh('repository: acme/app\nref: refs/heads/main'));
    expect(f).toEqual([expect.objectContaining({ code: 'POL001', name: 'ci-unpinned-id', severity: 'warning', file: 'p.yaml', line: 3, rule: 'ci' })]);
    expect(codes(gh('repository_id: "123"\nrepository: acme/app'))).not.toContain('POL001');
  });

  it('POL010 ci-any-branch: a GitHub rule pinning the repository but neither ref, environment nor job_workflow_ref', () => {
    const ids = 'repository_id: "123"\nrepository_owner_id: "456"\nrepository: acme/app';
    const f = lint(gh(ids));
    expect(f).toEqual([expect.objectContaining({ code: 'POL010', name: 'ci-any-branch', severity: 'warning', rule: 'ci' })]);
    expect(f[0]!.message).toMatch(/any branch and any workflow/);
    for (const pin of ['ref: refs/heads/main', 'environment: production', 'job_workflow_ref: acme/app/.github/workflows/deploy.yml@refs/heads/main', 'sub: "repo:acme/app:environment:production"']) {
      expect(codes(gh(`${ids}\n${pin}`)), pin).not.toContain('POL010');
    }
    expect(codes(gh('repository_id: "123"\nrepository_owner_id: "456"\nsub: "repo:acme/app:pull_request"'))).toContain('POL010');
  });

  it('POL002 ci-any-owner: a wildcard owner, or no subject condition at all', () => {
    expect(codes(gh('repository: { glob: "*/app" }'))).toContain('POL002');
    expect(codes(gh('sub: { glob: "repo:*/app:ref:refs/heads/main" }'))).toContain('POL002');
    expect(codes(gh('ref: refs/heads/main'))).toContain('POL002');
    expect(codes(gh('repository: { glob: "acme/*" }'))).not.toContain('POL002');
    expect(codes(gh('repository_owner_id: "456"\nrepository: { glob: "*/app" }'))).not.toContain('POL002');
  });

  it('POL003 unrestricted-allow: an entry with neither audience nor target restriction', () => {
    const yaml = k8s(k8sRule('r', '{ namespace: a }').replace('kind: stint-jwt\n        audiences: [aud]', 'kind: aws-sts\n        scopes: [x]'));
    expect(codes(yaml)).toContain('POL003');
    expect(codes(k8s(k8sRule('r', '{ namespace: a }', 'audiences: [{ glob: "**" }]')))).toContain('POL003');
    expect(codes(k8s(k8sRule('r', '{ namespace: a }')))).not.toContain('POL003');
  });

  it('POL004 ttl-above-cap: a maximum TTL above credentials.maxTtl (error)', () => {
    const f = lint(k8s(k8sRule('r', '{ namespace: a }', undefined, '{ default: 10m, max: 2h }')));
    expect(f).toEqual([expect.objectContaining({ code: 'POL004', severity: 'error', path: 'rules[0].allow[0].ttl.max', line: 11 })]);
    expect(codes(k8s(k8sRule('r', '{ namespace: a }', undefined, '{ default: 10m, max: 2h }')), 7200)).toEqual([]);
  });

  it('POL005 unreachable-rule: an earlier rule applies to every identity the later one does and allows all it allows', () => {
    const broad = k8sRule('broad', '{ namespace: a }');
    const narrow = k8sRule('narrow', '{ namespace: a, service_account: api }');
    const f = lint(k8s(broad + narrow));
    expect(f).toEqual([expect.objectContaining({ code: 'POL005', rule: 'narrow', line: 12 })]);
    expect(codes(k8s(narrow + broad))).toEqual([]);
    // The later rule allows an audience the earlier does not: it is reachable.
    expect(codes(k8s(broad + k8sRule('narrow', '{ namespace: a, service_account: api }', 'audiences: [aud, aud2]')))).toEqual([]);
    // An earlier rule with a condition may not apply.
    expect(codes(k8s(k8sRule('broad', '{ namespace: a }', undefined, undefined, '    condition: \'request.ttl < 60\'\n') + narrow))).toEqual([]);
  });

  it('POL006 unknown-claim: a claim the attestor kind never produces, in claims or in the condition', () => {
    expect(codes(k8s(k8sRule('r', '{ namespace: a, repository: x }')))).toEqual(['POL006']);
    expect(codes(k8s(k8sRule('r', '{ namespace: a }', undefined, undefined, '    condition: \'claims.environment == "prod"\'\n')))).toEqual(['POL006']);
    expect(codes(k8s(k8sRule('r', '{ namespace: a, pod_name: { glob: "x-*" }, "/kubernetes.io/pod/name": x }')))).toEqual([]);
  });

  it('POL007 regex-unanchored: a regex without ^ and $ (reported as lint code, not only as invalid)', () => {
    const f = lint(k8s(k8sRule('r', '{ namespace: { regex: "pay.*" } }')));
    expect(f).toEqual([expect.objectContaining({ code: 'POL007', severity: 'error', rule: 'r', path: 'rules[0].match.claims.namespace.regex' })]);
    expect(codes(k8s(k8sRule('r', '{ namespace: { regex: "^pay.*$" } }')))).toEqual([]);
  });

  it('POL008 regex-catastrophic: nested unbounded quantifiers', () => {
    expect(codes(k8s(k8sRule('r', '{ namespace: { regex: "^(a+)+$" } }')))).toEqual(['POL008']);
    expect(codes(k8s(k8sRule('r', '{ namespace: { regex: "^(a|b)+$" } }')))).toEqual([]);
    expect(catastrophic('^(\\w+\\s?)*$')).toBe('(\\w+\\s?)*');
    expect(catastrophic('^(?:x*){2,}$')).toBe('(?:x*){2,}');
    expect(catastrophic('^[(a+)]+$')).toBeNull();
    expect(catastrophic('^(ab){2}$')).toBeNull();
  });

  it('POL009 cloud-scope-only: an aws rule that pins only the account or region (hints from the plugin), quiet once a workload claim is pinned', () => {
    const aws = (attestor: string, claims: string, extra = '') => `version: 1
rules:
  - name: fleet
    match:
      attestor: ${attestor}
      issuer: ${attestor}
      claims: ${claims}
${extra}    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: 10m, max: 1h }
`;
    const f = lint(aws('aws-iid', '{ account: "123456789012", region: us-east-1 }'));
    expect(f).toEqual([expect.objectContaining({ code: 'POL009', name: 'cloud-scope-only', severity: 'warning', rule: 'fleet', path: 'rules[0].match', line: 3 })]);
    expect(f[0]!.message).toMatch(/pins only account, region/);
    expect(codes(aws('aws-iid', '{}'))).toEqual(['POL009']);
    expect(codes(aws('aws-iam', '{ account: "123456789012" }'))).toEqual(['POL009']);
    // A workload claim, an instance tag (tags.* hint), the identity, or a condition on a workload claim pins it.
    expect(codes(aws('aws-iid', '{ account: "123456789012", instance_id: i-0123456789abcdef0 }'))).toEqual([]);
    expect(codes(aws('aws-iid', '{ account: "123456789012", tags.Role: web }'))).toEqual([]);
    expect(codes(aws('aws-iam', '{ account: "123456789012", role_arn: "arn:aws:iam::123456789012:role/web" }'))).toEqual([]);
    expect(codes(aws('aws-iam', '{ account: "123456789012" }', '    condition: \'claims.role_name == "web"\'\n'))).toEqual([]);
    // Kinds without hints (kubernetes, github-actions) never get it.
    expect(codes(k8s(k8sRule('r', '{ namespace: a }')))).not.toContain('POL009');
  });

  it('POL006 knows prefix claims: tags.<key> of aws-iid is a known claim, an unknown aws claim is not', () => {
    const rule = (claims: string) => `version: 1
rules:
  - name: web
    match: { attestor: aws-iid, issuer: aws-iid, claims: ${claims} }
    allow: [{ kind: stint-jwt, audiences: [aud], ttl: { default: 10m, max: 1h } }]
`;
    expect(codes(rule('{ instance_id: i-0123456789abcdef0, tags.Team: payments }'))).toEqual([]);
    expect(codes(rule('{ instance_id: i-0123456789abcdef0, repository: x }'))).toEqual(['POL006']);
  });

  it('POL000 policy-invalid: a policy that does not validate, with its line', () => {
    expect(lint('version: 1\nrules:\n  - name: Bad_Name\n')).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'POL000', severity: 'error', line: 3 })]));
    expect(lint('version: [')[0]).toMatchObject({ code: 'POL000' });
  });
});
