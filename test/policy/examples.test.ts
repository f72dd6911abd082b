/** The shipped example policies compile and say what their comments say. */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import { loadPolicyFile } from '../../src/policy/index.js';

const examples = resolve(import.meta.dirname, '../../examples');
const load = (name: string) => loadPolicyFile(join(examples, name), { maxTtlSeconds: 3600 });

describe('examples/policy*.yaml', () => {
  const files = readdirSync(examples).filter((f) => /^policy.*\.ya?ml$/.test(f));

  it('include the dev and GitHub policies', () => {
    expect(files).toEqual(expect.arrayContaining(['policy.dev.yaml', 'policy.github.yaml']));
  });
  it.each(files)('%s compiles with no warnings', (file) => {
    const p = load(file);
    expect(p.ruleNames.length).toBeGreaterThan(0);
    expect(p.warnings).toEqual([]);
  });
});

describe('examples/policy.dev.yaml', () => {
  const p = load('policy.dev.yaml');
  const dev = (claims: Record<string, string>, extra: Partial<WorkloadIdentity> = {}): WorkloadIdentity => ({
    attestor: 'kubernetes',
    attestorName: 'dev',
    issuer: 'https://dev-issuer.stint.local',
    subject: `system:serviceaccount:${claims.namespace}:${claims.service_account}`,
    id: `spiffe://stint.local/ns/${claims.namespace}/sa/${claims.service_account}`,
    claims,
    expiresAt: 2_000_000_000,
    ...extra,
  });

  it('allows any service account of the default namespace a Stint JWT for the example audiences', () => {
    for (const audience of ['https://api.example.com', 'sts.amazonaws.com']) {
      const d = p.decide(dev({ namespace: 'default', service_account: 'demo' }), [{ kind: 'stint-jwt', audience }], 0);
      expect(d).toMatchObject({ outcome: 'allow', rule: 'dev-default-namespace' });
      if (d.outcome === 'allow') {
        expect(d.credentials[0]).toMatchObject({ ttlSeconds: 900, passClaims: { namespace: 'default', service_account: 'demo' } });
      }
    }
  });
  it('caps a request above one hour', () => {
    const d = p.decide(dev({ namespace: 'default', service_account: 'demo' }), [{ kind: 'stint-jwt', audience: 'https://api.example.com', ttlSeconds: 86400 }], 0);
    expect(d).toMatchObject({ outcome: 'allow', credentials: [{ ttlSeconds: 3600, ttlCapped: true }] });
  });
  it('denies another namespace', () => {
    const d = p.decide(dev({ namespace: 'kube-system', service_account: 'demo' }), [{ kind: 'stint-jwt', audience: 'https://api.example.com' }], 0);
    expect(d).toMatchObject({ outcome: 'deny', reason: 'NO_RULE_MATCHED', rule: null });
  });
  it('denies another audience', () => {
    const d = p.decide(dev({ namespace: 'default', service_account: 'demo' }), [{ kind: 'stint-jwt', audience: 'https://vault.example.com' }], 0);
    expect(d).toMatchObject({ outcome: 'deny', reason: 'AUDIENCE_NOT_ALLOWED', rule: 'dev-default-namespace' });
  });
  it('denies the same claims from another issuer or attestor instance', () => {
    const req = [{ kind: 'stint-jwt', audience: 'https://api.example.com' }];
    expect(p.decide(dev({ namespace: 'default', service_account: 'demo' }, { issuer: 'https://kubernetes.default.svc' }), req, 0).outcome).toBe('deny');
    expect(p.decide(dev({ namespace: 'default', service_account: 'demo' }, { attestorName: 'prod' }), req, 0).outcome).toBe('deny');
  });
  it('denies a legacy token', () => {
    const d = p.decide(dev({ namespace: 'default', service_account: 'demo' }, { legacy: true }), [{ kind: 'stint-jwt', audience: 'https://api.example.com' }], 0);
    expect(d).toMatchObject({ outcome: 'deny', reason: 'LEGACY_TOKEN_NOT_ALLOWED' });
  });
});

describe('examples/policy.github.yaml', () => {
  const p = load('policy.github.yaml');
  const claims = {
    repository: 'acme/payments',
    repository_id: '987654321',
    repository_owner: 'acme',
    repository_owner_id: '1234567',
    ref: 'refs/heads/main',
    environment: 'production',
    job_workflow_ref: 'acme/payments/.github/workflows/deploy.yml@refs/heads/main',
    run_id: '42',
    sha: 'abc123',
  };
  const gh = (c: Record<string, string>): WorkloadIdentity => ({
    attestor: 'github-actions',
    attestorName: 'github-actions',
    issuer: 'https://token.actions.githubusercontent.com',
    subject: `repo:${c.repository}:environment:${c.environment}`,
    id: `https://token.actions.githubusercontent.com#repo:${c.repository}`,
    claims: c,
    expiresAt: 2_000_000_000,
  });
  const deploy = [{ kind: 'aws-sts', target: 'arn:aws:iam::123456789012:role/payments-deploy' }];

  it('allows the deploy job on main in production', () => {
    expect(p.decide(gh(claims), deploy, 0)).toMatchObject({ outcome: 'allow', rule: 'acme-deploy-production' });
  });
  it('denies a re-registered repository with the same name but another id', () => {
    expect(p.decide(gh({ ...claims, repository_id: '111' }), deploy, 0).outcome).toBe('deny');
    expect(p.decide(gh({ ...claims, repository_owner_id: '222' }), deploy, 0).outcome).toBe('deny');
  });
  it('denies another branch', () => {
    expect(p.decide(gh({ ...claims, ref: 'refs/heads/main-evil' }), deploy, 0).outcome).toBe('deny');
  });
  it('denies a TTL above the maximum (ttlOverMax: deny)', () => {
    const d = p.decide(gh(claims), [{ ...deploy[0]!, ttlSeconds: 7200 }], 0);
    expect(d).toMatchObject({ outcome: 'deny', reason: 'TTL_ABOVE_MAX', rule: 'acme-deploy-production' });
  });
  it('allows staging jobs only the CI roles', () => {
    const staging = gh({ ...claims, environment: 'staging', ref: 'refs/heads/feature' });
    expect(p.decide(staging, [{ kind: 'aws-sts', target: 'arn:aws:iam::123456789012:role/payments-ci-build' }], 0)).toMatchObject({ outcome: 'allow', rule: 'acme-ci-read-only' });
    expect(p.decide(staging, deploy, 0)).toMatchObject({ outcome: 'deny', reason: 'TARGET_NOT_ALLOWED', rule: 'acme-ci-read-only' });
  });
});
