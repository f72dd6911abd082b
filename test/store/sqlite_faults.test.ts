/**
 * Faults of the SQLite store, each with defined behaviour: another process holding the database
 * lock never freezes the event loop (the write is retried asynchronously and refused with
 * ERR_UNAVAILABLE at its lock deadline, then succeeds once the lock is gone); a full database is
 * ERR_UNAVAILABLE with a clear message while reads keep working and writes resume when space is
 * freed (made full for real with `max_page_count`); `synchronous: full` is honoured.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { StintError } from '../../src/errors.js';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite.js';
import { makeEvent, makeGrant, makeKey } from './contract.js';

const dirs: string[] = [];
const stores: SqliteStore[] = [];
const others: Database.Database[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const d of others.splice(0)) if (d.open) d.close();
  for (const s of stores.splice(0)) await s.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stint-sqlite-faults-'));
  dirs.push(dir);
  return join(dir, 'stint.db');
}

function open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const s = openSqliteStore(path, options);
  stores.push(s);
  return s;
}

/** A second connection (as another process would hold) taking the write lock. */
function holdWriteLock(path: string): Database.Database {
  const other = new Database(path);
  others.push(other);
  other.exec('BEGIN IMMEDIATE');
  return other;
}

/** A /healthz endpoint on loopback, answered by this process's event loop. */
async function healthz(): Promise<() => Promise<number>> {
  const server = createServer((_req, res) => res.end('ok'));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return () =>
    new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', reject);
    });
}

/** Track a promise's settlement without awaiting it. */
function watch<T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  const promise = p.finally(() => {
    done = true;
  });
  promise.catch(() => undefined);
  return { settled: () => done, promise };
}

describe('SQLite store: a database locked by another connection', () => {
  it('keeps the event loop answering probes while writes wait, and writes once the lock is released', async () => {
    const path = dbPath();
    const store = open(path, { lockTimeoutMs: 60_000 });
    const existing = makeGrant();
    await store.recordIssuance([existing], makeEvent({ grantIds: [existing.id] }));
    const probe = await healthz();

    const other = holdWriteLock(path);
    const g = makeGrant();
    const issuance = watch(store.recordIssuance([g], makeEvent({ grantIds: [g.id] })));
    const revoke = watch(store.revokeGrant(existing.id, 1_900_000_100, 'compromised'));
    // The probes are answered while both writes still wait for the lock: nothing blocks the loop.
    for (let i = 0; i < 3; i++) expect(await probe()).toBe(200);
    expect(issuance.settled()).toBe(false);
    expect(revoke.settled()).toBe(false);

    other.exec('COMMIT');
    await issuance.promise;
    expect(await revoke.promise).toMatchObject({ id: existing.id, state: 'revoked' });
    expect(await store.getGrant(g.id)).toEqual(g);
  });

  it('refuses writes with ERR_UNAVAILABLE at the lock deadline while reads keep working, then writes after the release', async () => {
    const path = dbPath();
    const store = open(path, { lockTimeoutMs: 200 });
    const existing = makeGrant();
    await store.recordIssuance([existing], makeEvent({ grantIds: [existing.id] }));
    const probe = await healthz();

    const other = holdWriteLock(path);
    const issuance = watch(store.recordIssuance([makeGrant()], makeEvent()));
    const revoke = watch(store.revokeGrant(existing.id, 1_900_000_100, 'x'));
    expect(await probe()).toBe(200);
    // The lock is still held: the refusals come from the deadline, not from the lock going away.
    await expect(issuance.promise).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE', details: { sqlite: 'SQLITE_BUSY' } });
    await expect(revoke.promise).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE', details: { sqlite: 'SQLITE_BUSY' } });
    expect(other.inTransaction).toBe(true);
    // WAL readers are not blocked by the writer's lock.
    expect(await store.getGrant(existing.id)).toEqual(existing);

    other.exec('COMMIT');
    const g = makeGrant();
    await store.recordIssuance([g], makeEvent({ grantIds: [g.id] }));
    expect(await store.getGrant(g.id)).toEqual(g);
    expect(await store.revokeGrant(existing.id, 1_900_000_100, 'x')).toMatchObject({ state: 'revoked' });
  });
});

describe('SQLite store: a full database', () => {
  it('refuses a write with ERR_UNAVAILABLE naming the full store, keeps reading, and writes again once space is freed', async () => {
    const store = open(dbPath(), { maxPageCount: 64 });
    const big = makeKey({ kid: 'big', privateJwk: 'x'.repeat(60_000) });
    await store.putKey(big);
    const first = makeGrant();
    await store.recordIssuance([first], makeEvent({ grantIds: [first.id] }));

    let failure: unknown;
    for (let i = 0; i < 5000 && failure === undefined; i++) {
      const g = makeGrant();
      await store.recordIssuance([g], makeEvent({ grantIds: [g.id], data: { pad: 'p'.repeat(500) } })).catch((e: unknown) => {
        failure = e;
      });
    }
    expect(failure).toBeInstanceOf(StintError);
    expect(failure).toMatchObject({ code: 'ERR_UNAVAILABLE', details: { sqlite: 'SQLITE_FULL' } });
    expect((failure as StintError).message).toMatch(/store full/);
    await expect(store.putKey(makeKey({ kid: 'another-big', privateJwk: 'y'.repeat(60_000) }))).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });

    expect(await store.getGrant(first.id)).toEqual(first);
    await store.deleteKey(big.kid);
    const g = makeGrant();
    await store.recordIssuance([g], makeEvent({ grantIds: [g.id] }));
    expect(await store.getGrant(g.id)).toEqual(g);
  });
});

describe('SQLite store: synchronous', () => {
  it('is normal by default and full on request, and writes either way', async () => {
    expect(open(dbPath()).synchronous()).toBe('normal');
    const full = open(dbPath(), { synchronous: 'full' });
    expect(full.synchronous()).toBe('full');
    const g = makeGrant();
    await full.recordIssuance([g], makeEvent({ grantIds: [g.id] }));
    expect(await full.getGrant(g.id)).toEqual(g);
  });
});
