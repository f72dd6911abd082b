/**
 * The reaper against a real SQLite store and a test provider whose upstream is an in-memory set of
 * objects that can be made to fail: expiry, reaping, retried revocation with backoff, stuck
 * grants, operator resolution, reconciliation with its grace window, and resumption after restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import type { CredentialProvider, GrantRef, LiveGrantCheck, ReconcileReport } from '../../src/credentials/provider.js';
import { UpstreamError } from '../../src/errors.js';
import { uuidv7 } from '../../src/ids.js';
import { Reaper } from '../../src/lifecycle/reaper.js';
import { AdminService } from '../../src/pipeline/admin.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite.js';
import type { Grant } from '../../src/store/store.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { FakeClock } from '../support/fake_clock.js';

/** An upstream holding one object per grant id; `failures` makes the next N removals fail. */
class TestUpstream implements CredentialProvider {
  readonly kind = 'test-upstream';
  readonly maxTtlSeconds = 3600;
  readonly requires = 'target' as const;
  readonly reapOnExpiry = true;
  readonly objects = new Map<string, number>();
  failures = 0;
  removals = 0;
  constructor(private readonly clock: FakeClock) {}
  async issue(): Promise<never> {
    throw new Error('not used');
  }
  create(grantId: string): void {
    this.objects.set(grantId, this.clock.now());
  }
  async revoke(g: GrantRef) {
    this.removals++;
    if (this.failures > 0) {
      this.failures--;
      throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', this.kind, 'ServiceUnavailable', 'upstream down');
    }
    this.objects.delete(g.id);
    return { effective: true };
  }
  async reconcile(isLive: LiveGrantCheck, now: number): Promise<ReconcileReport> {
    const removed: string[] = [];
    for (const [id, createdMs] of this.objects) {
      if (now * 1000 - createdMs < 300_000) continue;
      if (!(await isLive(id))) {
        this.objects.delete(id);
        removed.push(id);
      }
    }
    return { found: this.objects.size + removed.length, removed, failed: [] };
  }
}

let dir: string;
let store: SqliteStore;
let clock: FakeClock;
let upstream: TestUpstream;
let metrics: StintMetrics;

function reaperFor(s: SqliteStore): { reaper: Reaper; admin: AdminService; auditor: Auditor } {
  const logger = pino({ level: 'silent' });
  const auditor = new Auditor(s, logger, clock);
  const providers = { get: () => upstream, has: (k: string) => k === upstream.kind, all: () => [upstream] };
  const reaper = new Reaper({
    store: s,
    providers,
    auditor,
    metrics,
    clock,
    logger,
    settings: { initialBackoff: 10, maxBackoff: 80, stuckAfterAttempts: 3, reconcileInterval: 60 },
    random: () => 0.5,
  });
  return { reaper, auditor, admin: new AdminService({ store: s, auditor, reaper, clock }) };
}

const now = (): number => Math.floor(clock.now() / 1000);

async function issue(ttl: number): Promise<Grant> {
  const id = uuidv7(clock.now());
  const g: Grant = {
    id,
    identity: 'spiffe://t/ns/a/sa/b',
    attestor: 'k',
    issuer: 'i',
    rule: 'r',
    kind: upstream.kind,
    audience: null,
    target: 'db',
    issuedAt: now(),
    expiresAt: now() + ttl,
    state: 'active',
    revokedAt: null,
    revokedReason: null,
    revocationHandle: `db/${id}`,
    credentialFingerprint: 'sha256:0',
    cleanup: 'none',
    cleanupAttempts: 0,
    cleanupNextAt: null,
    cleanupError: null,
  };
  upstream.create(id);
  await store.recordIssuance([g], { id: uuidv7(), time: clock.now(), type: 'exchange.allowed', requestId: null, identity: g.identity, rule: 'r', outcome: 'allow', reason: null, grantIds: [id], data: {} });
  return g;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stint-reaper-'));
  store = openSqliteStore(join(dir, 'stint.db'));
  clock = new FakeClock();
  upstream = new TestUpstream(clock);
  metrics = new StintMetrics({ defaultMetrics: false });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reaping', () => {
  it('reaps an expired grant upstream and audits it', async () => {
    const { reaper } = reaperFor(store);
    const g = await issue(60);
    await reaper.run();
    expect(upstream.objects.has(g.id)).toBe(true);
    clock.advance(61_000);
    await reaper.run();
    expect(upstream.objects.has(g.id)).toBe(false);
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'reaped', cleanup: 'done' });
    const events = await store.queryAudit({ type: 'grant.reaped' });
    expect(events.map((e) => e.grantIds[0])).toEqual([g.id]);
  });

  it('retries a failing reap with capped exponential backoff, shows it stuck, then succeeds', async () => {
    const { reaper } = reaperFor(store);
    const g = await issue(10);
    upstream.failures = 5;
    clock.advance(11_000);
    const attemptsAt: number[] = [];
    for (let s = 0; s < 400; s++) {
      const before = upstream.removals;
      await reaper.run();
      if (upstream.removals > before) attemptsAt.push(now());
      clock.advance(1000);
    }
    // Gaps double (10, 20, 40) and cap at 80: backoff, not a hot loop.
    const gaps = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]!);
    expect(gaps.slice(0, 5)).toEqual([10, 20, 40, 80, 80]);
    expect(upstream.objects.has(g.id)).toBe(false);
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'reaped', cleanup: 'done', cleanupAttempts: 5 });
    expect((await store.queryAudit({ type: 'grant.cleanup_failed' })).length).toBe(5);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/stint_reaps_total\{provider="test-upstream",result="error"\} 5/);
    expect(text).toMatch(/stint_reaps_total\{provider="test-upstream",result="ok"\} 1/);
  });

  it('lists a grant whose cleanup keeps failing as stuck until an operator resolves it', async () => {
    const { reaper, admin } = reaperFor(store);
    const g = await issue(10);
    upstream.failures = 1000;
    clock.advance(11_000);
    for (let s = 0; s < 200; s++) {
      await reaper.run();
      clock.advance(1000);
    }
    const stuck = await admin.listGrants({ stuckAfterAttempts: 3 });
    expect(stuck.map((x) => x.id)).toEqual([g.id]);
    expect(stuck[0]).toMatchObject({ cleanup: 'pending', cleanupError: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(await metrics.registry.getSingleMetricAsString('stint_grants_stuck')).toMatch(/stint_grants_stuck 1/);
    await admin.resolveGrant(g.id, 'dropped by hand', 'ops');
    expect(await admin.listGrants({ stuckAfterAttempts: 1 })).toEqual([]);
    expect((await store.queryAudit({ type: 'grant.resolved' }))[0]).toMatchObject({ reason: 'dropped by hand', data: { actor: 'ops' } });
  });

  it('revokes inline, and when the upstream is down the reaper finishes the revocation later', async () => {
    const { reaper, admin } = reaperFor(store);
    const g = await issue(3600);
    upstream.failures = 1;
    const res = await admin.revokeGrant(g.id, 'incident', 'ops');
    expect(res.notes.join()).toMatch(/failed \(ERR_UPSTREAM_UNAVAILABLE\); the reaper retries it/);
    expect(upstream.objects.has(g.id)).toBe(true);
    clock.advance(15_000);
    await reaper.run();
    expect(upstream.objects.has(g.id)).toBe(false);
    expect(await store.getGrant(g.id)).toMatchObject({ state: 'revoked', cleanup: 'done' });
  });

  it('resumes pending cleanups after a restart: state lives in the store', async () => {
    const first = reaperFor(store);
    const g = await issue(10);
    upstream.failures = 1;
    clock.advance(11_000);
    await first.reaper.run();
    expect(upstream.objects.has(g.id)).toBe(true);
    await store.close();
    store = openSqliteStore(join(dir, 'stint.db'));
    const second = reaperFor(store);
    clock.advance(30_000);
    await second.reaper.run();
    expect(upstream.objects.has(g.id)).toBe(false);
  });
});

describe('reconciliation', () => {
  it('removes upstream objects no live grant accounts for, but never young ones or live ones', async () => {
    const { reaper } = reaperFor(store);
    const live = await issue(3600);
    const orphanOld = uuidv7(clock.now());
    upstream.create(orphanOld);
    clock.advance(400_000);
    const orphanYoung = uuidv7(clock.now());
    upstream.create(orphanYoung);
    await reaper.run();
    expect(upstream.objects.has(live.id)).toBe(true);
    expect(upstream.objects.has(orphanOld)).toBe(false);
    expect(upstream.objects.has(orphanYoung)).toBe(true);
    const [event] = await store.queryAudit({ type: 'reconcile.removed' });
    expect(event!.data).toMatchObject({ kind: 'test-upstream', removed: [orphanOld] });
  });
});
