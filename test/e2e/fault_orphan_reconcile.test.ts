/**
 * Scenario (issue 14, fault: `kill -9` between the upstream call and the grant write): the
 * upstream credential exists but no grant records it. A real fault, no code hook: another
 * connection holds `LOCK TABLE grants IN ACCESS EXCLUSIVE MODE` on Stint's PostgreSQL store, so
 * the grant write of three exchanges blocks after the providers did their work upstream (a
 * PostgreSQL role on the embedded server, a RoleBinding on the fake API server, a Vault lease on
 * the fake Vault); the `stint` program (dist/) is killed with SIGKILL, the lock released, and
 * Stint restarted with a short reconcile interval and grace. The server runs with
 * `client_connection_check_interval`, so the blocked writes die with their client instead of
 * committing once the lock is released. The reconciler removes the three
 * orphans and audits `reconcile.removed`; the live grants' credentials, issued before the fault,
 * are untouched (the role still logs in).
 *
 * The programs run on real time (a child process has no fake clock): the test waits for
 * conditions (the blocked statements, the orphans' removal), it never sleeps a fixed time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppFixture, startEmbeddedPg, type AppFixture, type EmbeddedPg } from '../support/embedded_pg.js';
import { FakeKubeApiServer } from '../support/fake_kube_apiserver.js';
import { FakeVault, LEASE_ADMIN_POLICY } from '../support/fake_vault.js';
import { StintGrpcClient } from '../support/grpc_client.js';
import { freePort } from '../support/ports.js';
import { startProgram, type RunningProgram } from '../support/programs.js';
import { TestIssuer } from '../support/test_issuer.js';
import { AUDIENCE } from './harness.js';

const ADMIN_TOKEN = 'orphan-e2e-admin-token';
const READONLY = 'database/creds/readonly';
const RB_TARGET = 'payments/Role/deployer';

function policy(issuer: string): string {
  return `version: 1
rules:
  - name: payments
    match: { attestor: kubernetes, issuer: ${issuer}, claims: { namespace: payments } }
    allow:
      - kind: postgres
        targets: [main]
        ttl: { default: 1h, max: 1h }
        options: { memberOf: [app_read] }
      - kind: kubernetes-rolebinding
        targets: [${RB_TARGET}]
        ttl: { default: 30m, max: 30m }
        options:
          subject: { kind: ServiceAccount, name: "\${service_account}", namespace: "\${namespace}" }
      - kind: vault
        targets: [${READONLY}]
        ttl: { default: 30m, max: 30m }
`;
}

let server: EmbeddedPg;
let fixture: AppFixture;
let k8s: TestIssuer;
let kube: FakeKubeApiServer;
let vault: FakeVault;
let dir: string;
let httpUrl: string;
let ports: { http: number; grpc: number; admin: number };
let service: RunningProgram | null = null;
let grpc: StintGrpcClient | null = null;
const clients: pg.Client[] = [];

/** The configuration file; `fast` is the restart's: reconcile every second, 1 s grace. */
function config(fast: boolean): string {
  const grace = fast ? '1s' : '5m';
  return `issuer: ${httpUrl}
audience: ${AUDIENCE}
trustDomain: e2e.test
listen: { http: "127.0.0.1:${ports.http}", grpc: "127.0.0.1:${ports.grpc}", admin: "127.0.0.1:${ports.admin}" }
store: { kind: postgres, url: { env: STINT_STORE_URL }, poolSize: 8, statementTimeout: 120s }
policy: { file: ./policy.yaml }
attestors:
  - { kind: kubernetes, name: cluster, issuer: ${k8s.issuer} }
admin: { tokens: [{ name: ops, secret: { file: ./admin.token } }] }
providers:
  postgres:
    databases:
      main: { adminUrl: { env: STINT_PG_ADMIN_URL }, host: 127.0.0.1, port: ${server.port}, database: app }
    reconcileGrace: ${grace}
  kubernetes: { server: "${kube.url}", caFile: "${kube.caFile}", tokenFile: "${kube.tokenFile}", timeout: 5s, reconcileGrace: ${grace} }
  vault: { address: "${vault.url}", role: stint, audience: vault, timeout: 5s, reconcilePrefixes: [${READONLY}], reconcileGrace: ${grace} }
reaper: { interval: ${fast ? '1s' : '30s'}, reconcileInterval: ${fast ? '1s' : '10m'} }
limits: { perIdentity: null, perSource: null }
`;
}

async function start(fast: boolean): Promise<void> {
  writeFileSync(join(dir, 'stint.yaml'), config(fast));
  service = startProgram(['serve', '--config', join(dir, 'stint.yaml')], {
    cwd: dir,
    env: { STINT_STORE_URL: server.url({ database: 'stint' }), STINT_PG_ADMIN_URL: fixture.adminUrl },
  });
  await service.waitFor(/stint listening/, 60_000);
  grpc = new StintGrpcClient(`127.0.0.1:${ports.grpc}`, `127.0.0.1:${ports.admin}`);
}

beforeAll(async () => {
  // The server notices a vanished client within 100 ms even while its statement waits for a lock
  // (PostgreSQL 14+); without it the blocked write may still commit after the kill (docs/operations.md).
  server = await startEmbeddedPg({ databases: ['stint'], settings: { client_connection_check_interval: '100ms' } });
  fixture = await createAppFixture(server);
  k8s = await TestIssuer.start();
  kube = await FakeKubeApiServer.start({ serviceAccounts: ['payments/api', 'payments/worker'] });
  ports = { http: await freePort(), grpc: await freePort(), admin: await freePort() };
  httpUrl = `http://127.0.0.1:${ports.http}`;
  vault = await FakeVault.start({
    discoveryUrl: httpUrl,
    roles: { stint: { boundAudiences: ['vault'], tokenTtl: 7200, policy: { 'database/creds/*': ['read'], ...LEASE_ADMIN_POLICY } } },
    secrets: { [READONLY]: { leaseDuration: 3600 } },
  });
  dir = mkdtempSync(join(tmpdir(), 'stint-orphan-'));
  writeFileSync(join(dir, 'policy.yaml'), policy(k8s.issuer));
  writeFileSync(join(dir, 'admin.token'), `${ADMIN_TOKEN}\n`, { mode: 0o600 });
  await start(false);
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await service?.stop();
  for (const c of clients) await c.end().catch(() => undefined);
  await vault?.close();
  await kube?.close();
  await k8s?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function exchange(serviceAccount: string, kind: string, resource: string): Promise<Response> {
  const subject = await k8s.mintKubernetes({ namespace: 'payments', serviceAccount, audience: AUDIENCE });
  return fetch(`${httpUrl}/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      credential_kind: kind,
      resource,
    }),
  });
}

/** Stint's generated roles on the target server. */
async function stintRoles(): Promise<string[]> {
  const rows = await server.exec(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'stint\\_%' AND rolname <> 'stint_admin' ORDER BY rolname`);
  return rows.map((r) => String(r.rolname));
}
const bindings = (): string[] => kube.roleBindings().map((b) => String((b.metadata as { name: string }).name)).sort();
const leases = (): string[] => vault.leases(READONLY).filter((l) => l.state === 'live').map((l) => l.id).sort();

/** Statements of Stint's store waiting for a lock. */
async function blockedStatements(): Promise<number> {
  const rows = await server.exec(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'stint' AND wait_event_type = 'Lock'`);
  return Number(rows[0]?.n ?? 0);
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nstint output:\n${service?.stdout()}${service?.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function audit(type: string): Promise<{ outcome: string; data: Record<string, unknown> }[]> {
  const res = await grpc!.adminCall<{ events: { outcome: string; data_json: string }[] }>('QueryAudit', { since: '1h', type, limit: 1000 }, ADMIN_TOKEN);
  if (!res.ok) throw new Error(`QueryAudit failed: ${res.details}`);
  return res.value.events.map((e) => ({ ...e, data: JSON.parse(e.data_json) as Record<string, unknown> }));
}

async function grantIds(): Promise<string[]> {
  const res = await grpc!.adminCall<{ grants: { id: string }[] }>('ListGrants', { limit: 1000 }, ADMIN_TOKEN);
  if (!res.ok) throw new Error(`ListGrants failed: ${res.details}`);
  return res.value.grants.map((g) => g.id);
}

describe('kill -9 between the upstream call and the grant write', () => {
  it('leaves orphans upstream that the reconciler of the restarted service removes and audits, live credentials untouched', async () => {
    // Live grants, recorded before the fault.
    const live: Record<string, { grant_id: string; fields: Record<string, string>; access_token: string }> = {};
    for (const [kind, target] of [['postgres', 'main'], ['kubernetes-rolebinding', RB_TARGET], ['vault', READONLY]] as const) {
      const res = await exchange('api', kind, target);
      expect(res.status, kind).toBe(200);
      live[kind] = (await res.json()) as (typeof live)[string];
    }
    const liveRole = live.postgres!.fields.username!;
    const liveBinding = live['kubernetes-rolebinding']!.fields.name!;
    const liveLease = live.vault!.fields.lease_id!;
    expect(await stintRoles()).toEqual([liveRole]);
    expect(bindings()).toEqual([liveBinding]);
    expect(leases()).toEqual([liveLease]);

    // The fault: the grant write blocks behind a lock held by another connection.
    const locker = await server.connect({ database: 'stint' });
    clients.push(locker);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE grants IN ACCESS EXCLUSIVE MODE');
    const inFlight = [
      exchange('worker', 'postgres', 'main'),
      exchange('worker', 'kubernetes-rolebinding', RB_TARGET),
      exchange('worker', 'vault', READONLY),
    ].map((p) => p.then((r) => r.status, () => 'connection lost'));
    await until('the upstream objects and three blocked grant writes', async () => (await stintRoles()).length === 2 && bindings().length === 2 && leases().length === 2 && (await blockedStatements()) >= 3);
    const orphanRole = (await stintRoles()).find((r) => r !== liveRole)!;
    const orphanBinding = bindings().find((b) => b !== liveBinding)!;
    const orphanLease = leases().find((l) => l !== liveLease)!;

    service!.child.kill('SIGKILL');
    await new Promise((r) => (service!.child.exitCode !== null || service!.child.signalCode !== null ? r(null) : service!.child.once('exit', r)));
    // No client received the orphans' credentials: each request ended with the process.
    expect(await Promise.all(inFlight)).toEqual(['connection lost', 'connection lost', 'connection lost']);
    grpc?.close();
    // The server ends the dead client's blocked statements (client_connection_check_interval); then the lock goes.
    await until('the server to drop the dead client\'s statements', async () => (await blockedStatements()) === 0);
    await locker.query('ROLLBACK');

    // Nothing records them, and nothing removed them: the killed process had no chance to.
    expect(await stintRoles()).toContain(orphanRole);
    expect(bindings()).toContain(orphanBinding);
    expect(leases()).toContain(orphanLease);

    await start(true);
    const grants = await grantIds();
    expect(grants).toEqual(expect.arrayContaining(Object.values(live).map((l) => l.grant_id)));
    expect(grants).toHaveLength(3);

    await until('the reconciler to remove the three orphans', async () => !(await stintRoles()).includes(orphanRole) && !bindings().includes(orphanBinding) && !leases().includes(orphanLease));
    const removed = (await audit('reconcile.removed')).flatMap((e) => {
      expect(e.outcome).toBe('info');
      return e.data.removed as string[];
    });
    expect(removed).toEqual(expect.arrayContaining([`main/${orphanRole}`, `payments/${orphanBinding}`, orphanLease]));

    // The live grants' credentials are untouched: the role still logs in, the binding and lease stay.
    expect(await stintRoles()).toEqual([liveRole]);
    expect(bindings()).toEqual([liveBinding]);
    expect(leases()).toEqual([liveLease]);
    const session = await server.connect({ user: liveRole, password: live.postgres!.fields.password!, database: 'app' });
    clients.push(session);
    expect((await session.query('SELECT count(*)::int AS n FROM items')).rows[0]).toEqual({ n: 2 });
    expect(removed).not.toContain(`main/${liveRole}`);
  }, 180_000);
});
