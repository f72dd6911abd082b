/**
 * Scenario (kubernetes-credentials-end-to-end): workloads exchange projected ServiceAccount tokens
 * through the real service (in-process, fake clock) for temporary RoleBindings over HTTP
 * (RFC 8693, `credential_kind=kubernetes-rolebinding`, `resource=<namespace>/Role/<name>`) and
 * for ServiceAccount tokens over gRPC. The API server is a local HTTPS fake speaking the real
 * Kubernetes REST API, reached by the real @kubernetes/client-node. Covers: the binding upstream
 * with its labels and annotations; a target outside the rule (denied before any API call); Admin
 * RevokeGrant deleting the binding (and saying plainly a token cannot be revoked); reaping at
 * expiry via stint.tick(), with a failed deletion retried; reconciliation deleting an orphan
 * labelled by Stint and keeping a young one; upstream errors on both transports; audit events.
 */
import { parse as parseYaml } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/fingerprint.js';
import { uuidv7 } from '../../src/ids.js';
import type { RunningStint } from '../../src/service.js';
import { FakeClock } from '../support/fake_clock.js';
import { FakeKubeApiServer } from '../support/fake_kube_apiserver.js';
import type { StintGrpcClient } from '../support/grpc_client.js';
import { findGrant, httpExchange, queryAudit, tokenExchangeForm, type AuditEvent, type GrantRow, type GrpcCredential, type InProcessStint } from '../support/stint_under_test.js';
import { TestIssuer } from '../support/test_issuer.js';
import { AUDIENCE, FAST_REAPER, startProviderStint } from './harness.js';

const ADMIN_TOKEN = 'kubernetes-e2e-admin-token';
const VAULT_AUDIENCE = 'https://vault.example.com';
const RB_KIND = 'kubernetes-rolebinding';
const TOKEN_KIND = 'kubernetes-token';

const clock = new FakeClock();
let k8s: TestIssuer;
let kube: FakeKubeApiServer;
let env: InProcessStint;
let stint: RunningStint;
let grpc: StintGrpcClient;
let url: string;

function policy(issuer: string): string {
  return `version: 1
rules:
  - name: payments-deployers
    match: { attestor: kubernetes, issuer: ${issuer}, claims: { namespace: payments } }
    allow:
      - kind: ${RB_KIND}
        targets: [payments/Role/deployer, { glob: "payments/ClusterRole/*" }]
        ttl: { default: 10m, max: 30m }
        options:
          subject: { kind: ServiceAccount, name: "\${service_account}", namespace: "\${namespace}" }
      - kind: ${TOKEN_KIND}
        targets: [{ glob: "payments/*" }]
        ttl: { default: 15m, max: 1h }
        options: { format: kubeconfig, audiences: [${VAULT_AUDIENCE}] }
  - name: ops-viewers
    match: { attestor: kubernetes, issuer: ${issuer}, claims: { namespace: ops } }
    allow:
      - kind: ${RB_KIND}
        targets: [cluster/ClusterRole/view]
        ttl: { default: 5m, max: 15m }
        options:
          subject: { kind: User, name: "ops:\${service_account}" }
`;
}

beforeAll(async () => {
  k8s = await TestIssuer.start({ clock });
  kube = await FakeKubeApiServer.start({ clock, serviceAccounts: ['payments/deployer', 'payments/api'], namespaces: ['ops'] });
  env = await startProviderStint({
    prefix: 'stint-kube-e2e-',
    clock,
    k8s,
    policy: policy(k8s.issuer),
    maxTtl: '1h',
    admin: { name: 'kube-operator', token: ADMIN_TOKEN },
    providers: { kubernetes: { server: kube.url, caFile: kube.caFile, tokenFile: kube.tokenFile, timeout: '2s', reconcileGrace: '5m' } },
    reaper: FAST_REAPER,
    alsoClose: [kube],
  });
  ({ stint, grpc, url } = env);
}, 60_000);

afterAll(() => env?.close());

afterEach(() => {
  kube.clearFaults();
});

const subject = (namespace: string, serviceAccount: string): Promise<string> => k8s.mintKubernetes({ namespace, serviceAccount, audience: AUDIENCE });
const bindingName = (grantId: string): string => `stint-${grantId.replace(/-/g, '')}`;

async function bindingForm(namespace: string, serviceAccount: string, resource: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return tokenExchangeForm(await subject(namespace, serviceAccount), { credential_kind: RB_KIND, resource, ...extra });
}

async function grpcExchange(namespace: string, serviceAccount: string, credential: Record<string, unknown>) {
  return grpc.call<{ grant_id: string; rule: string; credentials: GrpcCredential[] }>({ subject_token: await subject(namespace, serviceAccount), credentials: [credential] });
}

const audit = (filter: Record<string, unknown>): Promise<AuditEvent[]> => queryAudit(grpc, ADMIN_TOKEN, filter);

const grantState = (grantId: string): Promise<GrantRow | undefined> => findGrant(grpc, ADMIN_TOKEN, grantId);

describe('kubernetes credentials through the service', () => {
  it('HTTP token exchange creates the RoleBinding upstream, labelled with the grant and annotated with its expiry', async () => {
    const res = await httpExchange(url, await bindingForm('payments', 'api', 'payments/Role/deployer', { ttl_seconds: '900' }));
    expect(res.status).toBe(200);
    const grantId = String(res.body.grant_id);
    const name = bindingName(grantId);
    expect(res.body).toMatchObject({
      access_token: name,
      issued_token_type: 'urn:stint:params:oauth:token-type:kubernetes-rolebinding',
      credential_kind: RB_KIND,
      expires_in: 900,
      rule: 'payments-deployers',
      fields: { kind: 'RoleBinding', namespace: 'payments', name, role: 'Role/deployer', subject: 'ServiceAccount:payments/api' },
    });
    expect(kube.roleBinding('payments', name)).toMatchObject({
      metadata: {
        labels: { 'app.kubernetes.io/managed-by': 'stint', 'stint.dev/grant-id': grantId },
        annotations: { 'stint.dev/expires-at': new Date(clock.now() + 900_000).toISOString(), 'stint.dev/identity': 'spiffe://e2e.test/ns/payments/sa/api', 'stint.dev/rule': 'payments-deployers' },
      },
      roleRef: { kind: 'Role', name: 'deployer' },
      subjects: [{ kind: 'ServiceAccount', name: 'api', namespace: 'payments' }],
    });
    const events = await audit({ type: 'exchange.allowed', grant_id: grantId });
    expect(events).toHaveLength(1);
    expect(events[0]!.data.granted).toEqual([expect.objectContaining({ kind: RB_KIND, target: 'payments/Role/deployer', ttlSeconds: 900, credentialFingerprint: fingerprint(name) })]);
  });

  it('gRPC issues a ServiceAccount token for the rule audience, at least 10 minutes, with a kubeconfig', async () => {
    const res = await grpcExchange('payments', 'api', { kind: TOKEN_KIND, target: 'payments/deployer', ttl_seconds: 300 });
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const cred = res.value.credentials[0]!;
    expect(cred).toMatchObject({ kind: TOKEN_KIND, token_type: 'urn:ietf:params:oauth:token-type:jwt', ttl_seconds: 600, target: 'payments/deployer' });
    expect(Date.parse(cred.expires_at)).toBe(clock.now() + 600_000);
    const claims = await kube.verifyToken(cred.token, VAULT_AUDIENCE);
    expect(claims.sub).toBe('system:serviceaccount:payments:deployer');
    const kubeconfig = parseYaml(cred.fields.kubeconfig!) as { users: { user: { token: string } }[]; clusters: { cluster: { server: string } }[] };
    expect(kubeconfig.users[0]!.user.token).toBe(cred.token);
    expect(kubeconfig.clusters[0]!.cluster.server).toBe(kube.url);
    expect(kube.requests.at(-1)!.body).toMatchObject({ spec: { audiences: [VAULT_AUDIENCE], expirationSeconds: 600 } });
    const events = await audit({ type: 'exchange.allowed', grant_id: cred.grant_id });
    expect(events[0]!.raw).not.toContain(cred.token);
  });

  it('denies a target or kind the rule does not name before any API call, on both transports', async () => {
    const before = kube.requests.length;
    const http = await httpExchange(url, await bindingForm('payments', 'api', 'payments/Role/admin'));
    expect(http.status).toBe(400);
    expect(http.body).toMatchObject({ error: 'invalid_target', stint_code: 'ERR_TARGET_DENIED', reason: 'TARGET_NOT_ALLOWED' });
    const cluster = await grpcExchange('payments', 'api', { kind: RB_KIND, target: 'cluster/ClusterRole/cluster-admin' });
    expect(cluster).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_TARGET_DENIED' });
    const token = await grpcExchange('ops', 'viewer', { kind: TOKEN_KIND, target: 'ops/viewer' });
    expect(token).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_POLICY_DENIED' });
    expect(kube.requests.length).toBe(before);
  });

  it('Admin RevokeGrant deletes the RoleBinding, and says plainly a ServiceAccount token cannot be revoked', async () => {
    const res = await httpExchange(url, await bindingForm('payments', 'api', 'payments/ClusterRole/view'));
    expect(res.status).toBe(200);
    const grantId = String(res.body.grant_id);
    expect(kube.roleBinding('payments', bindingName(grantId))).toBeDefined();

    const revoked = await grpc.adminCall<{ grants: { id: string; state: string }[]; notes: string[] }>('RevokeGrant', { grant_id: grantId, reason: 'incident 12' }, ADMIN_TOKEN);
    expect(revoked.ok).toBe(true);
    if (!revoked.ok) return;
    expect(revoked.value.grants).toMatchObject([{ id: grantId, state: 'revoked' }]);
    expect(revoked.value.notes.join('\n')).toContain(`${RB_KIND}: RoleBinding payments/${bindingName(grantId)} deleted; access ends now`);
    expect(kube.roleBinding('payments', bindingName(grantId))).toBeUndefined();
    expect(kube.requestsTo('rolebindings', 'DELETE').at(-1)!.path).toBe(`/apis/rbac.authorization.k8s.io/v1/namespaces/payments/rolebindings/${bindingName(grantId)}`);
    const events = await audit({ type: 'grant.revoked', grant_id: grantId });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'incident 12', data: { actor: 'kube-operator', kind: RB_KIND, upstreamEffective: true } });

    const token = await grpcExchange('payments', 'api', { kind: TOKEN_KIND, target: 'payments/api' });
    expect(token.ok).toBe(true);
    if (!token.ok) return;
    const tokenRevoked = await grpc.adminCall<{ notes: string[] }>('RevokeGrant', { grant_id: token.value.grant_id, reason: 'rotation' }, ADMIN_TOKEN);
    expect(tokenRevoked.ok && tokenRevoked.value.notes.join('\n')).toMatch(/kubernetes-token: Kubernetes cannot revoke a single ServiceAccount token/);
    expect((await audit({ type: 'grant.revoked', grant_id: token.value.grant_id }))[0]).toMatchObject({ data: { upstreamEffective: false } });
    expect(await grpc.adminCall('RevokeGrant', { grant_id: grantId }, 'wrong')).toMatchObject({ ok: false, stintCode: 'ERR_ADMIN_UNAUTHENTICATED' });
  });

  it('reaps a ClusterRoleBinding after expiry on stint.tick(), retrying a failed deletion with backoff', async () => {
    const res = await grpcExchange('ops', 'viewer', { kind: RB_KIND, target: 'cluster/ClusterRole/view' });
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const grantId = res.value.credentials[0]!.grant_id;
    const name = bindingName(grantId);
    expect(kube.clusterRoleBinding(name)).toMatchObject({ subjects: [{ kind: 'User', name: 'ops:viewer' }] });
    expect(res.value.credentials[0]!.fields).toMatchObject({ kind: 'ClusterRoleBinding', role: 'ClusterRole/view' });

    // Not yet expired: nothing happens.
    clock.advance(4 * 60_000);
    await stint.tick();
    expect(kube.clusterRoleBinding(name)).toBeDefined();

    // Expired, but the API server throttles the deletion: the grant waits for its retry.
    kube.fail('throttled', { times: 1, match: { verb: 'delete', resource: 'clusterrolebindings' } });
    clock.advance(61_000);
    await stint.tick();
    expect(kube.clusterRoleBinding(name)).toBeDefined();
    expect(await grantState(grantId)).toMatchObject({ state: 'expired', cleanup: 'pending', cleanup_attempts: 1, cleanup_error: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect((await audit({ type: 'grant.cleanup_failed', grant_id: grantId }))[0]).toMatchObject({ reason: 'ERR_UPSTREAM_UNAVAILABLE', data: { operation: 'reap' } });

    // After the backoff the reaper deletes it.
    clock.advance(15_000);
    await stint.tick();
    expect(kube.clusterRoleBinding(name)).toBeUndefined();
    expect((await grantState(grantId))?.cleanup).toBe('done');
    const reaped = await audit({ type: 'grant.reaped', grant_id: grantId });
    expect(reaped).toHaveLength(1);
    expect(reaped[0]).toMatchObject({ data: { kind: RB_KIND, upstreamEffective: true, note: `ClusterRoleBinding ${name} deleted; access ends now` } });
  });

  it('reconciliation deletes an orphan binding Stint labelled with no live grant, and keeps a young one and live ones', async () => {
    const live = await httpExchange(url, await bindingForm('payments', 'api', 'payments/Role/deployer', { ttl_seconds: '1800' }));
    expect(live.status).toBe(200);
    const liveName = bindingName(String(live.body.grant_id));
    const now = clock.now();
    const seed = (grantId: string, createdMs: number): string => {
      const name = bindingName(grantId);
      kube.seed(
        {
          kind: 'RoleBinding',
          metadata: { name, namespace: 'payments', labels: { 'app.kubernetes.io/managed-by': 'stint', 'stint.dev/grant-id': grantId } },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'deployer' },
          subjects: [{ kind: 'ServiceAccount', name: 'api', namespace: 'payments' }],
        },
        createdMs,
      );
      return name;
    };
    // An issuance whose grant was never recorded (crash between the API call and the store), 20 minutes ago.
    const orphan = seed(uuidv7(now - 20 * 60_000), now - 20 * 60_000);
    // One a minute old: an issuance may still be in flight.
    const young = seed(uuidv7(now - 60_000), now - 60_000);

    clock.advance(61_000);
    await stint.tick();
    expect(kube.roleBinding('payments', orphan)).toBeUndefined();
    expect(kube.roleBinding('payments', young)).toBeDefined();
    expect(kube.roleBinding('payments', liveName)).toBeDefined();
    const events = await audit({ type: 'reconcile.removed' });
    const ours = events.find((e) => (e.data.removed as string[]).includes(`payments/${orphan}`));
    expect(ours).toMatchObject({ outcome: 'info', data: { kind: RB_KIND, failed: [] } });
    expect(ours!.data.removed).not.toContain(`payments/${young}`);

    // Once older than the grace, the young orphan goes too; the live grant's binding stays.
    clock.advance(5 * 60_000);
    await stint.tick();
    expect(kube.roleBinding('payments', young)).toBeUndefined();
    expect(kube.roleBinding('payments', liveName)).toBeDefined();
  });

  it('maps RBAC refusal, throttling and malformed replies on both transports, audits them, and keeps serving', async () => {
    kube.forbid({ verb: 'create', resource: 'rolebindings' });
    const denied = await httpExchange(url, await bindingForm('payments', 'api', 'payments/Role/deployer'));
    expect(denied.status).toBe(400);
    expect(denied.body).toMatchObject({ error: 'invalid_target', stint_code: 'ERR_UPSTREAM_DENIED', reason: 'Forbidden' });
    const deniedGrpc = await grpcExchange('payments', 'api', { kind: RB_KIND, target: 'payments/Role/deployer' });
    expect(deniedGrpc).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_UPSTREAM_DENIED', reason: 'Forbidden' });
    kube.clearFaults();

    kube.fail('throttled', { times: 1, retryAfter: 9 });
    const throttled = await httpExchange(url, await bindingForm('payments', 'api', 'payments/Role/deployer'));
    expect(throttled.status).toBe(503);
    expect(throttled.body).toMatchObject({ error: 'temporarily_unavailable', stint_code: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'TooManyRequests', retry_after: '9' });

    kube.fail('unavailable', { times: 1 });
    expect(await grpcExchange('payments', 'api', { kind: TOKEN_KIND, target: 'payments/deployer' })).toMatchObject({ ok: false, code: 14, stintCode: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'ServiceUnavailable' });

    kube.fail('malformed', { times: 1 });
    const malformed = await httpExchange(url, await bindingForm('payments', 'api', 'payments/Role/deployer'));
    expect(malformed.status).toBe(502);
    expect(malformed.body).toMatchObject({ error: 'temporarily_unavailable', stint_code: 'ERR_UPSTREAM_BAD_RESPONSE' });

    const missing = await grpcExchange('payments', 'api', { kind: TOKEN_KIND, target: 'payments/ghost' });
    expect(missing).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_UPSTREAM_DENIED', reason: 'NotFound' });

    // Faults exhausted: both kinds succeed again.
    expect((await httpExchange(url, await bindingForm('payments', 'api', 'payments/Role/deployer'))).status).toBe(200);
    expect((await grpcExchange('payments', 'api', { kind: TOKEN_KIND, target: 'payments/deployer' })).ok).toBe(true);

    const errors = await audit({ type: 'exchange.error', limit: 6 });
    expect(errors.map((e) => e.reason)).toEqual(['ERR_UPSTREAM_DENIED', 'ERR_UPSTREAM_BAD_RESPONSE', 'ERR_UPSTREAM_UNAVAILABLE', 'ERR_UPSTREAM_UNAVAILABLE', 'ERR_UPSTREAM_DENIED', 'ERR_UPSTREAM_DENIED']);
    expect(errors.every((e) => e.grant_ids.length === 0 && e.outcome === 'error')).toBe(true);
    for (const e of errors) expect(e.raw).not.toMatch(/eyJ|stint-api-token/);
  });
});
