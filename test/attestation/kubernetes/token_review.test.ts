/**
 * The kubernetes attestor's optional TokenReview, with the real @kubernetes/client-node against
 * the fake API server over HTTPS: local verification first, then the review; tokens of deleted
 * pods and recreated ServiceAccounts refused with ERR_TOKEN_REVIEW_REJECTED; answers that do not
 * vouch for the verified identity refused; an API server that is down, slow, throttling or failing
 * is ERR_ISSUER_UNAVAILABLE (and the next request after it recovers works); successful reviews are
 * cached (never past the token's exp), failed ones are not.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../../src/clock.js';
import { attestorConfigSchema } from '../../../src/config/schema.js';
import { validateConfig } from '../../../src/config/load.js';
import { ConfigError, isRetryableCode } from '../../../src/errors.js';
import { createAttestorSet } from '../../../src/attestation/registry.js';
import { FakeKubeApiServer } from '../../support/fake_kube_apiserver.js';
import type { KubernetesTokenOptions } from '../../support/test_issuer.js';
import { AUDIENCE, expectRefused, startHarness, TRUST_DOMAIN, type Harness } from '../helpers.js';

let kube: FakeKubeApiServer;
let h: Harness | undefined;
let currentClock: { now(): number } = { now: () => Date.now() };
let podCounter = 0;
let dir: string;

beforeAll(async () => {
  // The fake reads the clock of the test running now (each harness has its own FakeClock).
  kube = await FakeKubeApiServer.start({ clock: { now: () => currentClock.now() } });
  dir = mkdtempSync(join(tmpdir(), 'stint-token-review-'));
}, 60_000);

afterAll(async () => {
  await kube?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  kube.clearFaults();
  await h?.close();
  h = undefined;
});

/** An attestor set trusting a fresh test issuer, reviewing its tokens with the fake API server. */
async function start(review: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<Harness> {
  h = await startHarness({
    kind: 'kubernetes',
    issuer: { jwksPath: '/openid/v1/jwks' },
    config: { tokenReview: { apiServer: kube.url, caFile: kube.caFile, tokenFile: kube.tokenFile, timeout: '2s', ...review }, ...config },
  });
  currentClock = h.clock;
  kube.trustIssuer(h.issuer);
  kube.requests.length = 0;
  return h;
}

/** A token bound to a pod that exists in the fake (a fresh pod each call unless `pod` names one). */
async function podToken(options: { namespace?: string; serviceAccount?: string; pod?: string } & Partial<KubernetesTokenOptions> = {}): Promise<{ token: string; pod: string; podUid: string }> {
  const namespace = options.namespace ?? 'payments';
  const serviceAccount = options.serviceAccount ?? 'api';
  const pod = options.pod ?? `api-${++podCounter}`;
  const podUid = kube.addPod(namespace, pod, { serviceAccount });
  const token = await h!.issuer.mintKubernetes({
    audience: AUDIENCE,
    ...options,
    namespace,
    serviceAccount,
    serviceAccountUid: kube.serviceAccountUid(namespace, serviceAccount)!,
    podName: pod,
    podUid,
  });
  return { token, pod, podUid };
}

const reviews = (): number => kube.requestsTo('tokenreviews', 'POST').length;

/** The attestor still accepts a good token (nothing was poisoned). */
async function expectStillServes(): Promise<void> {
  const { token } = await podToken();
  await expect(h!.set.attest(token)).resolves.toMatchObject({ attestor: 'kubernetes' });
}

describe('TokenReview after local verification', () => {
  it('accepts a token the API server confirms, asking for Stint audience with Stint API token', async () => {
    const { set, clock } = await start();
    const { token, pod, podUid } = await podToken();
    const id = await set.attest(token);
    expect(id).toMatchObject({ id: `spiffe://${TRUST_DOMAIN}/ns/payments/sa/api`, claims: { pod_name: pod, pod_uid: podUid }, recheckAt: epochSeconds(clock) + 30 });
    const [request] = kube.requestsTo('tokenreviews');
    expect(request).toMatchObject({
      method: 'POST',
      path: '/apis/authentication.k8s.io/v1/tokenreviews',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [AUDIENCE] } },
      authorization: `Bearer ${kube.acceptedBearer()}`,
    });
  });

  it('accepts a token not bound to a pod when its ServiceAccount exists', async () => {
    const { set, issuer } = await start();
    kube.addServiceAccount('ci', 'runner');
    const token = await issuer.mintKubernetes({ namespace: 'ci', serviceAccount: 'runner', serviceAccountUid: kube.serviceAccountUid('ci', 'runner')!, audience: AUDIENCE });
    await expect(set.attest(token)).resolves.toMatchObject({ id: `spiffe://${TRUST_DOMAIN}/ns/ci/sa/runner` });
    expect(reviews()).toBe(1);
  });

  it('refuses the token of a deleted pod with ERR_TOKEN_REVIEW_REJECTED, and still serves the next good token', async () => {
    const { set } = await start();
    const { token, pod } = await podToken();
    kube.deletePod('payments', pod);
    const err = await expectRefused(set.attest(token), 'ERR_TOKEN_REVIEW_REJECTED', { token, details: { reason: 'token_review_rejected', attestor: 'kubernetes' } });
    expect(err.message).toContain('service account token has been invalidated');
    expect(err.details.fingerprint).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(isRetryableCode(err.code)).toBe(false);
    await expectStillServes();
  });

  it('refuses the token of a pod deleted and recreated under the same name (new uid)', async () => {
    const { set } = await start();
    const { token, pod } = await podToken();
    kube.deletePod('payments', pod);
    kube.addPod('payments', pod, { serviceAccount: 'api' });
    await expectRefused(set.attest(token), 'ERR_TOKEN_REVIEW_REJECTED', { details: { reason: 'token_review_rejected' } });
  });

  it('refuses a token whose ServiceAccount was deleted and recreated', async () => {
    const { set } = await start();
    kube.addServiceAccount('payments', 'recreated');
    const { token } = await podToken({ serviceAccount: 'recreated' });
    kube.deleteServiceAccount('payments', 'recreated');
    kube.addServiceAccount('payments', 'recreated');
    await expectRefused(set.attest(token), 'ERR_TOKEN_REVIEW_REJECTED', { token, details: { reason: 'token_review_rejected' } });
    await expectStillServes();
  });

  it('verifies locally first: a forged or expired token is refused without a review', async () => {
    const { set, issuer, clock } = await start();
    const forged = await podToken({ key: issuer.unpublishedKey('RS256', issuer.signingKey.kid) });
    await expectRefused(set.attest(forged.token), 'ERR_TOKEN_SIGNATURE_INVALID');
    const expired = await podToken({ iat: epochSeconds(clock) - 7200, ttl: 3600 });
    await expectRefused(set.attest(expired.token), 'ERR_TOKEN_EXPIRED');
    const otherAudience = await podToken({ audience: 'https://vault.example.com' });
    await expectRefused(set.attest(otherAudience.token), 'ERR_TOKEN_AUDIENCE_INVALID');
    expect(reviews()).toBe(0);
  });

  it('reviews a token accepted for a configured extra audience for that audience', async () => {
    const { set } = await start({}, { audiences: ['https://extra.example.com'] });
    const { token } = await podToken({ audience: 'https://extra.example.com' });
    await set.attest(token);
    expect(kube.requestsTo('tokenreviews')[0]!.body).toMatchObject({ spec: { audiences: ['https://extra.example.com'] } });
  });
});

describe('answers that do not vouch for the verified identity', () => {
  it('refuses when status.audiences lacks Stint audience (an audience-unaware authenticator)', async () => {
    const { set } = await start();
    kube.tamperTokenReview((status) => ({ ...status, audiences: [] }));
    const { token } = await podToken();
    await expectRefused(set.attest(token), 'ERR_TOKEN_REVIEW_REJECTED', { token, details: { reason: 'token_review_audience' } });
    kube.tamperTokenReview((status) => ({ ...status, audiences: ['https://kubernetes.default.svc.cluster.local'] }));
    await expectRefused(set.attest((await podToken()).token), 'ERR_TOKEN_REVIEW_REJECTED', { details: { reason: 'token_review_audience' } });
  });

  it('refuses a token the API server refuses for the audience asked (audience mismatch upstream)', async () => {
    const { set } = await start({}, { audiences: ['https://extra.example.com'] });
    // The API server is asked for the audience the token carries; an answer that confirms another one is refused.
    kube.tamperTokenReview((status) => ({ ...status, audiences: [AUDIENCE] }));
    const { token } = await podToken({ audience: 'https://extra.example.com' });
    await expectRefused(set.attest(token), 'ERR_TOKEN_REVIEW_REJECTED', { details: { reason: 'token_review_audience' } });
  });

  it.each([
    ['username', (s: Record<string, unknown>) => ({ ...s, user: { ...(s.user as object), username: 'system:serviceaccount:kube-system:admin' } }), 'username'],
    ['uid', (s: Record<string, unknown>) => ({ ...s, user: { ...(s.user as object), uid: 'another-uid' } }), 'uid'],
    [
      'pod name',
      (s: Record<string, unknown>) => {
        const user = s.user as { extra: Record<string, string[]> };
        return { ...s, user: { ...user, extra: { ...user.extra, 'authentication.kubernetes.io/pod-name': ['other-pod'] } } };
      },
      'authentication.kubernetes.io/pod-name',
    ],
    [
      'pod uid',
      (s: Record<string, unknown>) => {
        const user = s.user as { extra: Record<string, string[]> };
        return { ...s, user: { ...user, extra: { ...user.extra, 'authentication.kubernetes.io/pod-uid': ['other-uid'] } } };
      },
      'authentication.kubernetes.io/pod-uid',
    ],
    [
      'missing pod extras',
      (s: Record<string, unknown>) => ({ ...s, user: { ...(s.user as object), extra: {} } }),
      'authentication.kubernetes.io/pod-name',
    ],
  ] as const)('refuses an answer naming another %s', async (_what, tamper, field) => {
    const { set } = await start();
    kube.tamperTokenReview(tamper);
    const { token } = await podToken();
    await expectRefused(set.attest(token), 'ERR_TOKEN_REVIEW_REJECTED', { token, details: { reason: 'token_review_user_mismatch', field } });
  });
});

describe('an API server that cannot answer: retryable, never a denial', () => {
  it('down (connection refused): ERR_ISSUER_UNAVAILABLE; the next good request after it comes back works', async () => {
    const { set } = await start();
    const { token } = await podToken();
    await kube.goDown();
    try {
      const err = await expectRefused(set.attest(token), 'ERR_ISSUER_UNAVAILABLE', { token, details: { reason: 'token_review_unavailable', attestor: 'kubernetes' } });
      expect(isRetryableCode(err.code)).toBe(true);
    } finally {
      await kube.comeBack();
    }
    // The failure was not cached: the same token is reviewed again and accepted.
    await expect(set.attest(token)).resolves.toMatchObject({ attestor: 'kubernetes' });
    expect(reviews()).toBe(1);
  });

  it.each([
    ['503', 'unavailable', { retryAfter: 4 }, { status: 503, retryAfterSeconds: 4 }],
    ['500', 'internal', {}, { status: 500, retryAfterSeconds: 5 }],
    ['429', 'throttled', { retryAfter: 9 }, { status: 429, upstreamReason: 'TooManyRequests', retryAfterSeconds: 9 }],
    ['a reset connection', 'reset', {}, { retryAfterSeconds: 5 }],
  ] as const)('%s: ERR_ISSUER_UNAVAILABLE token_review_unavailable, not cached', async (_what, fault, options, details) => {
    const { set } = await start();
    kube.fail(fault, { times: 1, match: { resource: 'tokenreviews' }, ...options });
    const { token } = await podToken();
    await expectRefused(set.attest(token), 'ERR_ISSUER_UNAVAILABLE', { token, details: { reason: 'token_review_unavailable', ...details } });
    await expect(set.attest(token)).resolves.toMatchObject({ attestor: 'kubernetes' });
    expect(reviews()).toBe(2);
  });

  it('a hanging API server: ERR_ISSUER_UNAVAILABLE after the timeout', async () => {
    const { set } = await start({ timeout: '1s' });
    kube.fail('hang', { times: 1, match: { resource: 'tokenreviews' } });
    const { token } = await podToken();
    const started = Date.now();
    const err = await expectRefused(set.attest(token), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'token_review_unavailable' } });
    expect(err.message).toContain('timed out after 1 s');
    expect(Date.now() - started).toBeLessThan(5000);
    await expectStillServes();
  });

  it.each([
    ['RBAC denies Stint tokenreviews create (403)', () => kube.forbid({ resource: 'tokenreviews' }), { status: 403, upstreamReason: 'Forbidden' }],
    ['Stint API token is refused (401)', () => kube.acceptOnly('some-other-token'), { status: 401, upstreamReason: 'Unauthorized' }],
    ['a reply that is not JSON', () => kube.fail('not-json', { times: 1, match: { resource: 'tokenreviews' } }), {}],
  ] as const)('%s: ERR_ISSUER_UNAVAILABLE token_review_failed (Stint setup, not the workload)', async (_what, inject, details) => {
    const { set } = await start();
    const { token } = await podToken();
    inject();
    try {
      await expectRefused(set.attest(token), 'ERR_ISSUER_UNAVAILABLE', { token, details: { reason: 'token_review_failed', ...details } });
    } finally {
      kube.clearFaults();
      kube.rotateToken(kube.acceptedBearer());
    }
    await expect(set.attest(token)).resolves.toMatchObject({ attestor: 'kubernetes' });
  });

  it('re-reads Stint token file on every review (a rotated projected token is used)', async () => {
    const { set } = await start({ cacheTtl: 0 });
    const { token } = await podToken();
    await set.attest(token);
    kube.rotateToken();
    await set.attest(token);
    const [first, second] = kube.requestsTo('tokenreviews');
    expect(first!.authorization).not.toBe(second!.authorization);
    expect(second!.authorization).toBe(`Bearer ${kube.acceptedBearer()}`);
  });
});

describe('the review cache', () => {
  it('a hit avoids a second review until cacheTtl passes', async () => {
    const { set, clock } = await start({ cacheTtl: '30s' });
    const { token } = await podToken();
    await set.attest(token);
    await set.attest(token);
    expect(reviews()).toBe(1);
    clock.advance(29_000);
    await set.attest(token);
    expect(reviews()).toBe(1);
    clock.advance(2_000);
    await set.attest(token);
    expect(reviews()).toBe(2);
  });

  it('a hit still runs local verification first', async () => {
    const { set, clock } = await start({ cacheTtl: '5m' });
    const { token } = await podToken({ ttl: 120 });
    await set.attest(token);
    clock.advance(200_000);
    await expectRefused(set.attest(token), 'ERR_TOKEN_EXPIRED');
    expect(reviews()).toBe(1);
  });

  it('never keeps an answer past the token exp', async () => {
    const { set, clock } = await start({ cacheTtl: '5m' });
    const { token } = await podToken({ ttl: 20 });
    const id = await set.attest(token);
    expect(id.recheckAt).toBe(epochSeconds(clock) + 20);
    expect(id.recheckAt).toBe(id.expiresAt);
  });

  it('a deleted pod is noticed once the cached answer expires', async () => {
    const { set, clock } = await start({ cacheTtl: '10s' });
    const { token, pod } = await podToken();
    await set.attest(token);
    kube.deletePod('payments', pod);
    await set.attest(token);
    clock.advance(11_000);
    await expectRefused(set.attest(token), 'ERR_TOKEN_REVIEW_REJECTED', { details: { reason: 'token_review_rejected' } });
  });

  it('a refused review is not cached: once the API server accepts the token again, it is accepted', async () => {
    const { set } = await start();
    const { token, pod, podUid } = await podToken();
    kube.deletePod('payments', pod);
    await expectRefused(set.attest(token), 'ERR_TOKEN_REVIEW_REJECTED');
    await expectRefused(set.attest(token), 'ERR_TOKEN_REVIEW_REJECTED');
    expect(reviews()).toBe(2);
    kube.addPod('payments', pod, { serviceAccount: 'api', uid: podUid });
    await expect(set.attest(token)).resolves.toMatchObject({ attestor: 'kubernetes' });
    expect(reviews()).toBe(3);
  });

  it('cacheTtl 0 reviews every time', async () => {
    const { set, clock } = await start({ cacheTtl: 0 });
    const { token } = await podToken();
    const id = await set.attest(token);
    await set.attest(token);
    expect(reviews()).toBe(2);
    expect(id.recheckAt).toBe(epochSeconds(clock));
  });

  it('concurrent attestations of one token share one review', async () => {
    const { set } = await start();
    const { token } = await podToken();
    await Promise.all(Array.from({ length: 8 }, () => set.attest(token)));
    expect(reviews()).toBe(1);
  });

  it('each token is its own cache entry', async () => {
    const { set } = await start();
    await set.attest((await podToken()).token);
    await set.attest((await podToken()).token);
    expect(reviews()).toBe(2);
  });
});

describe('legacy tokens (acceptLegacyTokens) are reviewed too', () => {
  it('reviewed for the API server own audiences; refused once their ServiceAccount is gone', async () => {
    const { set, issuer } = await start({}, { acceptLegacyTokens: true });
    const uid = kube.addServiceAccount('ci', 'legacy-runner');
    const token = await issuer.mintLegacyKubernetes({ namespace: 'ci', serviceAccount: 'legacy-runner', serviceAccountUid: uid });
    await expect(set.attest(token)).resolves.toMatchObject({ legacy: true });
    expect(kube.requestsTo('tokenreviews')[0]!.body).toEqual({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
    kube.deleteServiceAccount('ci', 'legacy-runner');
    const again = await issuer.mintLegacyKubernetes({ namespace: 'ci', serviceAccount: 'legacy-runner', serviceAccountUid: uid });
    await expectRefused(set.attest(again), 'ERR_TOKEN_REVIEW_REJECTED', { details: { reason: 'token_review_rejected' } });
  });
});

describe('configuration', () => {
  const base = { kind: 'kubernetes', issuer: 'https://k8s.example' };

  it('defaults to the in-cluster API server, CA and token, 5 s timeout and 30 s cache', () => {
    const c = attestorConfigSchema.parse({ ...base, tokenReview: {} });
    expect(c.kind === 'kubernetes' && c.tokenReview).toEqual({
      apiServer: 'https://kubernetes.default.svc',
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
      tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      timeout: 5,
      cacheTtl: 30,
    });
    expect(attestorConfigSchema.parse(base)).not.toHaveProperty('tokenReview');
  });

  it.each([
    [{ apiServer: 'http://10.0.0.1:6443' }, 'attestors[0].tokenReview.apiServer'],
    [{ timeout: '2m' }, 'attestors[0].tokenReview.timeout'],
    [{ cacheTtl: '1h' }, 'attestors[0].tokenReview.cacheTtl'],
    [{ cacheTtl: 'soon' }, 'attestors[0].tokenReview.cacheTtl'],
    [{ token: 'inline' }, 'attestors[0].tokenReview'],
  ])('refuses %j naming %s', (tokenReview, path) => {
    let caught: unknown;
    try {
      validateConfig({ issuer: 'https://stint.example.com', store: { kind: 'sqlite', path: ':memory:' }, policy: { file: 'p.yaml' }, attestors: [{ ...base, tokenReview }] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).path).toBe(path);
  });

  it('only the kubernetes attestor has tokenReview', () => {
    expect(attestorConfigSchema.safeParse({ kind: 'oidc', issuer: 'https://x.example', tokenReview: {} }).success).toBe(false);
  });

  it.each([
    ['an unreadable CA file', () => ({ caFile: join(dir, 'missing.pem') }), 'attestors.0.tokenReview.caFile'],
    ['a CA file that is not PEM', () => ({ caFile: write('not-pem', 'hello') }), 'attestors.0.tokenReview.caFile'],
    ['an unreadable token file', () => ({ tokenFile: join(dir, 'missing-token') }), 'attestors.0.tokenReview.tokenFile'],
    ['an empty token file', () => ({ tokenFile: write('empty-token', '  \n') }), 'attestors.0.tokenReview.tokenFile'],
  ])('refuses to start with %s, naming the key', (_what, files, path) => {
    const config = attestorConfigSchema.parse({ ...base, jwksFile: write('jwks.json', '{"keys":[]}'), tokenReview: { apiServer: kube.url, caFile: kube.caFile, tokenFile: kube.tokenFile, ...files() } });
    let caught: unknown;
    try {
      createAttestorSet([config], { clock: currentClock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN }).close();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).path).toBe(path);
  });
});

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}
