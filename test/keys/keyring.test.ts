import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStintJwtProvider } from '../../src/credentials/stint_jwt.js';
import { DEFAULT_KEY_RELOAD_MS, Keyring, VERIFIER_SKEW_SECONDS, type KeyEventType, type KeyringOptions, type SigningAlgorithm } from '../../src/keys/keyring.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite.js';
import { FakeClock } from '../support/fake_clock.js';
import { draftFor, ISSUER } from '../credentials/drafts.js';

const HOUR = 3600;
const ROTATION = 6 * HOUR;
const PREPUBLISH = HOUR;
const MAX_TTL = 900;

interface Fixture {
  clock: FakeClock;
  path: string;
  store: SqliteStore;
  events: [KeyEventType, string][];
  open(overrides?: Partial<KeyringOptions>): Promise<Keyring>;
  reopenStore(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function fixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'stint-keys-'));
  const path = join(dir, 'stint.db');
  const f: Fixture = {
    clock: new FakeClock(),
    path,
    store: openSqliteStore(path),
    events: [],
    open(overrides = {}) {
      return Keyring.open({
        store: f.store,
        clock: f.clock,
        algorithm: 'ES256',
        rotationPeriodSeconds: ROTATION,
        prepublishSeconds: PREPUBLISH,
        maxTokenTtlSeconds: MAX_TTL,
        onEvent: (type, kid) => f.events.push([type, kid]),
        ...overrides,
      });
    },
    async reopenStore() {
      await f.store.close();
      f.store = openSqliteStore(path);
    },
  };
  cleanups.push(async () => {
    await f.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return f;
}

function kids(keyring: Keyring): string[] {
  return keyring.jwks().keys.map((k) => k.kid);
}

const seconds = (s: number): number => s * 1000;

describe('Keyring: first start', () => {
  it('creates a current key that signs at once, published in the JWKS', async () => {
    const f = fixture();
    const keyring = await f.open();
    const signer = keyring.signer();
    expect(keyring.ready()).toBe(true);
    expect(signer.alg).toBe('ES256');
    expect(kids(keyring)).toEqual([signer.kid]);
    expect(f.events).toEqual([
      ['key.created', signer.kid],
      ['key.activated', signer.kid],
    ]);
    const stored = await f.store.listKeys();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ kid: signer.kid, state: 'current', alg: 'ES256', activatedAt: f.clock.now() / 1000 });
    expect(JSON.parse(stored[0]!.privateJwk)).toHaveProperty('d');
  });

  it('uses the RFC 7638 thumbprint as kid and publishes only public members', async () => {
    for (const algorithm of ['ES256', 'EdDSA', 'RS256'] as const) {
      const f = fixture();
      const keyring = await f.open({ algorithm });
      const [jwk] = keyring.jwks().keys;
      expect(jwk).toBeDefined();
      expect(jwk!.kid).toBe(await calculateJwkThumbprint(jwk as JWK, 'sha256'));
      expect(jwk).toMatchObject({ alg: algorithm, use: 'sig' });
      expect(Object.keys(jwk!).sort()).toEqual(
        algorithm === 'ES256' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'] : algorithm === 'EdDSA' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x'] : ['alg', 'e', 'kid', 'kty', 'n', 'use'],
      );
      expect(JSON.stringify(keyring.status())).not.toMatch(/"d"|privateJwk/);
    }
  });

  it('refuses invalid options with ERR_CONFIG_INVALID', async () => {
    const f = fixture();
    for (const bad of [
      { rotationPeriodSeconds: 0 },
      { prepublishSeconds: -1 },
      { maxTokenTtlSeconds: 1.5 },
      { algorithm: 'HS256' as SigningAlgorithm },
    ]) {
      await expect(f.open(bad)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    }
  });
});

describe('Keyring: rotation', () => {
  for (const algorithm of ['ES256', 'EdDSA', 'RS256'] as const) {
    it(`${algorithm}: publishes every key at least prepublish before it signs, and keeps verifying old tokens until publishUntil`, async () => {
      const f = fixture();
      const keyring = await f.open({ algorithm });
      const provider = createStintJwtProvider({ issuer: ISSUER, keyring, clock: f.clock, maxTtlSeconds: MAX_TTL });
      const firstKid = keyring.signer().kid;
      const snapshots: { at: number; kids: Set<string> }[] = [];
      const tokens: { token: string; kid: string; exp: number }[] = [];
      const signers = new Set<string>();
      const step = 300; // a tick every 5 minutes
      for (let t = 0; t <= 4 * ROTATION + 2 * HOUR; t += step) {
        if (t > 0) {
          f.clock.advance(seconds(step));
          await keyring.tick();
        }
        const now = f.clock.now() / 1000;
        const signer = keyring.signer();
        signers.add(signer.kid);
        // The signing kid was in a JWKS snapshot taken at least `prepublish` earlier (the first key excepted).
        if (signer.kid !== firstKid) {
          expect(snapshots.some((s) => s.at <= now - PREPUBLISH && s.kids.has(signer.kid)), `kid ${signer.kid} at ${now}`).toBe(true);
        }
        snapshots.push({ at: now, kids: new Set(kids(keyring)) });
        expect(keyring.jwks().keys.length).toBeLessThanOrEqual(3);

        // Every token issued so far and not yet expired verifies against the current JWKS.
        const jwks = createLocalJWKSet(keyring.jwks());
        for (const tk of tokens.filter((x) => x.exp > now)) {
          const { protectedHeader } = await jwtVerify(tk.token, jwks, { issuer: ISSUER, currentDate: new Date(f.clock.now()) });
          expect(protectedHeader.kid).toBe(tk.kid);
        }
        const credential = await provider.issue(draftFor({ issuedAt: now, ttl: MAX_TTL }));
        tokens.push({ token: credential.token, kid: signer.kid, exp: credential.expiresAt });
      }
      // One signer per rotation period.
      expect(signers.size).toBe(5);
      expect(f.events.filter(([t]) => t === 'key.activated')).toHaveLength(5);
      expect(f.events.filter(([t]) => t === 'key.deleted').length).toBeGreaterThanOrEqual(3);
    });
  }

  it('keeps a retired key published until retiredAt + maxTokenTtl + skew, then deletes it', async () => {
    const f = fixture();
    const keyring = await f.open();
    const provider = createStintJwtProvider({ issuer: ISSUER, keyring, clock: f.clock, maxTtlSeconds: MAX_TTL });
    const oldKid = keyring.signer().kid;

    f.clock.advance(seconds(ROTATION - PREPUBLISH));
    await keyring.tick(); // publishes the successor
    // Just before rotation: a token with the longest TTL.
    f.clock.advance(seconds(PREPUBLISH - 1));
    await keyring.tick();
    expect(keyring.signer().kid).toBe(oldKid);
    const now = f.clock.now() / 1000;
    const { token } = await provider.issue(draftFor({ issuedAt: now, ttl: MAX_TTL }));

    f.clock.advance(seconds(1));
    await keyring.tick();
    expect(keyring.signer().kid).not.toBe(oldKid);
    const retired = keyring.status().find((k) => k.kid === oldKid)!;
    expect(retired).toMatchObject({ state: 'retired', retiredAt: now + 1, publishUntil: now + 1 + MAX_TTL + VERIFIER_SKEW_SECONDS });

    const verifyAt = async (at: number) =>
      jwtVerify(token, createLocalJWKSet(keyring.jwks()), { issuer: ISSUER, currentDate: new Date(seconds(at)), clockTolerance: VERIFIER_SKEW_SECONDS });

    // Up to the last second of the window (expiry + verifier skew), the token verifies.
    f.clock.set(seconds(retired.publishUntil! - 1));
    await keyring.tick();
    expect(kids(keyring)).toContain(oldKid);
    await expect(verifyAt(now + MAX_TTL + VERIFIER_SKEW_SECONDS - 1)).resolves.toBeDefined();

    f.clock.set(seconds(retired.publishUntil!));
    await keyring.tick();
    expect(kids(keyring)).not.toContain(oldKid);
    expect(f.events).toContainEqual(['key.deleted', oldKid]);
    expect((await f.store.listKeys()).map((k) => k.kid)).not.toContain(oldKid);
    await expect(verifyAt(now + 10)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('keeps signing with an overdue key until its successor has been published for prepublish', async () => {
    const f = fixture();
    const keyring = await f.open();
    const oldKid = keyring.signer().kid;
    f.clock.advance(seconds(3 * ROTATION)); // the service was down: no successor was ever published
    await keyring.tick();
    const next = keyring.status().find((k) => k.state === 'next')!;
    expect(keyring.signer().kid).toBe(oldKid);
    f.clock.advance(seconds(PREPUBLISH - 1));
    await keyring.tick();
    expect(keyring.signer().kid).toBe(oldKid);
    f.clock.advance(seconds(1));
    await keyring.tick();
    expect(keyring.signer().kid).toBe(next.kid);
  });

  it('gives a just-promoted key its successor at once when prepublish >= rotationPeriod', async () => {
    const f = fixture();
    const keyring = await f.open({ rotationPeriodSeconds: HOUR, prepublishSeconds: HOUR });
    expect(keyring.status().map((k) => k.state)).toEqual(['current', 'next']);
    f.clock.advance(seconds(HOUR));
    await keyring.tick();
    expect(keyring.status().map((k) => k.state).sort()).toEqual(['current', 'next', 'retired']);
  });

  it('rotates to a newly configured algorithm through a prepublished key', async () => {
    const f = fixture();
    const first = await f.open();
    const oldKid = first.signer().kid;
    const keyring = await f.open({ algorithm: 'EdDSA' });
    expect(keyring.signer().kid).toBe(oldKid);
    const next = keyring.status().find((k) => k.state === 'next')!;
    expect(next.alg).toBe('EdDSA');
    f.clock.advance(seconds(PREPUBLISH - 1));
    await keyring.tick();
    expect(keyring.signer().kid).toBe(oldKid);
    f.clock.advance(seconds(1));
    await keyring.tick();
    expect(keyring.signer()).toMatchObject({ kid: next.kid, alg: 'EdDSA' });
  });
});

describe('Keyring: operator rotation', () => {
  it('rotateNow publishes a successor and promotes it only once prepublish has elapsed', async () => {
    const f = fixture();
    const keyring = await f.open();
    const oldKid = keyring.signer().kid;
    const result = await keyring.rotateNow();
    const now = f.clock.now() / 1000;
    expect(result).toMatchObject({ current: oldKid, promoted: false, promotableAt: now + PREPUBLISH });
    expect(kids(keyring)).toContain(result.next);
    expect(keyring.signer().kid).toBe(oldKid);

    f.clock.advance(seconds(PREPUBLISH - 1));
    await keyring.tick();
    expect(keyring.signer().kid).toBe(oldKid);
    f.clock.advance(seconds(1));
    await keyring.tick();
    expect(keyring.signer().kid).toBe(result.next);
    expect(keyring.status().find((k) => k.kid === oldKid)?.state).toBe('retired');
  });

  it('rotateNow promotes at once when the successor was already published long enough', async () => {
    const f = fixture();
    const keyring = await f.open();
    f.clock.advance(seconds(ROTATION - PREPUBLISH));
    await keyring.tick();
    const next = keyring.status().find((k) => k.state === 'next')!;
    f.clock.advance(seconds(PREPUBLISH - 10)); // published long enough soon; rotation not due yet
    await keyring.tick();
    f.clock.advance(seconds(10));
    const result = await keyring.rotateNow();
    expect(result).toMatchObject({ current: next.kid, promoted: true });
  });

  it('rotateNow({ force: true }) promotes at once and keeps the old key published', async () => {
    const f = fixture();
    const keyring = await f.open();
    const oldKid = keyring.signer().kid;
    const result = await keyring.rotateNow({ force: true });
    expect(result.promoted).toBe(true);
    expect(keyring.signer().kid).toBe(result.current);
    expect(result.current).not.toBe(oldKid);
    expect(kids(keyring)).toContain(oldKid);
    expect(keyring.status().find((k) => k.kid === oldKid)?.state).toBe('retired');
  });

  it('serialises overlapping ticks and rotations', async () => {
    const f = fixture();
    const keyring = await f.open();
    await Promise.all([keyring.tick(), keyring.rotateNow(), keyring.tick(), keyring.rotateNow(), keyring.tick()]);
    const states = (await f.store.listKeys()).map((k) => k.state).sort();
    expect(states).toEqual(['current', 'next']);
  });
});

describe('Keyring: persistence and recovery', () => {
  it('keeps its keys across a restart', async () => {
    const f = fixture();
    const first = await f.open();
    f.clock.advance(seconds(ROTATION - PREPUBLISH));
    await first.tick();
    const before = { signer: first.signer().kid, jwks: kids(first) };
    expect(before.jwks).toHaveLength(2);
    await f.reopenStore();
    f.events.length = 0;
    const second = await f.open();
    expect(second.signer().kid).toBe(before.signer);
    expect(kids(second)).toEqual(before.jwks);
    expect(f.events).toEqual([]);
    // The successor created before the restart is promoted on schedule.
    f.clock.advance(seconds(PREPUBLISH));
    await second.tick();
    expect(second.signer().kid).toBe(before.jwks[1]);
  });

  it('resolves two current keys (a crash between promote and retire) to the latest activated', async () => {
    const f = fixture();
    const keyring = await f.open();
    f.clock.advance(seconds(ROTATION - PREPUBLISH));
    await keyring.tick();
    const [current, next] = await f.store.listKeys();
    f.clock.advance(seconds(PREPUBLISH));
    await f.store.putKey({ ...next!, state: 'current', activatedAt: f.clock.now() / 1000 });
    await keyring.tick();
    expect(keyring.signer().kid).toBe(next!.kid);
    expect(keyring.status().find((k) => k.kid === current!.kid)?.state).toBe('retired');
  });

  it('survives an observer that throws', async () => {
    const f = fixture();
    const keyring = await f.open({
      onEvent: () => {
        throw new Error('observer failure');
      },
    });
    await keyring.rotateNow({ force: true });
    expect(keyring.status().map((k) => k.state).sort()).toEqual(['current', 'retired']);
  });

  it('adopts keys another replica wrote to the shared store on the next tick', async () => {
    const f = fixture();
    const a = await f.open();
    const b = await f.open();
    expect(b.signer().kid).toBe(a.signer().kid);
    await a.rotateNow({ force: true });
    await b.tick();
    expect(b.signer().kid).toBe(a.signer().kid);
    expect(kids(b)).toEqual(kids(a));
  });
});

describe('Keyring: replicas sharing one store', () => {
  it('replicas starting together create one key and both sign with it', async () => {
    const f = fixture();
    const [a, b, c] = await Promise.all([f.open(), f.open(), f.open()]);
    expect(await f.store.listKeys()).toHaveLength(1);
    expect(new Set([a.signer().kid, b.signer().kid, c.signer().kid]).size).toBe(1);
    expect(kids(b)).toEqual(kids(a));
    expect(f.events.filter(([type]) => type === 'key.created')).toHaveLength(1);
  });

  it('replicas reaching the rotation point together publish one successor and promote the same key', async () => {
    const f = fixture();
    const a = await f.open();
    const b = await f.open();
    const first = a.signer().kid;
    f.clock.advance(seconds(ROTATION - PREPUBLISH));
    await Promise.all([a.tick(), b.tick()]);
    const next = (await f.store.listKeys()).filter((k) => k.state === 'next');
    expect(next).toHaveLength(1);
    expect(kids(a)).toEqual([first, next[0]!.kid]);
    expect(kids(b)).toEqual(kids(a));
    f.clock.advance(seconds(PREPUBLISH));
    await Promise.all([a.tick(), b.tick()]);
    expect(a.signer().kid).toBe(next[0]!.kid);
    expect(b.signer().kid).toBe(next[0]!.kid);
    expect((await f.store.listKeys()).map((k) => k.state).sort()).toEqual(['current', 'retired']);
  });

  it('freshJwks picks up another replica\'s keys once the last read is reloadAfterMs old, with one read for concurrent callers', async () => {
    const f = fixture();
    const a = await f.open();
    const b = await f.open();
    const before = kids(b);
    await a.rotateNow({ force: true });
    const reads = vi.spyOn(f.store, 'listKeys');
    expect((await b.freshJwks()).keys.map((k) => k.kid)).toEqual(before);
    expect(reads).not.toHaveBeenCalled();
    f.clock.advance(DEFAULT_KEY_RELOAD_MS);
    const answers = await Promise.all([b.freshJwks(), b.freshJwks(), b.freshJwks()]);
    expect(reads).toHaveBeenCalledTimes(1);
    for (const jwks of answers) expect(jwks.keys.map((k) => k.kid)).toEqual(kids(a));
    expect(b.signer().kid).toBe(a.signer().kid);
    reads.mockRestore();
  });

  it('freshJwks serves the keys it has while the store cannot be read', async () => {
    const f = fixture();
    const keyring = await f.open({ reloadAfterMs: 1000 });
    const published = keyring.jwks();
    await f.store.close();
    f.clock.advance(1000);
    expect(await keyring.freshJwks()).toBe(published);
  });
});
