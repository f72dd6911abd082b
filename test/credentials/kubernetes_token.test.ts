/**
 * kubernetes-token against a fake API server over real HTTPS, through the real
 * @kubernetes/client-node: TokenRequest wire format, audiences and TTLs, the kubeconfig form,
 * connection settings (token file, kubeconfig file, TLS), configuration errors, and every
 * upstream failure mapped to its stable code, each followed by a good request.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import { createKubernetesProviders, kubernetesProviderConfigSchema } from '../../src/credentials/kubernetes.js';
import type { CredentialProvider, GrantDraft, ProviderDeps } from '../../src/credentials/provider.js';
import { ConfigError, StintError, UpstreamError } from '../../src/errors.js';
import { uuidv7 } from '../../src/ids.js';
import { FakeClock } from '../support/fake_clock.js';
import { FakeKubeApiServer } from '../support/fake_kube_apiserver.js';
import { freePort } from '../support/ports.js';

const clock = new FakeClock();
let kube: FakeKubeApiServer;
let provider: CredentialProvider;
const calls: { kind: string; operation: string; outcome: string; code?: string }[] = [];

const IDENTITY: WorkloadIdentity = {
  attestor: 'kubernetes',
  attestorName: 'cluster',
  issuer: 'https://kubernetes.default.svc',
  subject: 'system:serviceaccount:payments:api-1',
  id: 'spiffe://stint.test/ns/payments/sa/api-1',
  claims: { namespace: 'payments', service_account: 'api-1' },
  expiresAt: 0,
};

function deps(): ProviderDeps {
  return {
    clock,
    issuer: 'https://stint.test',
    webIdentityToken: () => Promise.reject(new Error('not used by the kubernetes providers')),
    onUpstreamCall: (kind, operation, outcome, _seconds, code) => calls.push({ kind, operation, outcome, ...(code ? { code } : {}) }),
  };
}

function providersFor(raw: Record<string, unknown>): CredentialProvider[] {
  return createKubernetesProviders(kubernetesProviderConfigSchema.parse(raw), deps());
}

function tokenProvider(raw: Record<string, unknown> = {}): CredentialProvider {
  const p = providersFor({ server: kube.url, caFile: kube.caFile, tokenFile: kube.tokenFile, timeout: '2s', ...raw }).find((x) => x.kind === 'kubernetes-token');
  if (!p) throw new Error('no kubernetes-token provider');
  return p;
}

function draft(target: string | undefined, o: { ttl?: number; options?: Record<string, unknown>; audience?: string } = {}): GrantDraft {
  const issuedAt = Math.floor(clock.now() / 1000);
  const ttl = o.ttl ?? 900;
  return {
    id: uuidv7(clock.now()),
    identity: IDENTITY,
    rule: 'deployers',
    granted: {
      request: { kind: 'kubernetes-token', ...(target ? { target } : {}) },
      kind: 'kubernetes-token',
      ...(target ? { target } : {}),
      ...(o.audience ? { audience: o.audience } : {}),
      scopes: [],
      ttlSeconds: ttl,
      ttlCapped: false,
      passClaims: {},
      options: o.options ?? {},
    },
    issuedAt,
    expiresAt: issuedAt + ttl,
  };
}

async function failure(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StintError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  kube = await FakeKubeApiServer.start({ clock, serviceAccounts: ['payments/deployer', 'payments/api-1', 'batch/runner'] });
  provider = tokenProvider();
});
afterAll(async () => {
  await kube?.close();
});
afterEach(() => {
  kube.clearFaults();
});

describe('kubernetes-token: issuance through the TokenRequest API', () => {
  it('issues a ServiceAccount JWT for the target, lasting the granted TTL, with the API server audience by default', async () => {
    const d = draft('payments/deployer', { ttl: 900 });
    const before = kube.requests.length;
    const cred = await provider.issue(d);
    const req = kube.requests.slice(before);
    expect(req).toHaveLength(1);
    expect(req[0]).toMatchObject({ method: 'POST', path: '/api/v1/namespaces/payments/serviceaccounts/deployer/token' });
    expect(req[0]!.authorization).toBe(`Bearer ${kube['acceptedToken' as keyof FakeKubeApiServer]}`);
    expect(req[0]!.body).toEqual({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: 900 } });
    const claims = await kube.verifyToken(cred.token, 'https://kubernetes.default.svc.cluster.local');
    expect(claims.sub).toBe('system:serviceaccount:payments:deployer');
    expect(claims.exp).toBe(d.expiresAt);
    expect(cred).toMatchObject({
      kind: 'kubernetes-token',
      tokenType: 'urn:ietf:params:oauth:token-type:jwt',
      expiresAt: d.expiresAt,
      renewAfter: d.issuedAt + 600,
      secretFields: [],
      fields: { namespace: 'payments', serviceAccount: 'deployer', audiences: 'https://kubernetes.default.svc.cluster.local', expirationTimestamp: new Date(d.expiresAt * 1000).toISOString() },
    });
    expect(cred.revocationHandle).toBeUndefined();
    expect(provider).toMatchObject({ minTtlSeconds: 600, requires: 'target', reapOnExpiry: false, maxTtlSeconds: 86400 });
    expect(calls.at(-1)).toEqual({ kind: 'kubernetes-token', operation: 'TokenRequest', outcome: 'ok' });
  });

  it("uses the rule's options.audiences, and the request's (policy-checked) audience over them", async () => {
    const fromRule = await provider.issue(draft('payments/api-1', { options: { audiences: ['vault', 'https://api.example.com'] } }));
    expect((await kube.verifyToken(fromRule.token)).aud).toEqual(['vault', 'https://api.example.com']);
    expect(fromRule.fields.audiences).toBe('vault,https://api.example.com');
    const fromRequest = await provider.issue(draft('payments/api-1', { audience: 'sts.example.com', options: { audiences: ['vault'] } }));
    expect((await kube.verifyToken(fromRequest.token, 'sts.example.com')).aud).toEqual(['sts.example.com']);
    const bad = await failure(provider.issue(draft('payments/api-1', { options: { audiences: 'vault' } })));
    expect(bad.code).toBe('ERR_POLICY_INVALID');
  });

  it('asks for at least 10 minutes, and reports the expiry the API server actually granted', async () => {
    const short = draft('payments/deployer', { ttl: 60 });
    const cred = await provider.issue(short);
    expect((kube.requests.at(-1)!.body as { spec: { expirationSeconds: number } }).spec.expirationSeconds).toBe(600);
    expect(cred.expiresAt).toBe(short.issuedAt + 600);

    const capped = await FakeKubeApiServer.start({ clock, serviceAccounts: ['payments/deployer'], maxTokenSeconds: 1200 });
    try {
      const p = providersFor({ server: capped.url, caFile: capped.caFile, tokenFile: capped.tokenFile }).find((x) => x.kind === 'kubernetes-token')!;
      const long = draft('payments/deployer', { ttl: 7200 });
      const c = await p.issue(long);
      expect(c.expiresAt).toBe(long.issuedAt + 1200);
      expect(c.renewAfter).toBe(long.issuedAt + 800);
    } finally {
      await capped.close();
    }
  });

  it('returns a kubeconfig that the real client can use when the rule asks for options.format: kubeconfig', async () => {
    const cred = await provider.issue(draft('payments/deployer', { options: { format: 'kubeconfig' } }));
    expect(cred.secretFields).toEqual(['kubeconfig']);
    const doc = parseYaml(cred.fields.kubeconfig!) as { clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[]; users: { user: { token: string } }[]; 'current-context': string; contexts: { context: { namespace: string } }[] };
    expect(doc.clusters[0]).toMatchObject({ name: 'kubernetes', cluster: { server: kube.url } });
    expect(doc.users[0]!.user.token).toBe(cred.token);
    expect(doc.contexts[0]!.context.namespace).toBe('payments');
    // The workload's own client, configured only by this kubeconfig, reaches the API server as the ServiceAccount.
    const kc = new KubeConfig();
    kc.loadFromString(cred.fields.kubeconfig!);
    const previous = kube['acceptedToken' as keyof FakeKubeApiServer] as unknown as string;
    kube.acceptOnly(cred.token);
    try {
      const list = await kc.makeApiClient(RbacAuthorizationV1Api).listNamespacedRoleBinding({ namespace: 'payments' });
      expect(list.items).toEqual([]);
      expect(kube.requests.at(-1)!.authorization).toBe(`Bearer ${cred.token}`);
    } finally {
      kube.acceptOnly(previous);
    }
    const named = tokenProvider({ clusterName: 'prod-eu', clusterServer: 'https://api.prod.example.com:6443' });
    const other = parseYaml((await named.issue(draft('payments/deployer', { options: { format: 'kubeconfig' } }))).fields.kubeconfig!) as typeof doc;
    expect(other.clusters[0]).toMatchObject({ name: 'prod-eu', cluster: { server: 'https://api.prod.example.com:6443' } });
    expect(other['current-context']).toBe('prod-eu');
    expect((await failure(provider.issue(draft('payments/deployer', { options: { format: 'yaml' } })))).code).toBe('ERR_POLICY_INVALID');
  });

  it('says plainly that a TokenRequest token cannot be revoked', async () => {
    const result = await provider.revoke({ id: uuidv7(clock.now()), kind: 'kubernetes-token', identity: IDENTITY.id, target: 'payments/deployer', audience: null, expiresAt: 0, revocationHandle: null });
    expect(result.effective).toBe(false);
    expect(result.note).toMatch(/cannot revoke .* until it expires/);
  });

  it('refuses a malformed target before any upstream call', async () => {
    const before = kube.requests.length;
    for (const target of [undefined, 'payments', 'payments/deployer/extra', 'Payments/deployer', 'payments/Deployer', '../x', 'payments/']) {
      const e = await failure(provider.issue(draft(target)));
      expect(e.code).toBe('ERR_INVALID_REQUEST');
    }
    expect(kube.requests.length).toBe(before);
  });
});

describe('kubernetes-token: upstream failures', () => {
  const good = async (): Promise<void> => {
    const cred = await provider.issue(draft('payments/deployer'));
    await expect(kube.verifyToken(cred.token)).resolves.toBeTruthy();
  };

  it('a missing ServiceAccount or namespace is ERR_UPSTREAM_DENIED naming NotFound', async () => {
    for (const target of ['payments/nobody', 'nowhere/deployer']) {
      const e = await failure(provider.issue(draft(target)));
      expect(e).toBeInstanceOf(UpstreamError);
      expect(e).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'NotFound', details: { provider: 'kubernetes-token', upstreamCode: 'NotFound' } });
      expect(e.mapping.grpc).toBe(7);
    }
    expect(calls.at(-1)).toMatchObject({ outcome: 'error', code: 'NotFound' });
    await good();
  });

  it("an RBAC refusal is ERR_UPSTREAM_DENIED with the API server's reason and message", async () => {
    kube.forbid({ resource: 'serviceaccounts/token', namespace: 'payments' });
    const e = await failure(provider.issue(draft('payments/deployer')));
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'Forbidden' });
    expect(e.message).toContain('cannot create resource "serviceaccounts/token"');
    expect(await provider.issue(draft('batch/runner'))).toBeTruthy();
    kube.clearFaults();
    await good();
  });

  it('a refused Stint credential (401) is ERR_UPSTREAM_DENIED Unauthorized, and a rotated token file is picked up', async () => {
    kube.acceptOnly('a-token-stint-does-not-have');
    const e = await failure(provider.issue(draft('payments/deployer')));
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'Unauthorized' });
    kube.rotateToken();
    await good();
    expect(kube.requests.at(-1)!.authorization).toBe(`Bearer ${kube['acceptedToken' as keyof FakeKubeApiServer]}`);
  });

  it('throttling is ERR_UPSTREAM_UNAVAILABLE with the Retry-After of the reply', async () => {
    kube.fail('throttled', { times: 1, retryAfter: 13 });
    const e = await failure(provider.issue(draft('payments/deployer')));
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'TooManyRequests', details: { retryAfterSeconds: 13 } });
    expect(e.mapping.grpc).toBe(14);
    await good();
  });

  it('503 and 500 are ERR_UPSTREAM_UNAVAILABLE with a retry hint (Retry-After when the reply has one)', async () => {
    kube.fail('unavailable', { times: 1 });
    expect(await failure(provider.issue(draft('payments/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'ServiceUnavailable', details: { retryAfterSeconds: 5 } });
    kube.fail('unavailable', { times: 1, retryAfter: 11 });
    expect(await failure(provider.issue(draft('payments/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', details: { retryAfterSeconds: 11 } });
    kube.fail('internal', { times: 1 });
    expect(await failure(provider.issue(draft('payments/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'InternalError' });
    await good();
  });

  it('a reply that is not the promised JSON is ERR_UPSTREAM_BAD_RESPONSE', async () => {
    for (const fault of ['malformed', 'not-json', 'empty-object'] as const) {
      kube.fail(fault, { times: 1 });
      const e = await failure(provider.issue(draft('payments/deployer')));
      expect(e, fault).toMatchObject({ code: 'ERR_UPSTREAM_BAD_RESPONSE', upstreamCode: 'MalformedResponse' });
    }
    await good();
  });

  it('a hanging API server times out as ERR_UPSTREAM_UNAVAILABLE; a reset connection is unavailable too', async () => {
    const quick = tokenProvider({ timeout: '1s' });
    kube.fail('hang', { times: 1 });
    const started = Date.now();
    expect(await failure(quick.issue(draft('payments/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'Timeout' });
    expect(Date.now() - started).toBeLessThan(3000);
    kube.fail('reset', { times: 1 });
    expect(await failure(quick.issue(draft('payments/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    await good();
  });

  it('an API server with a certificate Stint does not trust, or none listening, is ERR_UPSTREAM_UNAVAILABLE', async () => {
    const untrusting = tokenProvider({ caFile: kube.untrustedCaFile });
    const tls = await failure(untrusting.issue(draft('payments/deployer')));
    expect(tls.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect((tls as UpstreamError).upstreamCode).toMatch(/CERT|SIGNATURE|UNABLE|SELF_SIGNED/);
    const nobody = tokenProvider({ server: `https://127.0.0.1:${await freePort()}` });
    expect(await failure(nobody.issue(draft('payments/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'ECONNREFUSED' });
    await good();
  });

  it('never puts a token in an error, its details or a metric code', async () => {
    const secret = kube['acceptedToken' as keyof FakeKubeApiServer] as unknown as string;
    kube.forbid({});
    const e = await failure(provider.issue(draft('payments/deployer')));
    kube.clearFaults();
    const cred = await provider.issue(draft('payments/deployer'));
    kube.fail('malformed', { times: 1 });
    const bad = await failure(provider.issue(draft('payments/deployer')));
    for (const err of [e, bad]) {
      const text = `${err.message} ${JSON.stringify(err.details)}`;
      expect(text).not.toContain(secret);
      expect(text).not.toContain(cred.token);
    }
    expect(JSON.stringify(calls)).not.toContain(secret);
  });
});

describe('kubernetes: connection settings', () => {
  it('connects through a kubeconfig file (its current context, or the configured one)', async () => {
    const file = kube.kubeconfig({ context: 'prod' });
    const viaFile = providersFor({ kubeconfig: file }).find((x) => x.kind === 'kubernetes-token')!;
    await expect(viaFile.issue(draft('payments/deployer'))).resolves.toMatchObject({ kind: 'kubernetes-token' });
    const viaContext = providersFor({ kubeconfig: file, context: 'prod' }).find((x) => x.kind === 'kubernetes-token')!;
    await expect(viaContext.issue(draft('payments/deployer'))).resolves.toBeTruthy();
    const stale = providersFor({ kubeconfig: kube.kubeconfig({ name: 'stale', token: 'revoked-token' }) }).find((x) => x.kind === 'kubernetes-token')!;
    expect(await failure(stale.issue(draft('payments/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'Unauthorized' });
  });

  it('returns both kinds from one configuration', () => {
    const kinds = providersFor({ server: kube.url, caFile: kube.caFile, tokenFile: kube.tokenFile }).map((p) => p.kind);
    expect(kinds).toEqual(['kubernetes-token', 'kubernetes-rolebinding']);
  });

  const configError = (raw: Record<string, unknown>): ConfigError => {
    try {
      providersFor(raw);
    } catch (e) {
      if (e instanceof ConfigError) return e;
      throw e;
    }
    throw new Error('expected a ConfigError');
  };

  it('refuses unusable files at startup, naming the key', () => {
    const dir = kube.dir;
    writeFileSync(join(dir, 'empty-token'), '\n');
    writeFileSync(join(dir, 'not-a-cert.pem'), 'hello');
    writeFileSync(join(dir, 'broken.yaml'), 'clusters: [\n');
    writeFileSync(join(dir, 'no-context.yaml'), 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ kubeconfig: join(dir, 'missing.yaml') }, 'providers.kubernetes.kubeconfig', /ENOENT/],
      [{ kubeconfig: join(dir, 'broken.yaml') }, 'providers.kubernetes.kubeconfig', /not YAML/],
      [{ kubeconfig: join(dir, 'no-context.yaml') }, 'providers.kubernetes.kubeconfig', /no context/],
      [{ kubeconfig: kube.kubeconfig(), context: 'staging' }, 'providers.kubernetes.context', /no context "staging"/],
      [{ server: kube.url, caFile: join(dir, 'missing.crt'), tokenFile: kube.tokenFile }, 'providers.kubernetes.caFile', /ENOENT/],
      [{ server: kube.url, caFile: join(dir, 'not-a-cert.pem'), tokenFile: kube.tokenFile }, 'providers.kubernetes.caFile', /not a PEM certificate/],
      [{ server: kube.url, caFile: kube.caFile, tokenFile: join(dir, 'empty-token') }, 'providers.kubernetes.tokenFile', /empty/],
    ];
    for (const [raw, path, message] of cases) {
      const e = configError(raw);
      expect(e.code).toBe('ERR_CONFIG_INVALID');
      expect(e.path, JSON.stringify(raw)).toBe(path);
      expect(e.message).toMatch(message);
    }
  });

  it('defaults to the in-cluster ServiceAccount, and says what to set when Stint runs elsewhere', () => {
    const e = configError({});
    expect(e.path).toBe('providers.kubernetes.caFile');
    expect(e.message).toContain('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
    expect(e.message).toContain('providers.kubernetes.kubeconfig');
    const parsed = kubernetesProviderConfigSchema.parse({});
    expect(parsed).toMatchObject({ timeout: 5, reconcileGrace: 300, maxTtl: 86400, labelPrefix: 'stint.dev', managedBy: 'stint', clusterName: 'kubernetes' });
  });

  it('validates the settings themselves', () => {
    const issue = (raw: Record<string, unknown>): string => {
      const r = kubernetesProviderConfigSchema.safeParse(raw);
      if (r.success) return 'ok';
      return r.error.issues.map((i) => i.path.join('.')).join(',');
    };
    expect(issue({ kubeconfig: '/k', server: 'https://x' })).toBe('server');
    expect(issue({ context: 'x' })).toBe('context');
    expect(issue({ server: 'http://127.0.0.1:8080' })).toBe('server');
    expect(issue({ timeout: '0s' })).toBe('timeout');
    expect(issue({ maxTtl: '5m' })).toBe('maxTtl');
    expect(issue({ labelPrefix: 'Stint.Dev/' })).toBe('labelPrefix');
    expect(issue({ managedBy: 'not a label' })).toBe('managedBy');
    expect(issue({ unknown: 1 })).toBe('');
    expect(issue({ timeout: '10s', reconcileGrace: '2m', maxTtl: '2h' })).toBe('ok');
  });
});
