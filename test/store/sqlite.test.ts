import { mkdtempSync, rmSync, statSync, existsSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StintError } from '../../src/errors.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite_schema.js';
import { describeStoreContract, makeEvent, makeGrant, makeKey } from './contract.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'stint-sqlite-'));
}

describeStoreContract('sqlite', async () => {
  const dir = tempDir();
  const path = join(dir, 'db', 'stint.db');
  const opened: SqliteStore[] = [openSqliteStore(path)];
  return {
    store: opened[0]!,
    reopen: async () => {
      const s = openSqliteStore(path);
      opened.push(s);
      return s;
    },
    cleanup: async () => {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeStoreContract('sqlite :memory:', async () => {
  const store = openSqliteStore(':memory:');
  return { store, cleanup: () => store.close() };
});

describe('SQLite store files', () => {
  const dirs: string[] = [];
  const stores: SqliteStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function open(path: string): SqliteStore {
    const s = openSqliteStore(path);
    stores.push(s);
    return s;
  }
  function mode(path: string): number {
    return statSync(path).mode & 0o777;
  }

  it('creates the directory 0700 and the database, -wal and -shm files 0600', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'state', 'nested', 'stint.db');
    const store = open(path);
    await store.putKey(makeKey());
    expect(mode(join(dir, 'state'))).toBe(0o700);
    expect(mode(join(dir, 'state', 'nested'))).toBe(0o700);
    for (const f of [path, `${path}-wal`, `${path}-shm`]) {
      expect(existsSync(f), f).toBe(true);
      expect(mode(f), f).toBe(0o600);
    }
  });

  it('tightens an existing database file that was too open', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'stint.db');
    await open(path).close();
    chmodSync(path, 0o644);
    open(path);
    expect(mode(path)).toBe(0o600);
    expect(mode(`${path}-wal`)).toBe(0o600);
    expect(mode(`${path}-shm`)).toBe(0o600);
  });

  it('uses WAL, synchronous=NORMAL and a busy timeout, and records the schema version', () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'stint.db');
    const store = open(path);
    expect(store.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
    expect(store.path).toBe(path);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
    } finally {
      db.close();
    }
  });

  it('refuses a database whose schema is newer than this build', () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'stint.db');
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_MIGRATIONS.length + 1}`);
    db.close();
    let error: unknown;
    try {
      open(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StintError);
    expect((error as StintError).code).toBe('ERR_CONFIG_INVALID');
  });

  it('refuses a file that is not a database with ERR_UNAVAILABLE', () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'stint.db');
    writeFileSync(path, 'this is not a sqlite database, just some text long enough to have a header'.repeat(10));
    expect(() => open(path)).toThrow(expect.objectContaining({ code: 'ERR_UNAVAILABLE' }));
  });

  it('refuses a path it cannot create with ERR_UNAVAILABLE', () => {
    const dir = tempDir();
    dirs.push(dir);
    const blocker = join(dir, 'file');
    writeFileSync(blocker, '');
    expect(() => open(join(blocker, 'stint.db'))).toThrow(expect.objectContaining({ code: 'ERR_UNAVAILABLE' }));
  });

  it('rejects calls after close with ERR_UNAVAILABLE', async () => {
    const store = open(':memory:');
    await store.close();
    await expect(store.getGrant('x')).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });
  });

  it('group-commits concurrent issuances and reports the cost', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const store = open(join(dir, 'stint.db'));
    const item = () => {
      const g = makeGrant();
      return { g, ev: makeEvent({ grantIds: [g.id], data: { claims: { sub: 'system:serviceaccount:default:app' }, fp: 'sha256:0011223344556677' } }) };
    };
    const measure = async (n: number, lanes: number): Promise<number> => {
      const items = Array.from({ length: n }, item);
      let i = 0;
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: lanes }, async () => {
          while (i < n) {
            const { g, ev } = items[i++]!;
            await store.recordIssuance([g], ev);
          }
        }),
      );
      return Number(process.hrtime.bigint() - started) / 1000 / n;
    };
    await measure(200, 1);
    const sequential = await measure(1000, 1);
    const concurrent = await measure(4000, 32);
    console.log(`sqlite recordIssuance: ${sequential.toFixed(1)} µs sequential, ${concurrent.toFixed(1)} µs per issuance with 32 in flight`);
    // Generous bounds: they catch an fsync per commit, not scheduler noise on a shared machine.
    expect(sequential).toBeLessThan(2000);
    expect(concurrent).toBeLessThan(1000);
    expect(await store.countActiveGrants(0)).toBe(5200);
  });

  it('still commits when a test fakes the global timers', async () => {
    const store = open(':memory:');
    vi.useFakeTimers();
    try {
      const g = makeGrant();
      await store.recordIssuance([g], makeEvent({ grantIds: [g.id] }));
      expect(await store.getGrant(g.id)).toEqual(g);
    } finally {
      vi.useRealTimers();
    }
  });

  it('checkpoints the WAL in the background', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'stint.db');
    const store = open(path);
    for (let i = 0; i < 50; i++) await store.recordIssuance([makeGrant()], makeEvent());
    await new Promise((r) => setTimeout(r, 1500));
    const reader = new Database(path, { readonly: true });
    try {
      const [row] = reader.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
      expect(row!.checkpointed).toBe(row!.log);
      expect(statSync(path).size).toBeGreaterThan(4096 * 5);
    } finally {
      reader.close();
    }
  });
});
