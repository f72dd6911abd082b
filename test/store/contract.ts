/**
 * The Store contract: every Store implementation (SQLite, PostgreSQL) runs this suite.
 *
 * Ordering contract: listGrants returns the most recently recorded grant first; queryAudit returns
 * newest time first, ties going to the one recorded last; listKeys returns oldest createdAt first.
 * A store refuses an audit event whose outcome is not allow/deny/error/info (a CHECK constraint):
 * the atomicity tests use that to make the audit insert fail after the grants were inserted.
 *
 * Harness contract: `open()` gives a fresh, empty store. `reopen()` (optional) is called after the
 * suite has closed `store` and returns a new Store over the same data. `cleanup()` closes whatever
 * the harness still has open (close() is idempotent) and removes the data.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StintError } from '../../src/errors.js';
import type { AuditEvent, Grant, Store, StoredKey } from '../../src/store/store.js';

/** What a Store harness provides to the contract suite. */
export interface StoreHarness {
  store: Store;
  reopen?: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

const T0 = 1_900_000_000; // epoch seconds

/** A grant with sensible defaults. */
export function makeGrant(overrides: Partial<Grant> = {}): Grant {
  return {
    id: randomUUID(),
    identity: 'spiffe://stint.local/ns/default/sa/app',
    attestor: 'kubernetes',
    issuer: 'https://kubernetes.default.svc',
    rule: 'app-reads',
    kind: 'stint-jwt',
    audience: 'https://api.example.com',
    target: null,
    issuedAt: T0,
    expiresAt: T0 + 900,
    state: 'active',
    revokedAt: null,
    revokedReason: null,
    revocationHandle: null,
    credentialFingerprint: 'sha256:0123456789abcdef',
    cleanup: 'none',
    cleanupAttempts: 0,
    cleanupNextAt: null,
    cleanupError: null,
    ...overrides,
  };
}

/** An audit event with sensible defaults. */
export function makeEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: randomUUID(),
    time: T0 * 1000,
    type: 'exchange.allowed',
    requestId: randomUUID(),
    identity: 'spiffe://stint.local/ns/default/sa/app',
    rule: 'app-reads',
    outcome: 'allow',
    reason: 'RULE_MATCHED',
    grantIds: [],
    data: {},
    ...overrides,
  };
}

/** A stored key with sensible defaults. */
export function makeKey(overrides: Partial<StoredKey> = {}): StoredKey {
  return {
    kid: randomUUID(),
    alg: 'ES256',
    privateJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }),
    publicJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }),
    state: 'current',
    createdAt: T0,
    activatedAt: T0,
    retiredAt: null,
    publishUntil: null,
    ...overrides,
  };
}

/** Define the Store contract suite for one implementation. */
export function describeStoreContract(name: string, open: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      h = await open();
      store = h.store;
    });
    afterEach(async () => {
      await store.close();
      await h.cleanup();
    });

    describe('grants', () => {
      it('round-trips every field of a grant, nulls included', async () => {
        const a = makeGrant({ audience: null, target: 'arn:aws:iam::123456789012:role/deploy', revocationHandle: 'lease/1', kind: 'aws-sts' });
        const b = makeGrant({ identity: 'spiffe://stint.local/ns/ünïcode/sa/日本', rule: 'r"quoted\'' });
        await store.recordIssuance([a, b], makeEvent({ grantIds: [a.id, b.id] }));
        expect(await store.getGrant(a.id)).toEqual(a);
        expect(await store.getGrant(b.id)).toEqual(b);
      });

      it('returns null for an unknown grant', async () => {
        expect(await store.getGrant('no-such-grant')).toBeNull();
      });

      it('records an issuance with no grants (the event only)', async () => {
        const ev = makeEvent();
        await store.recordIssuance([], ev);
        expect(await store.queryAudit()).toEqual([ev]);
      });

      it('lists grants latest recorded first, by identity, by state, both, and with a limit', async () => {
        const alice = 'spiffe://stint.local/ns/a/sa/alice';
        const bob = 'spiffe://stint.local/ns/b/sa/bob';
        const g1 = makeGrant({ identity: alice, issuedAt: T0 + 1, expiresAt: T0 + 901 });
        const g2 = makeGrant({ identity: bob, issuedAt: T0 + 2, expiresAt: T0 + 902 });
        const g3 = makeGrant({ identity: alice, issuedAt: T0 + 3, expiresAt: T0 + 903, state: 'revoked', revokedAt: T0 + 4, revokedReason: 'x' });
        const g4 = makeGrant({ identity: alice, issuedAt: T0 + 4, expiresAt: T0 + 904 });
        await store.recordIssuance([g1, g2], makeEvent());
        await store.recordIssuance([g3], makeEvent());
        await store.recordIssuance([g4], makeEvent());

        expect(ids(await store.listGrants())).toEqual(ids([g4, g3, g2, g1]));
        expect(ids(await store.listGrants({}))).toEqual(ids([g4, g3, g2, g1]));
        expect(ids(await store.listGrants({ identity: alice }))).toEqual(ids([g4, g3, g1]));
        expect(ids(await store.listGrants({ state: 'active' }))).toEqual(ids([g4, g2, g1]));
        expect(ids(await store.listGrants({ identity: alice, state: 'active' }))).toEqual(ids([g4, g1]));
        expect(ids(await store.listGrants({ identity: alice, state: 'revoked' }))).toEqual(ids([g3]));
        expect(ids(await store.listGrants({ limit: 2 }))).toEqual(ids([g4, g3]));
        expect(ids(await store.listGrants({ identity: alice, limit: 1 }))).toEqual(ids([g4]));
        expect(await store.listGrants({ identity: 'spiffe://stint.local/ns/a/sa/ALICE' })).toEqual([]);
      });

      it('orders by recording, not by issuedAt or id', async () => {
        const a = makeGrant({ id: 'c', issuedAt: T0 + 2 });
        const b = makeGrant({ id: 'a', issuedAt: T0 });
        const c = makeGrant({ id: 'b', issuedAt: T0 + 1 });
        await store.recordIssuance([a], makeEvent());
        await store.recordIssuance([b], makeEvent());
        await store.recordIssuance([c], makeEvent());
        expect(ids(await store.listGrants())).toEqual(ids([c, b, a]));
      });
    });

    describe('revocation', () => {
      it('revokes an active grant and keeps the first revokedAt on a second revocation', async () => {
        const g = makeGrant();
        await store.recordIssuance([g], makeEvent());
        const first = await store.revokeGrant(g.id, T0 + 10, 'compromised');
        expect(first).toEqual({ ...g, state: 'revoked', revokedAt: T0 + 10, revokedReason: 'compromised', cleanup: 'pending', cleanupNextAt: T0 + 70 });
        const second = await store.revokeGrant(g.id, T0 + 20, 'again');
        expect(second).toEqual(first);
        expect(await store.getGrant(g.id)).toEqual(first);
      });

      it('returns null when revoking an unknown grant', async () => {
        expect(await store.revokeGrant('no-such-grant', T0, 'x')).toBeNull();
      });

      it('returns an expired grant unchanged', async () => {
        const g = makeGrant({ expiresAt: T0 + 5 });
        await store.recordIssuance([g], makeEvent());
        await store.expireGrants(T0 + 5);
        expect(await store.revokeGrant(g.id, T0 + 6, 'late')).toEqual({ ...g, state: 'expired', cleanup: 'pending', cleanupNextAt: T0 + 5 });
      });

      it('revokes every active grant of one identity and nothing else', async () => {
        const alice = 'spiffe://stint.local/ns/a/sa/alice';
        const a1 = makeGrant({ identity: alice });
        const a2 = makeGrant({ identity: alice, expiresAt: T0 - 1 }); // active though past expiry: still revoked
        const a3 = makeGrant({ identity: alice, state: 'revoked', revokedAt: T0 + 1, revokedReason: 'earlier' });
        const b1 = makeGrant({ identity: 'spiffe://stint.local/ns/b/sa/bob' });
        await store.recordIssuance([a1, a2, a3, b1], makeEvent());

        const revoked = await store.revokeIdentity(alice, T0 + 30, 'identity compromised');
        expect(ids(revoked).sort()).toEqual(ids([a1, a2]).sort());
        for (const g of revoked) {
          expect(g).toMatchObject({ state: 'revoked', revokedAt: T0 + 30, revokedReason: 'identity compromised' });
        }
        expect(await store.getGrant(a3.id)).toEqual(a3);
        expect(await store.getGrant(b1.id)).toEqual(b1);
        expect(await store.revokeIdentity(alice, T0 + 40, 'again')).toEqual([]);
        expect(await store.revokeIdentity('spiffe://stint.local/ns/x/sa/nobody', T0, 'x')).toEqual([]);
      });
    });

    describe('cleanup (reaping and retried revocation)', () => {
      it('marks expired grants pending cleanup, due now, and reaped once cleaned up', async () => {
        const g = makeGrant({ expiresAt: T0 + 10 });
        await store.recordIssuance([g], makeEvent());
        await store.expireGrants(T0 + 10);
        expect(ids(await store.dueCleanups(T0 + 10, 10))).toEqual([g.id]);
        const done = await store.recordCleanup(g.id, { ok: true, at: T0 + 11 });
        expect(done).toMatchObject({ state: 'reaped', cleanup: 'done', cleanupNextAt: null });
        expect(await store.dueCleanups(T0 + 1000, 10)).toEqual([]);
      });

      it('schedules a failed cleanup for later, counts attempts and lists it as stuck past the threshold', async () => {
        const g = makeGrant({ expiresAt: T0 + 10 });
        await store.recordIssuance([g], makeEvent());
        await store.expireGrants(T0 + 10);
        await store.recordCleanup(g.id, { ok: false, at: T0 + 10, error: 'ERR_UPSTREAM_UNAVAILABLE', nextAt: T0 + 20 });
        expect(await store.dueCleanups(T0 + 19, 10)).toEqual([]);
        expect(ids(await store.dueCleanups(T0 + 20, 10))).toEqual([g.id]);
        const again = await store.recordCleanup(g.id, { ok: false, at: T0 + 20, error: 'ERR_UPSTREAM_DENIED', nextAt: T0 + 40 });
        expect(again).toMatchObject({ cleanup: 'pending', cleanupAttempts: 2, cleanupError: 'ERR_UPSTREAM_DENIED', state: 'expired' });
        expect(ids(await store.listGrants({ stuckAfterAttempts: 2 }))).toEqual([g.id]);
        expect(await store.countStuckGrants(2)).toBe(1);
        expect(await store.countStuckGrants(3)).toBe(0);
        expect(await store.listGrants({ stuckAfterAttempts: 3 })).toEqual([]);
        const resolved = await store.resolveCleanup(g.id);
        expect(resolved).toMatchObject({ cleanup: 'resolved' });
        expect(await store.listGrants({ stuckAfterAttempts: 1 })).toEqual([]);
        expect(await store.dueCleanups(T0 + 1000, 10)).toEqual([]);
      });

      it('lists the revocation handles of live grants of a kind: active and unexpired, or cleanup pending', async () => {
        const live = makeGrant({ kind: 'vault', revocationHandle: 'lease/live' });
        const expiredPending = makeGrant({ kind: 'vault', revocationHandle: 'lease/pending', expiresAt: T0 + 5 });
        const otherKind = makeGrant({ kind: 'postgres', revocationHandle: 'main/role' });
        await store.recordIssuance([live, expiredPending, otherKind], makeEvent());
        await store.expireGrants(T0 + 5);
        expect((await store.liveRevocationHandles('vault', T0 + 5)).sort()).toEqual(['lease/live', 'lease/pending']);
        await store.recordCleanup(expiredPending.id, { ok: true, at: T0 + 6 });
        expect(await store.liveRevocationHandles('vault', T0 + 6)).toEqual(['lease/live']);
      });

      it('extends an active grant on renewal, and nothing else', async () => {
        const g = makeGrant({ expiresAt: T0 + 100 });
        await store.recordIssuance([g], makeEvent());
        expect(await store.extendGrant(g.id, T0 + 500)).toMatchObject({ id: g.id, expiresAt: T0 + 500, state: 'active' });
        await store.revokeGrant(g.id, T0 + 1, 'x');
        expect(await store.extendGrant(g.id, T0 + 900)).toBeNull();
        expect(await store.extendGrant('unknown', T0 + 900)).toBeNull();
      });

      it('claims due cleanups oldest due first for a lease, and never hands one out twice', async () => {
        const early = makeGrant({ expiresAt: T0 + 5 });
        const late = makeGrant({ expiresAt: T0 + 8 });
        const notDue = makeGrant({ expiresAt: T0 + 100 });
        await store.recordIssuance([late, notDue, early], makeEvent());
        await store.expireGrants(T0 + 10);
        expect(await store.claimCleanups(T0 + 4, 10, 300)).toEqual([]);
        // Expired at T0 + 10: both due then; ties go to the one recorded first.
        const claimed = await store.claimCleanups(T0 + 10, 1, 300);
        expect(ids(claimed)).toEqual([late.id]);
        expect(claimed[0]).toMatchObject({ state: 'expired', cleanup: 'pending', cleanupNextAt: T0 + 310 });
        expect(ids(await store.claimCleanups(T0 + 10, 10, 300))).toEqual([early.id]);
        expect(await store.claimCleanups(T0 + 309, 10, 300)).toEqual([]);
        expect(ids(await store.dueCleanups(T0 + 310, 10))).toEqual([late.id, early.id]);
        // A settled cleanup is not claimed again; an unsettled one comes back once its lease has run out.
        await store.recordCleanup(late.id, { ok: true, at: T0 + 11 });
        expect(ids(await store.claimCleanups(T0 + 310, 10, 300))).toEqual([early.id]);
      });

      it('splits concurrent claims: each due grant goes to exactly one claimer', async () => {
        const grants = Array.from({ length: 12 }, (_, i) => makeGrant({ expiresAt: T0 + i }));
        await store.recordIssuance(grants, makeEvent());
        await store.expireGrants(T0 + 20);
        const claims = await Promise.all([1, 2, 3, 4].map(() => store.claimCleanups(T0 + 20, 4, 60)));
        const all = claims.flatMap(ids);
        expect(all.sort()).toEqual(ids(grants).sort());
        expect(await store.claimCleanups(T0 + 20, 100, 60)).toEqual([]);
      });

      it('keeps a revoked grant revoked when its cleanup completes', async () => {
        const g = makeGrant();
        await store.recordIssuance([g], makeEvent());
        await store.revokeGrant(g.id, T0, 'x');
        expect(await store.dueCleanups(T0 + 59, 10)).toEqual([]);
        expect(ids(await store.dueCleanups(T0 + 60, 10))).toEqual([g.id]);
        expect(await store.recordCleanup(g.id, { ok: true, at: T0 + 1 })).toMatchObject({ state: 'revoked', cleanup: 'done' });
      });
    });

    describe('expiry', () => {
      it('expires active grants with expiresAt <= now, once', async () => {
        const past = makeGrant({ expiresAt: T0 + 100 });
        const boundary = makeGrant({ expiresAt: T0 + 200 });
        const future = makeGrant({ expiresAt: T0 + 201 });
        const revoked = makeGrant({ expiresAt: T0 + 50, state: 'revoked', revokedAt: T0 + 10, revokedReason: 'x' });
        await store.recordIssuance([past, boundary, future, revoked], makeEvent());

        expect(await store.countActiveGrants(T0)).toBe(3);
        const expired = await store.expireGrants(T0 + 200);
        expect(ids(expired).sort()).toEqual(ids([past, boundary]).sort());
        for (const g of expired) expect(g.state).toBe('expired');
        expect((await store.getGrant(past.id))?.state).toBe('expired');
        expect(await store.getGrant(future.id)).toEqual(future);
        expect(await store.getGrant(revoked.id)).toEqual(revoked);
        expect(await store.expireGrants(T0 + 200)).toEqual([]);
        expect(await store.countActiveGrants(T0 + 200)).toBe(1);
      });

      it('counts only active grants not yet past expiry', async () => {
        await store.recordIssuance(
          [makeGrant({ expiresAt: T0 + 10 }), makeGrant({ expiresAt: T0 + 20 }), makeGrant({ expiresAt: T0 + 30, state: 'reaped' })],
          makeEvent(),
        );
        expect(await store.countActiveGrants(T0)).toBe(2);
        expect(await store.countActiveGrants(T0 + 10)).toBe(1);
        expect(await store.countActiveGrants(T0 + 20)).toBe(0);
      });
    });

    describe('audit', () => {
      it('round-trips an event, nested data and grant ids included', async () => {
        const g = makeGrant();
        const ev = makeEvent({
          grantIds: [g.id],
          data: { claims: { sub: 'repo:o/r', n: 1, ok: true, none: null, list: [1, 'two', { three: 3 }] }, fp: 'sha256:00', text: 'ünïcode ✓' },
        });
        await store.recordIssuance([g], ev);
        const deny = makeEvent({ type: 'exchange.denied', outcome: 'deny', reason: 'NO_RULE_MATCHED', rule: null, requestId: null, identity: null });
        await store.appendAudit(deny);
        const all = await store.queryAudit();
        expect(all).toHaveLength(2);
        expect(all).toContainEqual(ev);
        expect(all).toContainEqual(deny);
      });

      it('orders newest time first, and same-time events latest recorded first', async () => {
        const e1 = makeEvent({ time: T0 * 1000 + 1 });
        const e2 = makeEvent({ time: T0 * 1000 + 3 });
        const e3 = makeEvent({ time: T0 * 1000 + 2 });
        const e4 = makeEvent({ time: T0 * 1000 + 3 });
        for (const e of [e1, e2, e3, e4]) await store.appendAudit(e);
        expect(ids(await store.queryAudit())).toEqual(ids([e4, e2, e3, e1]));
      });

      it('filters by since (inclusive), identity, type, grant id, and limits', async () => {
        const alice = 'spiffe://stint.local/ns/a/sa/alice';
        const bob = 'spiffe://stint.local/ns/b/sa/bob';
        const g1 = makeGrant({ identity: alice });
        const g2 = makeGrant({ identity: alice });
        const e1 = makeEvent({ time: 1000, identity: alice, grantIds: [g1.id, g2.id] });
        const e2 = makeEvent({ time: 2000, identity: bob, type: 'exchange.denied', outcome: 'deny' });
        const e3 = makeEvent({ time: 3000, identity: alice, type: 'grant.revoked', outcome: 'info', grantIds: [g1.id] });
        const e4 = makeEvent({ time: 4000, identity: null, type: 'key.created', outcome: 'info', data: { kid: 'k1' } });
        await store.recordIssuance([g1, g2], e1);
        await store.appendAudit(e2);
        await store.appendAudit(e3);
        await store.appendAudit(e4);

        expect(ids(await store.queryAudit({ since: 2000 }))).toEqual(ids([e4, e3, e2]));
        expect(ids(await store.queryAudit({ since: 4001 }))).toEqual([]);
        expect(ids(await store.queryAudit({ identity: alice }))).toEqual(ids([e3, e1]));
        expect(ids(await store.queryAudit({ type: 'exchange.denied' }))).toEqual(ids([e2]));
        expect(ids(await store.queryAudit({ grantId: g1.id }))).toEqual(ids([e3, e1]));
        expect(ids(await store.queryAudit({ grantId: g2.id }))).toEqual(ids([e1]));
        expect(ids(await store.queryAudit({ grantId: 'unknown' }))).toEqual([]);
        expect(ids(await store.queryAudit({ identity: alice, since: 2000 }))).toEqual(ids([e3]));
        expect(ids(await store.queryAudit({ identity: alice, type: 'exchange.allowed', grantId: g1.id }))).toEqual(ids([e1]));
        expect(ids(await store.queryAudit({ limit: 2 }))).toEqual(ids([e4, e3]));
        expect(ids(await store.queryAudit({ identity: alice, limit: 1 }))).toEqual(ids([e3]));
      });

      it('finds the events of one request id, and one event by its id, among many', async () => {
        const request = 'req-0196-explain-me';
        const decision = makeEvent({ time: 1000, requestId: request, type: 'exchange.denied', outcome: 'deny' });
        const shadow = makeEvent({ time: 1000, requestId: request, type: 'policy.shadow_disagreement', outcome: 'info' });
        const others = Array.from({ length: 20 }, (_, i) => makeEvent({ time: 2000 + i }));
        for (const e of [decision, shadow, ...others]) await store.appendAudit(e);
        expect(ids(await store.queryAudit({ requestId: request }))).toEqual(ids([shadow, decision]));
        expect(ids(await store.queryAudit({ requestId: request, type: 'exchange.denied' }))).toEqual(ids([decision]));
        expect(ids(await store.queryAudit({ requestId: 'REQ-0196-EXPLAIN-ME' }))).toEqual([]);
        expect(ids(await store.queryAudit({ eventId: others[3]!.id }))).toEqual(ids([others[3]!]));
        expect(ids(await store.queryAudit({ eventId: 'no-such-event' }))).toEqual([]);
      });

      it('refuses an event with an unknown outcome', async () => {
        await expect(store.appendAudit(makeEvent({ outcome: 'maybe' as AuditEvent['outcome'] }))).rejects.toBeInstanceOf(StintError);
        expect(await store.queryAudit()).toEqual([]);
      });
    });

    describe('recordIssuance atomicity', () => {
      it('writes no grant when the audit insert fails (constraint violation)', async () => {
        const g = makeGrant();
        const bad = makeEvent({ grantIds: [g.id], outcome: 'maybe' as AuditEvent['outcome'] });
        await expect(store.recordIssuance([makeGrant(), g], bad)).rejects.toBeInstanceOf(StintError);
        expect(await store.getGrant(g.id)).toBeNull();
        expect(await store.listGrants()).toEqual([]);
        expect(await store.queryAudit({ grantId: g.id })).toEqual([]);
      });

      it('writes no grant when the audit data cannot be stored', async () => {
        const g = makeGrant();
        const bad = makeEvent({ grantIds: [g.id], data: { n: BigInt(1) } });
        await expect(store.recordIssuance([g], bad)).rejects.toBeInstanceOf(StintError);
        expect(await store.getGrant(g.id)).toBeNull();
        expect(await store.queryAudit()).toEqual([]);
      });

      it('writes nothing when one grant of the batch fails (duplicate grant id)', async () => {
        const a = makeGrant();
        const dup = makeGrant({ id: a.id, identity: 'spiffe://stint.local/ns/x/sa/other' });
        const ev = makeEvent({ grantIds: [a.id] });
        await expect(store.recordIssuance([a, dup], ev)).rejects.toBeInstanceOf(StintError);
        expect(await store.getGrant(a.id)).toBeNull();
        expect(await store.queryAudit()).toEqual([]);
      });

      it('writes no event when a grant id already exists', async () => {
        const a = makeGrant();
        await store.recordIssuance([a], makeEvent());
        const ev = makeEvent({ grantIds: [a.id] });
        await expect(store.recordIssuance([makeGrant({ id: a.id, rule: 'other' })], ev)).rejects.toBeInstanceOf(StintError);
        expect(await store.getGrant(a.id)).toEqual(a);
        expect(ids(await store.queryAudit())).not.toContain(ev.id);
      });

      it('still serves after a failed issuance', async () => {
        await expect(store.recordIssuance([makeGrant()], makeEvent({ outcome: 'maybe' as AuditEvent['outcome'] }))).rejects.toBeInstanceOf(StintError);
        const g = makeGrant();
        await store.recordIssuance([g], makeEvent({ grantIds: [g.id] }));
        expect(await store.getGrant(g.id)).toEqual(g);
      });

      it('isolates concurrent issuances: one failing leaves the others written', async () => {
        const good1 = makeGrant();
        const bad = makeGrant();
        const good2 = makeGrant();
        const ev1 = makeEvent({ grantIds: [good1.id] });
        const ev2 = makeEvent({ grantIds: [good2.id] });
        const results = await Promise.allSettled([
          store.recordIssuance([good1], ev1),
          store.recordIssuance([bad], makeEvent({ grantIds: [bad.id], data: { n: BigInt(2) } })),
          store.recordIssuance([good2], ev2),
          store.appendAudit(makeEvent({ outcome: 'maybe' as AuditEvent['outcome'] })),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
        expect(await store.getGrant(good1.id)).toEqual(good1);
        expect(await store.getGrant(good2.id)).toEqual(good2);
        expect(await store.getGrant(bad.id)).toBeNull();
        // Concurrent writes have no defined order between them (PostgreSQL commits them on separate connections).
        expect(ids(await store.queryAudit()).sort()).toEqual(ids([ev1, ev2]).sort());
      });

      it('makes a recorded issuance visible to the very next read', async () => {
        const g = makeGrant();
        const pending = store.recordIssuance([g], makeEvent({ grantIds: [g.id] }));
        const seen = await store.getGrant(g.id);
        await pending;
        expect(seen === null || seen.id === g.id).toBe(true);
        expect(await store.getGrant(g.id)).toEqual(g);
      });
    });

    describe('keys', () => {
      it('puts, lists oldest first, replaces by kid and deletes', async () => {
        const k1 = makeKey({ kid: 'k1', createdAt: T0 + 10 });
        const k2 = makeKey({ kid: 'k2', createdAt: T0, state: 'retired', retiredAt: T0 + 5, publishUntil: T0 + 3665 });
        const k3 = makeKey({ kid: 'k3', createdAt: T0 + 20, state: 'next', activatedAt: null, alg: 'EdDSA' });
        await store.putKey(k1);
        await store.putKey(k2);
        await store.putKey(k3);
        expect(await store.listKeys()).toEqual([k2, k1, k3]);

        const promoted = { ...k3, state: 'current' as const, activatedAt: T0 + 30 };
        await store.putKey(promoted);
        expect(await store.listKeys()).toEqual([k2, k1, promoted]);

        await store.deleteKey('k2');
        await store.deleteKey('unknown');
        expect(await store.listKeys()).toEqual([k1, promoted]);
      });
    });

    describe('key rotation slots', () => {
      it('inserts a current key only while none is current', async () => {
        const first = makeKey({ kid: 'first' });
        expect(await store.insertKey(first)).toBe(true);
        expect(await store.insertKey(makeKey({ kid: 'rival' }))).toBe(false);
        expect(await store.listKeys()).toEqual([first]);
        await store.putKey({ ...first, state: 'retired', retiredAt: T0 + 1, publishUntil: T0 + 100 });
        expect(await store.insertKey(makeKey({ kid: 'second', createdAt: T0 + 1 }))).toBe(true);
      });

      it('inserts a next key only while none of its algorithm waits, and never over an existing kid', async () => {
        await store.putKey(makeKey({ kid: 'current' }));
        const next = makeKey({ kid: 'next-es', state: 'next', activatedAt: null, createdAt: T0 + 1 });
        expect(await store.insertKey(next)).toBe(true);
        expect(await store.insertKey({ ...next, kid: 'next-es-rival' })).toBe(false);
        expect(await store.insertKey({ ...next, kid: 'next-ed', alg: 'EdDSA' })).toBe(true);
        expect(await store.insertKey({ ...next, state: 'retired' })).toBe(false);
        expect(await store.insertKey(makeKey({ kid: 'old', state: 'retired', retiredAt: T0, publishUntil: T0 + 10 }))).toBe(true);
        expect((await store.listKeys()).map((k) => k.kid).sort()).toEqual(['current', 'next-ed', 'next-es', 'old']);
        expect((await store.listKeys()).find((k) => k.kid === 'next-es')).toEqual(next);
      });

      it('lets exactly one of several concurrent inserts fill a slot', async () => {
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => store.insertKey(makeKey({ kid: `k${i}` }))));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.listKeys()).toHaveLength(1);
      });
    });

    describe('attestation bindings (trust on first use)', () => {
      const MS = T0 * 1000;
      const bind = (binding: string, now: number, expiresAt = MS + 60_000, key = 'doc-sha256') =>
        store.bindAttestation({ kind: 'aws-iid', key, binding, now, expiresAt });

      it('binds on first use and keeps the first binding while it holds', async () => {
        expect(await bind('nonce-a', MS)).toEqual({ binding: 'nonce-a', firstUse: true });
        expect(await bind('nonce-b', MS + 1)).toEqual({ binding: 'nonce-a', firstUse: false });
        expect(await bind('nonce-a', MS + 59_999)).toEqual({ binding: 'nonce-a', firstUse: false });
        // Another key, or the same key under another kind, binds on its own.
        expect(await bind('nonce-c', MS, MS + 60_000, 'other-doc')).toEqual({ binding: 'nonce-c', firstUse: true });
        expect(await store.bindAttestation({ kind: 'gcp-iit', key: 'doc-sha256', binding: 'nonce-d', now: MS, expiresAt: MS + 1 })).toEqual({ binding: 'nonce-d', firstUse: true });
      });

      it('rebinds once the binding has expired (at expiresAt), with the new expiry', async () => {
        await bind('nonce-a', MS, MS + 1000);
        expect(await bind('nonce-b', MS + 1000, MS + 5000)).toEqual({ binding: 'nonce-b', firstUse: true });
        expect(await bind('nonce-c', MS + 4999)).toEqual({ binding: 'nonce-b', firstUse: false });
        expect(await bind('nonce-c', MS + 5000)).toEqual({ binding: 'nonce-c', firstUse: true });
      });

      it('lets exactly one of several concurrent first binders win; the others see its binding', async () => {
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => bind(`nonce-${i}`, MS)));
        const winners = results.filter((r) => r.firstUse);
        expect(winners).toHaveLength(1);
        for (const r of results) expect(r.binding).toBe(winners[0]!.binding);
      });

      it('unbinds for an operator, after which the next use binds anew', async () => {
        await bind('nonce-a', MS);
        expect(await store.unbindAttestation('aws-iid', 'doc-sha256')).toBe(true);
        expect(await store.unbindAttestation('aws-iid', 'doc-sha256')).toBe(false);
        expect(await bind('nonce-b', MS + 1)).toEqual({ binding: 'nonce-b', firstUse: true });
      });

      it('drops expired bindings in the reaper pass and keeps live ones', async () => {
        await bind('old', MS, MS + 1000, 'old-doc');
        await bind('live', MS, MS + 10_000, 'live-doc');
        await store.expireGrants(T0 + 1);
        expect(await bind('new', MS + 1000, MS + 10_000, 'old-doc')).toEqual({ binding: 'new', firstUse: true });
        expect(await bind('other', MS + 1000, MS + 10_000, 'live-doc')).toEqual({ binding: 'live', firstUse: false });
      });
    });

    describe('identity quarantine', () => {
      const MS = T0 * 1000;
      const alice = 'spiffe://stint.local/ns/a/sa/alice';
      const bob = 'spiffe://stint.local/ns/b/sa/bob';

      it('holds a quarantine until it ends, and knows nothing of other identities', async () => {
        const q = { identity: alice, reason: 'credential leaked', actor: 'ops', at: MS, until: MS + 60_000 };
        await store.quarantineIdentity(q);
        expect(await store.activeQuarantine(alice, MS)).toEqual(q);
        expect(await store.activeQuarantine(alice, MS + 59_999)).toEqual(q);
        expect(await store.activeQuarantine(alice, MS + 60_000)).toBeNull();
        expect(await store.activeQuarantine(bob, MS)).toBeNull();
        expect(await store.activeQuarantine('spiffe://stint.local/ns/a/sa/ALICE', MS)).toBeNull();
      });

      it('keeps a quarantine without an end until it is lifted, once', async () => {
        const q = { identity: alice, reason: 'r', actor: 'ops', at: MS, until: null };
        await store.quarantineIdentity(q);
        expect(await store.activeQuarantine(alice, MS + 365 * 86_400_000)).toEqual(q);
        expect(await store.liftQuarantine(alice, MS + 1)).toBe(true);
        expect(await store.activeQuarantine(alice, MS + 2)).toBeNull();
        expect(await store.liftQuarantine(alice, MS + 3)).toBe(false);
        expect(await store.liftQuarantine(bob, MS + 3)).toBe(false);
      });

      it('says a quarantine that had already ended was not lifted', async () => {
        await store.quarantineIdentity({ identity: alice, reason: 'r', actor: 'ops', at: MS, until: MS + 10 });
        expect(await store.liftQuarantine(alice, MS + 10)).toBe(false);
        expect(await store.activeQuarantine(alice, MS)).toBeNull();
      });

      it('replaces an identity\'s quarantine with the latest decision', async () => {
        await store.quarantineIdentity({ identity: alice, reason: 'first', actor: 'ops', at: MS, until: null });
        const later = { identity: alice, reason: 'second', actor: 'oncall', at: MS + 5, until: MS + 100 };
        await store.quarantineIdentity(later);
        expect(await store.activeQuarantine(alice, MS + 6)).toEqual(later);
        expect(await store.listQuarantines(MS + 6)).toEqual([later]);
      });

      it('lists the quarantines in force, most recent first, and drops ended ones in the reaper pass', async () => {
        const a = { identity: alice, reason: 'a', actor: 'ops', at: MS, until: null };
        const b = { identity: bob, reason: 'b', actor: 'ops', at: MS + 2, until: MS + 1000 };
        const c = { identity: 'spiffe://stint.local/ns/c/sa/carol', reason: 'c', actor: 'ops', at: MS + 1, until: MS + 500 };
        for (const q of [a, b, c]) await store.quarantineIdentity(q);
        expect(await store.listQuarantines(MS + 2)).toEqual([b, c, a]);
        expect(await store.listQuarantines(MS + 500)).toEqual([b, a]);
        await store.expireGrants(T0 + 1);
        expect(await store.listQuarantines(MS)).toEqual([a]);
        expect(await store.liftQuarantine(alice, MS + 3)).toBe(true);
        expect(await store.listQuarantines(MS + 3)).toEqual([]);
      });
    });

    describe('lifecycle', () => {
      it('keeps grants, audit and keys across a reopen', async (ctx) => {
        if (!h.reopen) ctx.skip();
        const g = makeGrant();
        const ev = makeEvent({ grantIds: [g.id], data: { a: [1, 2] } });
        const k = makeKey();
        await store.recordIssuance([g], ev);
        await store.putKey(k);
        await store.revokeGrant(g.id, T0 + 1, 'r');
        await store.close();
        store = await h.reopen!();
        expect(await store.getGrant(g.id)).toEqual({ ...g, state: 'revoked', revokedAt: T0 + 1, revokedReason: 'r', cleanup: 'pending', cleanupNextAt: T0 + 61 });
        expect(await store.queryAudit()).toEqual([ev]);
        expect(await store.queryAudit({ grantId: g.id })).toEqual([ev]);
        expect(await store.listKeys()).toEqual([k]);
      });

      it('closes idempotently', async () => {
        await store.close();
        await store.close();
      });
    });
  });
}

function ids(items: readonly { id: string }[]): string[] {
  return items.map((i) => i.id);
}
