/**
 * Upstream failures of the `postgres` provider, against a real PostgreSQL and real sockets:
 * refusals (wrong admin password, an admin without CREATEROLE, a role it may not grant) are
 * ERR_UPSTREAM_DENIED with the SQLSTATE; throttling (too many connections), an unreachable or
 * silent server are ERR_UPSTREAM_UNAVAILABLE with a retry hint; a server speaking something else
 * is ERR_UPSTREAM_BAD_RESPONSE. No error carries the admin URL or a password, and every failure
 * leaves the provider serving the next good request.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialProvider, GrantDraft, ProviderDeps } from '../../../src/credentials/provider.js';
import { createPostgresProviders, postgresProviderConfigSchema } from '../../../src/credentials/postgres.js';
import { UpstreamError } from '../../../src/errors.js';
import { uuidv7 } from '../../../src/ids.js';
import { createAppFixture, startEmbeddedPg, type AppFixture, type EmbeddedPg } from '../../support/embedded_pg.js';
import { FakeClock } from '../../support/fake_clock.js';
import { freePort } from '../../support/ports.js';
import { IDENTITY } from '../drafts.js';

let server: EmbeddedPg;
let fixture: AppFixture;
const clock = new FakeClock(Date.now());
const providers: CredentialProvider[] = [];
const sockets = new Set<Socket>();
const fakeServers: Server[] = [];
const upstreamCodes: string[] = [];

beforeAll(async () => {
  server = await startEmbeddedPg();
  fixture = await createAppFixture(server);
  await server.exec(`CREATE ROLE plain_admin LOGIN PASSWORD 'plain-admin-pw'; CREATE ROLE throttled_admin LOGIN CREATEROLE PASSWORD 'throttled-pw' CONNECTION LIMIT 0`);
});

afterAll(async () => {
  for (const p of providers) await p.close?.();
  for (const s of sockets) s.destroy();
  for (const s of fakeServers) s.close();
  await server?.stop();
});

const deps: ProviderDeps = {
  clock,
  issuer: 'https://stint.test',
  webIdentityToken: () => Promise.reject(new Error('not used')),
  onUpstreamCall: (_k, operation, outcome, _s, code) => {
    if (outcome === 'error') upstreamCodes.push(`${operation} ${code}`);
  },
};

let envCounter = 0;
/** A provider whose admin URL is `url` (through an environment variable, as in production). */
function providerFor(url: string, extra: Record<string, unknown> = {}): CredentialProvider {
  const env = `STINT_TEST_PG_URL_${++envCounter}`;
  process.env[env] = url;
  const config = postgresProviderConfigSchema.parse({
    databases: { main: { adminUrl: { env }, host: '127.0.0.1', port: server.port, database: 'app', connectTimeout: 1, statementTimeout: 2, ...extra } },
  });
  const p = createPostgresProviders(config, deps)[0]!;
  providers.push(p);
  return p;
}

function draft(memberOf: string[] = ['app_read']): GrantDraft {
  const now = Math.floor(clock.now() / 1000);
  return {
    id: uuidv7(clock.now()),
    identity: IDENTITY,
    rule: 'app-reads',
    granted: { request: { kind: 'postgres', target: 'main' }, kind: 'postgres', target: 'main', scopes: [], ttlSeconds: 300, ttlCapped: false, passClaims: {}, options: { memberOf } },
    issuedAt: now,
    expiresAt: now + 300,
  };
}

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamError);
  return err as UpstreamError;
}

/** No secret of `url` anywhere in the error. */
function expectNoSecrets(err: UpstreamError, url: string): void {
  const text = `${err.message} ${JSON.stringify(err.details)} ${String(err.stack)}`;
  expect(text).not.toContain(url);
  const password = new URL(url).password;
  if (password) expect(text).not.toContain(decodeURIComponent(password));
  expect(err.cause).toBeUndefined();
}

/** The provider of the fixture's admin still works (the process serves the next good request). */
async function expectNextGoodRequestWorks(): Promise<void> {
  const c = await good.issue(draft());
  const client = new pg.Client({ connectionString: c.fields.url });
  await client.connect();
  await client.end();
}

let good: CredentialProvider;
beforeAll(() => {
  good = providerFor(fixture.adminUrl);
});

/** A TCP server on loopback that does `onConnection` with each socket. */
async function tcpServer(onConnection: (s: Socket) => void): Promise<number> {
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    onConnection(s);
  });
  fakeServers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return (srv.address() as AddressInfo).port;
}

describe('upstream refusals: ERR_UPSTREAM_DENIED with the SQLSTATE', () => {
  it('a wrong admin password is 28P01', async () => {
    const url = server.url({ user: 'stint_admin', password: 'wrong-password-123', database: 'app' });
    const err = await failure(providerFor(url).issue(draft()));
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: '28P01', provider: 'postgres' });
    expect(err.mapping.grpc).toBe(7);
    expect(err.message).toContain('postgres main: create_role refused by PostgreSQL (SQLSTATE 28P01 invalid_password');
    expectNoSecrets(err, url);
    await expectNextGoodRequestWorks();
  });

  it('an admin without CREATEROLE is 42501', async () => {
    const url = server.url({ user: 'plain_admin', password: 'plain-admin-pw', database: 'app' });
    const err = await failure(providerFor(url).issue(draft([])));
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: '42501' });
    expectNoSecrets(err, url);
    await expectNextGoodRequestWorks();
  });

  it('a role the admin may not grant is 42501, an unknown role 42704, and nothing is left behind', async () => {
    for (const [role, code] of [
      ['app_write', '42501'],
      ['no_such_role', '42704'],
    ] as const) {
      const d = draft(['app_read', role]);
      const err = await failure(good.issue(d));
      expect(err).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: code });
      expectNoSecrets(err, fixture.adminUrl);
      const left = await server.exec(`SELECT 1 FROM pg_roles WHERE rolname = ${pg.escapeLiteral(`stint_${d.id.replace(/-/g, '')}`)}`);
      expect(left).toEqual([]);
    }
    expect(upstreamCodes).toContain('create_role 42704');
    await expectNextGoodRequestWorks();
  });

  it('a database that does not exist is 3D000', async () => {
    const url = server.url({ user: 'stint_admin', password: fixture.adminPassword, database: 'no_such_db' });
    const err = await failure(providerFor(url).issue(draft()));
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: '3D000' });
    expectNoSecrets(err, url);
  });
});

describe('upstream unavailable: ERR_UPSTREAM_UNAVAILABLE with retryAfterSeconds', () => {
  it('too many connections (throttled) is 53300, and the provider recovers when the limit is lifted', async () => {
    const url = server.url({ user: 'throttled_admin', password: 'throttled-pw', database: 'app' });
    const p = providerFor(url);
    const err = await failure(p.issue(draft([])));
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: '53300', details: { retryAfterSeconds: 10 } });
    expect(err.mapping.grpc).toBe(14);
    expectNoSecrets(err, url);
    await server.exec(`ALTER ROLE throttled_admin CONNECTION LIMIT -1`);
    await expect(p.issue(draft([]))).resolves.toMatchObject({ kind: 'postgres' });
  });

  it('a refused connection is unavailable, for issue, revoke and reconcile', async () => {
    const port = await freePort();
    const url = `postgresql://stint_admin:${encodeURIComponent(fixture.adminPassword)}@127.0.0.1:${port}/app`;
    const p = providerFor(url);
    const err = await failure(p.issue(draft()));
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'ECONNREFUSED', details: { retryAfterSeconds: 5 } });
    expectNoSecrets(err, url);
    const d = draft();
    const ref = { id: d.id, kind: 'postgres', identity: IDENTITY.id, target: 'main', audience: null, expiresAt: d.expiresAt, revocationHandle: `main/stint_${d.id.replace(/-/g, '')}` };
    await expect(p.revoke(ref)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    await expect(p.reconcile!(async () => false, Math.floor(clock.now() / 1000), async () => new Set())).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    await expectNextGoodRequestWorks();
  });

  it('a server that accepts and never answers times out (connectTimeout)', async () => {
    const port = await tcpServer(() => undefined);
    const url = `postgresql://stint_admin:secret-pw-silent@127.0.0.1:${port}/app`;
    const started = Date.now();
    const err = await failure(providerFor(url).issue(draft()));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(['ConnectTimeout', 'Timeout']).toContain(err.upstreamCode);
    expectNoSecrets(err, url);
    await expectNextGoodRequestWorks();
  });

  it('a statement blocked past statementTimeout is 57014, and the revoke succeeds once unblocked', async () => {
    const d = draft();
    const c = await good.issue(d);
    const role = c.fields.username!;
    const owner = new pg.Client({ connectionString: c.fields.url });
    await owner.connect();
    await owner.query('CREATE TABLE blocked_by_lock (id int)');
    await owner.end();
    // Another session (not the role's, so not terminated) holds a lock REASSIGN OWNED needs.
    const blocker = await server.connect({ database: 'app' });
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE blocked_by_lock IN ACCESS EXCLUSIVE MODE');
    const ref = { id: d.id, kind: 'postgres', identity: IDENTITY.id, target: 'main', audience: null, expiresAt: d.expiresAt, revocationHandle: `main/${role}` };
    const started = Date.now();
    const err = await failure(good.revoke(ref));
    expect(Date.now() - started).toBeLessThan(6000);
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: '57014', details: { retryAfterSeconds: 5 } });
    // Logins were already refused (NOLOGIN is committed before the drop transaction).
    const late = new pg.Client({ connectionString: c.fields.url });
    await expect(late.connect()).rejects.toMatchObject({ code: '28000' });
    await blocker.query('ROLLBACK');
    await blocker.end();
    expect(await good.revoke(ref)).toMatchObject({ effective: true, note: `role ${role} dropped` });
    expect(await server.exec(`SELECT tableowner FROM pg_tables WHERE tablename = 'blocked_by_lock'`, 'app')).toEqual([{ tableowner: 'stint_admin' }]);
  });

  it('a pooled admin connection that dies under a call is retried once on a fresh connection', async () => {
    // A loopback proxy in front of the real server that can cut the connections open so far.
    const live = new Set<Socket>();
    let cutOnNextWrite = false;
    const port = await tcpServer((client) => {
      const upstream = connect(server.port, '127.0.0.1');
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      live.add(client);
      client.on('data', (chunk) => {
        if (cutOnNextWrite && live.has(client)) {
          cutOnNextWrite = false;
          client.destroy();
          return;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => client.write(chunk));
    });
    const p = providerFor(`postgresql://stint_admin:${encodeURIComponent(fixture.adminPassword)}@127.0.0.1:${port}/app`);
    await p.issue(draft());
    // The pooled connection is idle; the next statement sent on it kills it, as a server crash would.
    cutOnNextWrite = true;
    const c = await p.issue(draft());
    expect(cutOnNextWrite).toBe(false);
    const client = new pg.Client({ connectionString: c.fields.url });
    await client.connect();
    await client.end();
  });

  it('a pooled admin connection the server terminated is replaced transparently', async () => {
    await expectNextGoodRequestWorks();
    await server.exec(`SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = 'stint_admin'`);
    await expectNextGoodRequestWorks();
  });
});

describe('malformed replies: ERR_UPSTREAM_BAD_RESPONSE', () => {
  it('a server answering the startup message with an unknown message type', async () => {
    const port = await tcpServer((s) => {
      s.once('data', () => s.write(Buffer.from([0x71, 0, 0, 0, 4])));
    });
    const url = `postgresql://stint_admin:secret-pw-garbage@127.0.0.1:${port}/app`;
    const err = await failure(providerFor(url).issue(draft()));
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_BAD_RESPONSE', upstreamCode: 'ProtocolError' });
    expect(err.mapping.grpc).toBe(14);
    expectNoSecrets(err, url);
    await expectNextGoodRequestWorks();
  });
});
