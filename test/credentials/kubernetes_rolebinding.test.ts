/**
 * kubernetes-rolebinding against a fake API server over real HTTPS, through the real
 * @kubernetes/client-node: the RoleBinding / ClusterRoleBinding Stint creates (name, labels,
 * annotations, roleRef, subject from the rule and the identity's claims), revocation and reaping
 * by deletion, reconciliation of orphans (with the grace period and paging), and upstream errors.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import { createKubernetesProviders, kubernetesProviderConfigSchema } from '../../src/credentials/kubernetes.js';
import type { CredentialProvider, GrantDraft, GrantRef, IssuedCredential } from '../../src/credentials/provider.js';
import { StintError } from '../../src/errors.js';
import { uuidv7 } from '../../src/ids.js';
import { FakeClock } from '../support/fake_clock.js';
import { FakeKubeApiServer } from '../support/fake_kube_apiserver.js';

const clock = new FakeClock();
let kube: FakeKubeApiServer;
let provider: CredentialProvider;

const IDENTITY: WorkloadIdentity = {
  attestor: 'kubernetes',
  attestorName: 'cluster',
  issuer: 'https://kubernetes.default.svc',
  subject: 'system:serviceaccount:payments:api-1',
  id: 'spiffe://stint.test/ns/payments/sa/api-1',
  claims: { namespace: 'payments', service_account: 'api-1', team: 'payments-core', evil: 'system:masters', slashed: 'a/b', repository_id: 123456, 'kubernetes.io': { pod: { name: 'api-1-7f9c' } } },
  expiresAt: 0,
};
const SA_SUBJECT = { kind: 'ServiceAccount', name: '${service_account}', namespace: '${namespace}' };

function rolebindingProvider(raw: Record<string, unknown> = {}): CredentialProvider {
  const config = kubernetesProviderConfigSchema.parse({ server: kube.url, caFile: kube.caFile, tokenFile: kube.tokenFile, timeout: '2s', ...raw });
  const p = createKubernetesProviders(config, { clock, issuer: 'https://stint.test', webIdentityToken: () => Promise.reject(new Error('unused')) }).find((x) => x.kind === 'kubernetes-rolebinding');
  if (!p) throw new Error('no kubernetes-rolebinding provider');
  return p;
}

function draft(target: string, o: { subject?: unknown; ttl?: number; id?: string; identity?: WorkloadIdentity } = {}): GrantDraft {
  const issuedAt = Math.floor(clock.now() / 1000);
  const ttl = o.ttl ?? 600;
  return {
    id: o.id ?? uuidv7(clock.now()),
    identity: o.identity ?? IDENTITY,
    rule: 'deployers',
    granted: {
      request: { kind: 'kubernetes-rolebinding', target },
      kind: 'kubernetes-rolebinding',
      target,
      scopes: [],
      ttlSeconds: ttl,
      ttlCapped: false,
      passClaims: {},
      options: 'subject' in o ? (o.subject === undefined ? {} : { subject: o.subject }) : { subject: SA_SUBJECT },
    },
    issuedAt,
    expiresAt: issuedAt + ttl,
  };
}

function refOf(d: GrantDraft, cred: IssuedCredential | null): GrantRef {
  return { id: d.id, kind: 'kubernetes-rolebinding', identity: d.identity.id, target: d.granted.target ?? null, audience: null, expiresAt: d.expiresAt, revocationHandle: cred?.revocationHandle ?? null };
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

const noHandles = async (): Promise<ReadonlySet<string>> => new Set<string>();
const compact = (id: string): string => `stint-${id.replace(/-/g, '')}`;

beforeAll(async () => {
  kube = await FakeKubeApiServer.start({ clock, serviceAccounts: ['payments/api-1'], namespaces: ['cluster', 'batch'] });
  provider = rolebindingProvider();
});
afterAll(async () => {
  await kube?.close();
});
afterEach(() => {
  kube.clearFaults();
});

describe('kubernetes-rolebinding: issuance', () => {
  it('creates a RoleBinding named after the grant, labelled and annotated, binding the workload ServiceAccount to the Role', async () => {
    const d = draft('payments/Role/deployer');
    const cred = await provider.issue(d);
    const name = compact(d.id);
    const stored = kube.roleBinding('payments', name)!;
    expect(stored).toMatchObject({
      kind: 'RoleBinding',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      metadata: {
        name,
        namespace: 'payments',
        labels: { 'app.kubernetes.io/managed-by': 'stint', 'stint.dev/grant-id': d.id },
        annotations: { 'stint.dev/expires-at': new Date(d.expiresAt * 1000).toISOString(), 'stint.dev/identity': IDENTITY.id, 'stint.dev/rule': 'deployers' },
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'deployer' },
      subjects: [{ kind: 'ServiceAccount', name: 'api-1', namespace: 'payments' }],
    });
    expect(kube.requestsTo('rolebindings', 'POST').at(-1)!.path).toBe('/apis/rbac.authorization.k8s.io/v1/namespaces/payments/rolebindings');
    expect(cred).toEqual({
      kind: 'kubernetes-rolebinding',
      token: name,
      tokenType: 'urn:stint:params:oauth:token-type:kubernetes-rolebinding',
      fields: { kind: 'RoleBinding', namespace: 'payments', name, role: 'Role/deployer', subject: 'ServiceAccount:payments/api-1' },
      secretFields: [],
      expiresAt: d.expiresAt,
      renewAfter: d.issuedAt + 400,
      revocationHandle: `payments/${name}`,
    });
    expect(provider).toMatchObject({ requires: 'target', reapOnExpiry: true });
  });

  it('binds a ClusterRole in a namespace, or cluster-wide with a ClusterRoleBinding', async () => {
    const inNamespace = draft('payments/ClusterRole/view');
    await provider.issue(inNamespace);
    expect(kube.roleBinding('payments', compact(inNamespace.id))!['roleRef']).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' });

    const clusterWide = draft('cluster/ClusterRole/view', { subject: { kind: 'Group', name: 'team:${team}' } });
    const cred = await provider.issue(clusterWide);
    const stored = kube.clusterRoleBinding(compact(clusterWide.id))!;
    expect(stored).toMatchObject({
      kind: 'ClusterRoleBinding',
      metadata: { labels: { 'stint.dev/grant-id': clusterWide.id } },
      roleRef: { kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'Group', name: 'team:payments-core', apiGroup: 'rbac.authorization.k8s.io' }],
    });
    expect(stored.metadata.namespace).toBeUndefined();
    expect(cred.fields).toMatchObject({ kind: 'ClusterRoleBinding', namespace: '', role: 'ClusterRole/view', subject: 'Group:team:payments-core' });
    expect(cred.revocationHandle).toBe(`cluster/${compact(clusterWide.id)}`);
  });

  it('reads a namespace called "cluster" as a namespace when the role is a Role', async () => {
    const d = draft('cluster/Role/deployer', { subject: { kind: 'User', name: 'ops-${repository_id}' } });
    const cred = await provider.issue(d);
    expect(kube.roleBinding('cluster', compact(d.id))).toMatchObject({ subjects: [{ kind: 'User', name: 'ops-123456' }] });
    expect(cred.revocationHandle).toBe(`cluster/${compact(d.id)}`);
    await expect(provider.revoke(refOf(d, cred))).resolves.toMatchObject({ effective: true });
    expect(kube.roleBinding('cluster', compact(d.id))).toBeUndefined();
  });

  it('resolves subject claims by name or JSON Pointer, with a literal or defaulted namespace', async () => {
    const d = draft('payments/Role/deployer', { subject: { kind: 'ServiceAccount', name: '${/kubernetes.io/pod/name}' } });
    await provider.issue(d);
    expect(kube.roleBinding('payments', compact(d.id))!['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'api-1-7f9c', namespace: 'payments' }]);
    const literal = draft('payments/Role/deployer', { subject: { kind: 'ServiceAccount', name: 'ci', namespace: 'batch' } });
    await provider.issue(literal);
    expect(kube.roleBinding('payments', compact(literal.id))!['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'ci', namespace: 'batch' }]);
  });

  it('refuses subjects a rule cannot mean, or that a claim would bend, before any upstream call', async () => {
    const before = kube.requests.length;
    const cases: [unknown, string, string][] = [
      [undefined, 'cluster/ClusterRole/view', 'ERR_POLICY_INVALID'],
      [{ kind: 'Robot', name: 'x' }, 'payments/Role/deployer', 'ERR_POLICY_INVALID'],
      [{ kind: 'User', name: 'x', extra: 1 }, 'payments/Role/deployer', 'ERR_POLICY_INVALID'],
      [{ kind: 'User', name: 'x', namespace: 'payments' }, 'payments/Role/deployer', 'ERR_POLICY_INVALID'],
      [{ kind: 'ServiceAccount', name: 'ci' }, 'cluster/ClusterRole/view', 'ERR_POLICY_INVALID'],
      [{ kind: 'ServiceAccount', name: 'Not_Valid' }, 'payments/Role/deployer', 'ERR_POLICY_INVALID'],
      [{ kind: 'User', name: '${a b}' }, 'payments/Role/deployer', 'ERR_POLICY_INVALID'],
      [{ kind: 'User', name: '${unterminated' }, 'payments/Role/deployer', 'ERR_POLICY_INVALID'],
      [{ kind: 'User', name: '${missing_claim}' }, 'payments/Role/deployer', 'ERR_POLICY_DENIED'],
      [{ kind: 'Group', name: '${evil}' }, 'cluster/ClusterRole/view', 'ERR_POLICY_DENIED'],
      [{ kind: 'User', name: 'x-${slashed}' }, 'payments/Role/deployer', 'ERR_POLICY_DENIED'],
      [{ kind: 'ServiceAccount', name: '${team}', namespace: '${/kubernetes.io/pod}' }, 'payments/Role/deployer', 'ERR_POLICY_DENIED'],
      [{ kind: 'ServiceAccount', name: '${service_account}', namespace: 'x-${team}-${repository_id}-${team}-${team}-${team}-${team}' }, 'payments/Role/deployer', 'ERR_POLICY_DENIED'],
    ];
    for (const [subject, target, code] of cases) {
      const e = await failure(provider.issue(draft(target, { subject })));
      expect(e.code, JSON.stringify(subject)).toBe(code);
    }
    for (const target of ['payments/deployer', 'payments/Binding/x', 'payments/Role/', 'payments/Role/a/b', 'Payments/Role/x', 'payments/Role/..']) {
      expect((await failure(provider.issue(draft(target)))).code, target).toBe('ERR_INVALID_REQUEST');
    }
    expect(kube.requests.length).toBe(before);
  });

  it("adopts its own binding when an issuance is retried, but never someone else's of the same name", async () => {
    const d = draft('payments/Role/deployer');
    const first = await provider.issue(d);
    const again = await provider.issue(d);
    expect(again).toEqual(first);

    const foreign = draft('payments/Role/deployer');
    kube.seed({ kind: 'RoleBinding', metadata: { name: compact(foreign.id), namespace: 'payments', labels: { owner: 'someone-else' } }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'deployer' }, subjects: [] });
    const e = await failure(provider.issue(foreign));
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'AlreadyExists' });
    expect(kube.roleBinding('payments', compact(foreign.id))!.metadata['labels']).toEqual({ owner: 'someone-else' });
  });
});

describe('kubernetes-rolebinding: revocation and reaping', () => {
  it('revoke deletes the binding (effective now); revoking again or reaping what is gone succeeds', async () => {
    const d = draft('payments/Role/deployer');
    const cred = await provider.issue(d);
    const r1 = await provider.revoke(refOf(d, cred));
    expect(r1).toEqual({ effective: true, note: `RoleBinding payments/${compact(d.id)} deleted; access ends now` });
    expect(kube.roleBinding('payments', compact(d.id))).toBeUndefined();
    expect(kube.requestsTo('rolebindings', 'DELETE').at(-1)!.path).toBe(`/apis/rbac.authorization.k8s.io/v1/namespaces/payments/rolebindings/${compact(d.id)}`);
    const r2 = await provider.revoke(refOf(d, cred));
    expect(r2).toEqual({ effective: true, note: `RoleBinding payments/${compact(d.id)} was already gone` });
    await expect(provider.reap!(refOf(d, cred))).resolves.toMatchObject({ effective: true });
  });

  it('reaps a ClusterRoleBinding, and finds a binding from the target when no handle was stored', async () => {
    const d = draft('cluster/ClusterRole/view', { subject: { kind: 'User', name: 'alice' } });
    const cred = await provider.issue(d);
    await provider.reap!(refOf(d, cred));
    expect(kube.clusterRoleBinding(compact(d.id))).toBeUndefined();
    const n = draft('batch/Role/runner', { subject: { kind: 'User', name: 'bob' } });
    await provider.issue(n);
    await provider.reap!(refOf(n, null));
    expect(kube.roleBinding('batch', compact(n.id))).toBeUndefined();
  });

  it('a failed deletion throws a stable code so the reaper retries, and the binding stays until it succeeds', async () => {
    const d = draft('payments/Role/deployer');
    const cred = await provider.issue(d);
    kube.fail('throttled', { times: 1, retryAfter: 3, match: { verb: 'delete' } });
    expect(await failure(provider.reap!(refOf(d, cred)))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'TooManyRequests', details: { retryAfterSeconds: 3 } });
    kube.forbid({ verb: 'delete', resource: 'rolebindings' });
    expect(await failure(provider.revoke(refOf(d, cred)))).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'Forbidden' });
    expect(kube.roleBinding('payments', compact(d.id))).toBeDefined();
    kube.clearFaults();
    await provider.reap!(refOf(d, cred));
    expect(kube.roleBinding('payments', compact(d.id))).toBeUndefined();
  });
});

describe('kubernetes-rolebinding: upstream failures on issuance', () => {
  const good = async (): Promise<void> => {
    const d = draft('payments/Role/deployer');
    await provider.issue(d);
    expect(kube.roleBinding('payments', compact(d.id))).toBeDefined();
  };

  it('RBAC refusal (Stint may not bind that role) is ERR_UPSTREAM_DENIED Forbidden', async () => {
    kube.forbid({ verb: 'create', resource: 'rolebindings', namespace: 'payments' });
    const e = await failure(provider.issue(draft('payments/Role/deployer')));
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'Forbidden', details: { provider: 'kubernetes-rolebinding' } });
    expect(e.message).toContain('cannot create resource "rolebindings"');
    kube.clearFaults();
    await good();
  });

  it('a missing namespace is ERR_UPSTREAM_DENIED NotFound', async () => {
    expect(await failure(provider.issue(draft('nowhere/Role/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'NotFound' });
    await good();
  });

  it('throttling, outages and malformed replies map to UNAVAILABLE / BAD_RESPONSE', async () => {
    kube.fail('throttled', { times: 1 });
    expect(await failure(provider.issue(draft('payments/Role/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', details: { retryAfterSeconds: 7 } });
    kube.fail('unavailable', { times: 1 });
    expect(await failure(provider.issue(draft('payments/Role/deployer')))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'ServiceUnavailable' });
    for (const fault of ['malformed', 'not-json', 'empty-object'] as const) {
      kube.fail(fault, { times: 1 });
      expect(await failure(provider.issue(draft('payments/Role/deployer'))), fault).toMatchObject({ code: 'ERR_UPSTREAM_BAD_RESPONSE' });
    }
    await good();
  });
});

describe('kubernetes-rolebinding: reconciliation', () => {
  const MIN = 60_000;
  const orphan = (kind: 'RoleBinding' | 'ClusterRoleBinding', grantId: string, createdMs: number, extra: { labels?: Record<string, string>; name?: string; namespace?: string } = {}): string => {
    const name = extra.name ?? compact(grantId);
    kube.seed(
      {
        kind,
        metadata: { name, ...(kind === 'RoleBinding' ? { namespace: extra.namespace ?? 'payments' } : {}), labels: extra.labels ?? { 'app.kubernetes.io/managed-by': 'stint', 'stint.dev/grant-id': grantId } },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'User', name: 'x', apiGroup: 'rbac.authorization.k8s.io' }],
      },
      createdMs,
    );
    return name;
  };

  it('lists what Stint labelled, deletes bindings no live grant accounts for, keeps young, live and foreign ones', async () => {
    // Start from a clean cluster for this scenario.
    for (const b of kube.roleBindings()) await provider.revoke({ id: 'x', kind: 'kubernetes-rolebinding', identity: '', target: null, audience: null, expiresAt: 0, revocationHandle: `${b.metadata.namespace}/${b.metadata.name}` });
    for (const b of kube.clusterRoleBindings()) await provider.revoke({ id: 'x', kind: 'kubernetes-rolebinding', identity: '', target: 'cluster/ClusterRole/x', audience: null, expiresAt: 0, revocationHandle: `cluster/${b.metadata.name}` });
    const now = clock.now();
    const old = now - 30 * MIN;
    const deadNs = uuidv7(old);
    const deadCluster = uuidv7(old);
    const live = uuidv7(old);
    const young = uuidv7(now - 2 * MIN);
    const youngObjectOldGrant = uuidv7(old); // the grant id is old but the object was created a minute ago
    const v4Old = randomUUID();
    const v4Young = randomUUID();
    const removedNs = orphan('RoleBinding', deadNs, old);
    const removedCluster = orphan('ClusterRoleBinding', deadCluster, old);
    const removedV4 = orphan('RoleBinding', v4Old, old, { namespace: 'batch' });
    orphan('RoleBinding', live, old);
    orphan('RoleBinding', young, now - 2 * MIN);
    orphan('RoleBinding', youngObjectOldGrant, now - MIN);
    orphan('RoleBinding', v4Young, now - MIN);
    orphan('RoleBinding', uuidv7(old), old, { labels: { 'app.kubernetes.io/managed-by': 'stint' } }); // no grant id
    orphan('RoleBinding', uuidv7(old), old, { labels: { 'app.kubernetes.io/managed-by': 'other-stint', 'stint.dev/grant-id': uuidv7(old) } });
    const mislabelled = uuidv7(old);
    orphan('RoleBinding', mislabelled, old, { name: 'hand-made-binding' }); // copied labels, not Stint's name
    const before = kube.requests.length;
    const asked: string[] = [];
    const report = await provider.reconcile!(async (id) => {
      asked.push(id);
      return id === live;
    }, Math.floor(now / 1000), noHandles);
    expect([...report.removed].sort()).toEqual([`batch/${removedV4}`, `cluster/${removedCluster}`, `payments/${removedNs}`].sort());
    expect(report.failed).toEqual([]);
    expect(report.found).toBe(8);
    expect(asked.sort()).toEqual([deadNs, deadCluster, live, v4Old].sort());
    const remaining = kube.roleBindings().map((b) => b.metadata.name);
    expect(remaining).not.toContain(removedNs);
    expect(remaining).toHaveLength(7);
    expect(kube.clusterRoleBindings()).toHaveLength(0);
    const lists = kube.requests.slice(before).filter((r) => r.method === 'GET');
    expect(lists.map((r) => r.path)).toEqual(['/apis/rbac.authorization.k8s.io/v1/rolebindings', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings']);
    for (const r of lists) expect(r.query.get('labelSelector')).toBe('app.kubernetes.io/managed-by=stint,stint.dev/grant-id');
  });

  it('honours a configured grace, label prefix and managed-by value', async () => {
    const other = rolebindingProvider({ reconcileGrace: '1h', labelPrefix: 'stint.example.com', managedBy: 'stint-eu' });
    const now = clock.now();
    const d = draft('payments/Role/deployer');
    await other.issue(d);
    expect(kube.roleBinding('payments', compact(d.id))!.metadata['labels']).toEqual({ 'app.kubernetes.io/managed-by': 'stint-eu', 'stint.example.com/grant-id': d.id });
    const oldish = uuidv7(now - 30 * MIN);
    const ancient = uuidv7(now - 2 * 60 * MIN);
    orphan('RoleBinding', oldish, now - 30 * MIN, { labels: { 'app.kubernetes.io/managed-by': 'stint-eu', 'stint.example.com/grant-id': oldish } });
    const gone = orphan('RoleBinding', ancient, now - 2 * 60 * MIN, { labels: { 'app.kubernetes.io/managed-by': 'stint-eu', 'stint.example.com/grant-id': ancient } });
    const report = await other.reconcile!(async () => false, Math.floor(now / 1000), noHandles);
    expect(report.removed).toEqual([`payments/${gone}`]);
    expect(report.found).toBe(3);
  });

  it('reports a deletion or a listing it could not make, and fails as a whole when it can list nothing', async () => {
    const now = clock.now();
    const a = orphan('RoleBinding', uuidv7(now - 60 * MIN), now - 60 * MIN, { namespace: 'batch' });
    kube.forbid({ verb: 'delete', namespace: 'batch' });
    const report = await provider.reconcile!(async () => false, Math.floor(now / 1000), noHandles);
    expect(report.failed.some((f) => f.startsWith(`batch/${a}: ERR_UPSTREAM_DENIED (Forbidden)`))).toBe(true);
    kube.clearFaults();
    // Without permission to list ClusterRoleBindings, RoleBindings are still reconciled.
    const b = orphan('RoleBinding', uuidv7(now - 60 * MIN), now - 60 * MIN, { namespace: 'batch' });
    kube.forbid({ verb: 'list', resource: 'clusterrolebindings' });
    const partial = await provider.reconcile!(async () => false, Math.floor(now / 1000), noHandles);
    expect(partial.removed).toEqual(expect.arrayContaining([`batch/${a}`, `batch/${b}`]));
    expect(partial.failed).toContain('ClusterRoleBindings: cannot list: ERR_UPSTREAM_DENIED (Forbidden)');
    kube.clearFaults();
    kube.fail('unavailable', { match: { verb: 'list' } });
    expect(await failure(provider.reconcile!(async () => false, Math.floor(now / 1000), noHandles))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    const c = orphan('ClusterRoleBinding', uuidv7(now - 60 * MIN), now - 60 * MIN);
    kube.clearFaults();
    const again = await provider.reconcile!(async () => false, Math.floor(now / 1000), noHandles);
    expect(again).toMatchObject({ removed: [`cluster/${c}`], failed: [] });
  });

  it('pages through long lists with limit and continue', async () => {
    const now = clock.now();
    const ids = Array.from({ length: 510 }, () => uuidv7(now - 60 * MIN));
    for (const id of ids) orphan('RoleBinding', id, now - 60 * MIN, { namespace: 'batch' });
    const before = kube.requests.length;
    const asked = new Set<string>();
    const report = await provider.reconcile!(async (id) => {
      asked.add(id);
      return true;
    }, Math.floor(now / 1000), noHandles);
    expect(report).toMatchObject({ removed: [], failed: [] });
    expect(report.found).toBeGreaterThanOrEqual(510);
    for (const id of ids) expect(asked.has(id)).toBe(true);
    const lists = kube.requests.slice(before).filter((r) => r.method === 'GET' && r.path.endsWith('/rolebindings'));
    expect(lists).toHaveLength(2);
    expect(lists[0]!.query.get('limit')).toBe('500');
    expect(lists[0]!.query.get('continue')).toBeNull();
    expect(lists[1]!.query.get('continue')).toBeTruthy();
  });
});
