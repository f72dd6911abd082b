/**
 * Stint's one-time nonces for Azure attested documents (src/attestation/nonces.ts) on real SQLite
 * stores: a nonce is accepted once even when two replicas sharing one database race to consume it;
 * foreign, expired and other-kind nonces are refused; and the unauthenticated nonce endpoint's
 * rate limits (src/transport/http/nonce.ts) hold per source and overall, refilling with the clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStoreNonces } from '../../src/attestation/nonces.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite.js';
import { createNonceEndpoint } from '../../src/transport/http/nonce.js';
import { FakeClock } from '../support/fake_clock.js';

const stores: SqliteStore[] = [];
let dir: string | undefined;
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function twoReplicas(): [SqliteStore, SqliteStore] {
  dir = mkdtempSync(join(tmpdir(), 'stint-nonces-'));
  const a = openSqliteStore(join(dir, 'stint.db'));
  const b = openSqliteStore(join(dir, 'stint.db'));
  stores.push(a, b);
  return [a, b];
}

describe('attestation nonces on the Store', () => {
  it('accept a nonce once across two replicas racing to consume it', async () => {
    const clock = new FakeClock();
    const [a, b] = twoReplicas();
    const onA = createStoreNonces(a, clock);
    const onB = createStoreNonces(b, clock);
    for (let i = 0; i < 5; i++) {
      const nonce = await onA.issue('azure', 60);
      const results = await Promise.all([onA.consume('azure', nonce), onB.consume('azure', nonce), onB.consume('azure', nonce)]);
      expect(results.filter(Boolean)).toHaveLength(1);
    }
  });

  it('refuse a nonce never issued, one issued for another kind, one expired, and a malformed one; a fresh one still works', async () => {
    const clock = new FakeClock();
    const [a] = twoReplicas();
    const nonces = createStoreNonces(a, clock);
    expect(await nonces.consume('azure', '0123456789')).toBe(false);
    expect(await nonces.consume('azure', await nonces.issue('aws-iid', 60))).toBe(false);
    const stale = await nonces.issue('azure', 60);
    clock.advance(60_000);
    expect(await nonces.consume('azure', stale)).toBe(false);
    expect(await nonces.consume('azure', "1' OR 1=1")).toBe(false);
    // A probe for a foreign nonce leaves nothing that could later make it valid.
    const fresh = await nonces.issue('azure', 60);
    expect(fresh).toMatch(/^\d{10}$/);
    expect(await nonces.consume('azure', fresh)).toBe(true);
  });

  it('draw another nonce when the random one is still bound', async () => {
    const clock = new FakeClock();
    const [a] = twoReplicas();
    const draws = ['1111111111', '1111111111', '2222222222'];
    const nonces = createStoreNonces(a, clock, () => draws.shift()!);
    expect(await nonces.issue('azure', 60)).toBe('1111111111');
    expect(await nonces.issue('azure', 60)).toBe('2222222222');
  });
});

describe('the nonce endpoint rate limits', () => {
  it('limit each source to its burst and refill with time, while other sources are served', () => {
    const clock = new FakeClock();
    const endpoint = createNonceEndpoint(createStoreNonces({ bindAttestation: async () => ({ binding: '', firstUse: true }) }, clock), new Map([['azure', 60]]), clock, { perSecond: 100, burst: 100, perSourcePerSecond: 2, perSourceBurst: 3 });
    expect([1, 2, 3].map(() => endpoint.admit('10.0.0.1'))).toEqual([true, true, true]);
    expect(endpoint.admit('10.0.0.1')).toBe(false);
    expect(endpoint.admit('10.0.0.2')).toBe(true);
    clock.advance(500);
    expect(endpoint.admit('10.0.0.1')).toBe(true);
    expect(endpoint.admit('10.0.0.1')).toBe(false);
  });

  it('limit all sources together to the overall burst', () => {
    const clock = new FakeClock();
    const endpoint = createNonceEndpoint(createStoreNonces({ bindAttestation: async () => ({ binding: '', firstUse: true }) }, clock), new Map([['azure', 60]]), clock, { perSecond: 1, burst: 2, perSourcePerSecond: 10, perSourceBurst: 10 });
    expect(['a', 'b', 'c'].map((s) => endpoint.admit(s))).toEqual([true, true, false]);
    clock.advance(1000);
    expect(endpoint.admit('d')).toBe(true);
  });
});
