/** The Kubernetes attestor: projected ServiceAccount tokens, identity, claims, legacy tokens. */
import { JWT_TOKEN_TYPE } from '../../src/attestation/token_types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/clock.js';
import { AUDIENCE, expectRefused, startHarness, TRUST_DOMAIN, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const start = async (config: Record<string, unknown> = {}): Promise<Harness> => {
  h = await startHarness({ kind: 'kubernetes', config, issuer: { jwksPath: '/openid/v1/jwks' } });
  return h;
};

describe('projected ServiceAccount tokens', () => {
  it('yields the SPIFFE identity and normalized claims beside the raw ones', async () => {
    const { set, issuer, clock } = await start();
    const token = await issuer.mintKubernetes({
      namespace: 'payments',
      serviceAccount: 'ledger-writer',
      serviceAccountUid: 'sa-uid-1',
      podName: 'ledger-7d9f-abcde',
      podUid: 'pod-uid-1',
      nodeName: 'node-a.internal',
      nodeUid: 'node-uid-1',
      audience: AUDIENCE,
      ttl: 3600,
    });
    const id = await set.attest(token);
    expect(id).toMatchObject({
      attestor: 'kubernetes',
      attestorName: 'kubernetes',
      issuer: issuer.issuer,
      subject: 'system:serviceaccount:payments:ledger-writer',
      id: `spiffe://${TRUST_DOMAIN}/ns/payments/sa/ledger-writer`,
      expiresAt: epochSeconds(clock) + 3600,
    });
    expect(id.legacy).toBeUndefined();
    expect(id.claims).toMatchObject({
      namespace: 'payments',
      service_account: 'ledger-writer',
      service_account_uid: 'sa-uid-1',
      pod_name: 'ledger-7d9f-abcde',
      pod_uid: 'pod-uid-1',
      node_name: 'node-a.internal',
      node_uid: 'node-uid-1',
      aud: [AUDIENCE],
      'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'ledger-writer', uid: 'sa-uid-1' }, pod: { name: 'ledger-7d9f-abcde', uid: 'pod-uid-1' } },
    });
  });

  it('omits pod and node claims for a token not bound to a pod', async () => {
    const { set, issuer } = await start();
    const id = await set.attest(await issuer.mintKubernetes({ namespace: 'ci', serviceAccount: 'runner', audience: AUDIENCE }));
    expect(id.id).toBe(`spiffe://${TRUST_DOMAIN}/ns/ci/sa/runner`);
    expect(id.claims).not.toHaveProperty('pod_name');
    expect(id.claims).not.toHaveProperty('node_name');
  });

  it('keys come from the cluster JWKS path via discovery', async () => {
    const { set, issuer } = await start();
    await set.attest(await issuer.mintKubernetes({ namespace: 'ci', serviceAccount: 'runner', audience: AUDIENCE }));
    expect(issuer.requests.map((r) => r.url)).toEqual(['/.well-known/openid-configuration', '/openid/v1/jwks']);
  });

  it('refuses a token without the kubernetes.io claim', async () => {
    const { set, issuer } = await start();
    const token = await issuer.mintKubernetes({ namespace: 'ci', serviceAccount: 'runner', audience: AUDIENCE, claims: { 'kubernetes.io': undefined } });
    await expectRefused(set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'kubernetes.io' } });
  });

  it('refuses a sub that does not name the claimed namespace and ServiceAccount', async () => {
    const { set, issuer } = await start();
    const token = await issuer.mintKubernetes({ namespace: 'ci', serviceAccount: 'runner', audience: AUDIENCE, claims: { sub: 'system:serviceaccount:kube-system:admin' } });
    await expectRefused(set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'sub', reason: 'mismatch' } });
  });

  it.each([
    ['a slash', 'ci/sa/admin'],
    ['upper case', 'CI'],
    ['a dot', 'ci.prod'],
    ['an empty name', ''],
  ])('refuses a namespace with %s (no identity injection)', async (_what, namespace) => {
    const { set, issuer } = await start();
    const token = await issuer.mintKubernetes({ namespace, serviceAccount: 'runner', audience: AUDIENCE });
    await expectRefused(set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'kubernetes.io.namespace' } });
  });

  it('refuses a ServiceAccount name with a slash', async () => {
    const { set, issuer } = await start();
    const token = await issuer.mintKubernetes({ namespace: 'ci', serviceAccount: 'runner/../admin', audience: AUDIENCE });
    await expectRefused(set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'kubernetes.io.serviceaccount.name' } });
  });

  it('refuses a projected token minted for the API server and Stint together', async () => {
    const { set, issuer } = await start();
    const token = await issuer.mintKubernetes({ namespace: 'ci', serviceAccount: 'runner', audience: ['https://kubernetes.default.svc', AUDIENCE] });
    await expectRefused(set.attest(token), 'ERR_TOKEN_AUDIENCE_INVALID', { details: { reason: 'multiple' } });
  });

  it('refuses a projected-issuer token without exp (not silently treated as legacy)', async () => {
    const { set, issuer } = await start();
    const token = await issuer.mintKubernetes({ namespace: 'ci', serviceAccount: 'runner', audience: AUDIENCE, claims: { exp: undefined } });
    await expectRefused(set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'exp', reason: 'missing' } });
  });

  it('refuses a token of the default 1-year projected lifetime above maxLifetime', async () => {
    const { set, issuer } = await start({ maxLifetime: '24h' });
    const token = await issuer.mintKubernetes({ namespace: 'ci', serviceAccount: 'runner', audience: AUDIENCE, ttl: 365 * 86400 });
    await expectRefused(set.attest(token), 'ERR_TOKEN_LIFETIME_TOO_LONG');
  });
});

describe('legacy secret-based tokens', () => {
  it('refuses a legacy token by default, before any key fetch', async () => {
    const { set, issuer } = await start();
    const token = await issuer.mintLegacyKubernetes({ namespace: 'ci', serviceAccount: 'runner' });
    await expectRefused(set.attest(token), 'ERR_TOKEN_LEGACY_REJECTED', { token });
    expect(issuer.requests).toEqual([]);
  });

  it('the attestor itself refuses a legacy token by default', async () => {
    const { set, issuer } = await start();
    const token = await issuer.mintLegacyKubernetes({ namespace: 'ci', serviceAccount: 'runner' });
    await expectRefused(set.attestors[0]!.attest({ type: JWT_TOKEN_TYPE, value: token }), 'ERR_TOKEN_LEGACY_REJECTED');
  });

  it('with acceptLegacyTokens, yields an identity marked legacy with expiresAt 0', async () => {
    const { set, issuer } = await start({ acceptLegacyTokens: true });
    const token = await issuer.mintLegacyKubernetes({ namespace: 'ci', serviceAccount: 'runner', serviceAccountUid: 'uid-9', secretName: 'runner-token-abcde' });
    const id = await set.attest(token);
    expect(id).toMatchObject({
      attestor: 'kubernetes',
      issuer: 'kubernetes/serviceaccount',
      subject: 'system:serviceaccount:ci:runner',
      id: `spiffe://${TRUST_DOMAIN}/ns/ci/sa/runner`,
      expiresAt: 0,
      legacy: true,
      claims: { namespace: 'ci', service_account: 'runner', service_account_uid: 'uid-9', secret_name: 'runner-token-abcde' },
    });
  });

  it('with acceptLegacyTokens, still verifies the signature against the cluster keys', async () => {
    const { set, issuer } = await start({ acceptLegacyTokens: true });
    const token = await issuer.mintLegacyKubernetes({ namespace: 'ci', serviceAccount: 'runner', key: issuer.unpublishedKey('RS256', issuer.signingKey.kid) });
    await expectRefused(set.attest(token), 'ERR_TOKEN_SIGNATURE_INVALID');
  });

  it('with acceptLegacyTokens, refuses a legacy token whose claims disagree with its sub', async () => {
    const { set, issuer } = await start({ acceptLegacyTokens: true });
    const token = await issuer.mintLegacyKubernetes({ namespace: 'ci', serviceAccount: 'runner', claims: { sub: 'system:serviceaccount:kube-system:admin' } });
    await expectRefused(set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'sub' } });
  });
});
