/**
 * Where keys come from and what happens when the issuer misbehaves: unknown-kid refetch bounded
 * by the cooldown, outages with and without cached keys, stale keys bounded by staleKeysFor,
 * discovery naming another issuer, insecure URLs refused at config time, redirects, oversized and
 * malformed key sets, static JWKS files. All over real HTTP; time moves on a manual clock.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { epochSeconds } from '../../../src/clock.js';
import { createAttestorSet } from '../../../src/attestation/registry.js';
import { attestorConfigSchema } from '../../../src/config/schema.js';
import { ConfigError } from '../../../src/errors.js';
import { AUDIENCE, expectRefused, startHarness, TRUST_DOMAIN, type Harness } from '../helpers.js';
import { TestIssuer } from '../../support/test_issuer.js';
import { FakeClock } from '../../support/fake_clock.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const start = async (config: Record<string, unknown> = {}): Promise<Harness> => {
  h = await startHarness({ config: { refetchCooldown: '30s', staleKeysFor: '1h', ...config } });
  return h;
};

describe('unknown kid', () => {
  it('refetches the JWKS once for an unknown kid, then not again until the cooldown passes', async () => {
    const { set, issuer, clock } = await start();
    await set.attest(await h!.goodToken());
    expect(issuer.fetches).toMatchObject({ discovery: 1, jwks: 1 });

    clock.advance(31_000);
    const unknown = (kid: string): Promise<string> => issuer.mint(issuer.claims(AUDIENCE), { header: { kid } });
    await expectRefused(set.attest(await unknown('unknown-0')), 'ERR_TOKEN_KEY_NOT_FOUND');
    expect(issuer.fetches.jwks).toBe(2);

    for (let i = 1; i <= 10; i++) await expectRefused(set.attest(await unknown(`unknown-${i}`)), 'ERR_TOKEN_KEY_NOT_FOUND');
    expect(issuer.fetches.jwks, 'no refetch within the cooldown, however many unknown kids').toBe(2);

    clock.advance(29_000);
    await expectRefused(set.attest(await unknown('unknown-x')), 'ERR_TOKEN_KEY_NOT_FOUND');
    expect(issuer.fetches.jwks).toBe(2);
    clock.advance(1_000);
    await expectRefused(set.attest(await unknown('unknown-y')), 'ERR_TOKEN_KEY_NOT_FOUND');
    expect(issuer.fetches.jwks).toBe(3);
  });

  it('picks up a rotated key on its first use once the cooldown allows', async () => {
    const { set, issuer, clock } = await start();
    await set.attest(await h!.goodToken());
    clock.advance(31_000);
    const next = issuer.rotate();
    const id = await set.attest(await issuer.mint(issuer.claims(AUDIENCE)));
    expect(id.subject).toBe('workload');
    expect(issuer.fetches.jwks).toBe(2);
    expect(issuer.signingKey.kid).toBe(next.kid);
  });

  it('during an issuer outage an unknown kid is retryable (ERR_ISSUER_UNAVAILABLE), never not-found, also within the cooldown', async () => {
    const { set, issuer, clock } = await start();
    await set.attest(await h!.goodToken());
    clock.advance(31_000);
    issuer.rotate();
    issuer.fail('http-500');
    const token = await issuer.mint(issuer.claims(AUDIENCE, { exp: epochSeconds(clock) + 3000 }));
    await expectRefused(set.attest(token), 'ERR_ISSUER_UNAVAILABLE');
    // Within the cooldown after that failed fetch: still retryable, so a sidecar keeps its good token.
    clock.advance(5_000);
    await expectRefused(set.attest(token), 'ERR_ISSUER_UNAVAILABLE');
    issuer.recover();
    clock.advance(30_000);
    await expect(set.attest(token)).resolves.toBeDefined();
  });

  it('a key rotated in within the cooldown is not found until the cooldown passes', async () => {
    const { set, issuer, clock } = await start();
    await set.attest(await h!.goodToken());
    issuer.rotate();
    const token = await issuer.mint(issuer.claims(AUDIENCE, { exp: epochSeconds(clock) + 3000 }));
    await expectRefused(set.attest(token), 'ERR_TOKEN_KEY_NOT_FOUND');
    clock.advance(30_000);
    await expect(set.attest(token)).resolves.toBeDefined();
  });

  it('drops a key the issuer unpublished at the next background refresh', async () => {
    const { set, issuer, clock, fetchEvents } = await start();
    const old = issuer.signingKey;
    const oldToken = await issuer.mint(issuer.claims(AUDIENCE, { exp: epochSeconds(clock) + 3000 }));
    await set.attest(oldToken);
    issuer.rotate();
    issuer.unpublish(old.kid);
    clock.advance(301_000); // past the refresh age: the next use refreshes in the background
    await set.attest(await issuer.mint(issuer.claims(AUDIENCE)));
    await vi.waitFor(() => expect(fetchEvents.filter((e) => e.outcome === 'ok')).toHaveLength(2));
    await expectRefused(set.attest(oldToken), 'ERR_TOKEN_KEY_NOT_FOUND');
  });
});

describe('concurrency', () => {
  it('concurrent first requests share one discovery and one JWKS fetch', async () => {
    const { set, issuer } = await start();
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => issuer.mint(issuer.claims(AUDIENCE, { sub: `w${i}` }))));
    const ids = await Promise.all(tokens.map((t) => set.attest(t)));
    expect(ids.map((i) => i.subject)).toEqual(tokens.map((_, i) => `w${i}`));
    expect(issuer.fetches).toMatchObject({ discovery: 1, jwks: 1 });
  });

  it('concurrent requests during an outage share one failed fetch', async () => {
    const { set, issuer } = await start();
    issuer.fail('http-500');
    const tokens = await Promise.all(Array.from({ length: 10 }, () => h!.goodToken()));
    const results = await Promise.allSettled(tokens.map((t) => set.attest(t)));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'ERR_ISSUER_UNAVAILABLE')).toBe(true);
    expect(issuer.requests).toHaveLength(1);
  });
});

describe('issuer outage', () => {
  it('with no cached keys, an issuer answering 500 gives ERR_ISSUER_UNAVAILABLE', async () => {
    const { set, issuer } = await start();
    issuer.fail('http-500');
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'http_status', status: 500, attestor: 'oidc' } });
  });

  it('with no cached keys, a JWKS endpoint down behind a working discovery gives ERR_ISSUER_UNAVAILABLE', async () => {
    const { set, issuer } = await start();
    issuer.setResponse('jwks', { status: 503, body: 'down' });
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'http_status', status: 503 } });
  });

  it('with no cached keys, closed connections give ERR_ISSUER_UNAVAILABLE', async () => {
    const { set, issuer } = await start();
    issuer.fail('close');
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'network' } });
  });

  it('a hanging issuer times out after fetchTimeout', async () => {
    const { set, issuer } = await start({ fetchTimeout: '1s' });
    issuer.fail('hang');
    const started = Date.now();
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'timeout' } });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('after a failure it fails fast (no fetch) until the cooldown passes, then recovers', async () => {
    const { set, issuer, clock } = await start();
    issuer.fail('http-500');
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE');
    issuer.recover();
    const before = issuer.requests.length;
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'http_status' } });
    expect(issuer.requests.length).toBe(before);
    clock.advance(30_000);
    await expect(set.attest(await h!.goodToken())).resolves.toBeDefined();
  });

  it('serves the last good keys within staleKeysFor of their fetch, and refuses after', async () => {
    const { set, issuer, clock, fetchEvents } = await start({ staleKeysFor: '1h' });
    await set.attest(await h!.goodToken());
    issuer.fail('http-500');

    clock.advance(1_800_000);
    await expect(set.attest(await h!.goodToken())).resolves.toBeDefined();
    await vi.waitFor(() => expect(fetchEvents.some((e) => e.outcome === 'error')).toBe(true));

    clock.advance(1_799_000);
    await expect(set.attest(await h!.goodToken())).resolves.toBeDefined();

    clock.advance(2_000); // 3601 s after the last good fetch
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'http_status' } });

    issuer.recover();
    clock.advance(30_000);
    await expect(set.attest(await h!.goodToken())).resolves.toBeDefined();
  });

  it('refreshes fresh keys in the background without blocking the request', async () => {
    const { set, issuer, clock, fetchEvents } = await start();
    await set.attest(await h!.goodToken());
    clock.advance(301_000);
    issuer.fail('hang');
    // The request is served from the cached keys while the refresh hangs.
    await expect(set.attest(await h!.goodToken())).resolves.toBeDefined();
    expect(fetchEvents).toHaveLength(1);
  });
});

describe('discovery', () => {
  it.each([
    ['another issuer', () => 'https://evil.example'],
    ['a trailing slash', (iss: string) => `${iss}/`],
    ['a different case', (iss: string) => iss.toUpperCase()],
  ])('refuses a discovery document naming %s', async (_what, mutate) => {
    const { set, issuer } = await start();
    issuer.setDiscoveryIssuer(mutate(issuer.issuer));
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'discovery_issuer_mismatch' } });
    expect(issuer.fetches.jwks, 'the JWKS of a mismatched discovery is never fetched').toBe(0);
  });

  it('refuses a discovery jwks_uri that is plain http off loopback', async () => {
    const { set, issuer } = await start();
    issuer.setResponse('discovery', { body: { ...issuer.discoveryDocument(), jwks_uri: 'http://keys.example.com/jwks' } });
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'jwks_uri_insecure' } });
  });

  it('refuses a discovery document without jwks_uri', async () => {
    const { set, issuer } = await start();
    issuer.setResponse('discovery', { body: { issuer: issuer.issuer } });
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'discovery_invalid' } });
  });

  it('never follows a redirect (to an attacker JWKS)', async () => {
    const { set, issuer, clock } = await start();
    const attacker = await TestIssuer.start({ clock });
    try {
      issuer.setResponse('jwks', { status: 302, headers: { location: attacker.jwksUrl } });
      await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE');
      expect(attacker.requests).toEqual([]);
    } finally {
      await attacker.close();
    }
  });

  it('works for an issuer with a path', async () => {
    h = await startHarness({ issuer: { path: '/tenants/a' } });
    await expect(h.set.attest(await h.goodToken())).resolves.toMatchObject({ issuer: h.issuer.issuer });
    expect(h.issuer.requests.map((r) => r.url)).toEqual(['/tenants/a/.well-known/openid-configuration', '/tenants/a/.well-known/jwks']);
  });
});

describe('key set contents', () => {
  it('refuses a JWKS larger than 1 MiB', async () => {
    const { set, issuer } = await start();
    issuer.setResponse('jwks', { body: { ...issuer.jwks(), padding: 'x'.repeat(1024 * 1024) } });
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'too_large' } });
  });

  it('refuses a JWKS that is not JSON', async () => {
    const { set, issuer } = await start();
    issuer.setResponse('jwks', { body: '<html>hello</html>' });
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'invalid_json' } });
  });

  it('ignores symmetric and private keys in a JWKS (never usable to verify)', async () => {
    const { set, issuer } = await start();
    const priv = issuer.signingKey.privateKey.export({ format: 'jwk' });
    issuer.setResponse('jwks', { body: { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }, { ...priv, kid: issuer.signingKey.kid }] } });
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'jwks_empty' } });
  });

  it('uses a direct jwksUrl without discovery', async () => {
    const clock = new FakeClock();
    const issuer = await TestIssuer.start({ clock, jwksPath: '/openid/v1/jwks' });
    const set = createAttestorSet([attestorConfigSchema.parse({ kind: 'oidc', issuer: issuer.issuer, jwksUrl: issuer.jwksUrl })], { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN });
    try {
      await expect(set.attest(await issuer.mint(issuer.claims(AUDIENCE)))).resolves.toBeDefined();
      expect(issuer.requests.map((r) => r.url)).toEqual(['/openid/v1/jwks']);
    } finally {
      set.close();
      await issuer.close();
    }
  });
});

describe('static JWKS file', () => {
  it('verifies with keys from a file, with no network, and re-reads it for a new kid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-jwks-'));
    const clock = new FakeClock();
    const issuer = await TestIssuer.start({ clock });
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify(issuer.jwks()));
    const set = createAttestorSet([attestorConfigSchema.parse({ kind: 'oidc', issuer: issuer.issuer, jwksFile: file, refetchCooldown: 30 })], {
      clock,
      audience: AUDIENCE,
      trustDomain: TRUST_DOMAIN,
    });
    try {
      expect(set.ready()).toBe(true);
      await expect(set.attest(await issuer.mint(issuer.claims(AUDIENCE)))).resolves.toBeDefined();
      issuer.rotate();
      writeFileSync(file, JSON.stringify(issuer.jwks()));
      clock.advance(30_000);
      await expect(set.attest(await issuer.mint(issuer.claims(AUDIENCE)))).resolves.toBeDefined();
      expect(issuer.requests).toEqual([]);
    } finally {
      set.close();
      await issuer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a missing or invalid file at config time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-jwks-'));
    try {
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, '{"keys": "nope"}');
      for (const jwksFile of [join(dir, 'missing.json'), bad]) {
        const config = attestorConfigSchema.parse({ kind: 'oidc', issuer: 'https://issuer.example', jwksFile });
        expect(() => createAttestorSet([config], { clock: new FakeClock(), audience: AUDIENCE, trustDomain: TRUST_DOMAIN })).toThrow(
          expect.objectContaining({ code: 'ERR_CONFIG_INVALID', path: 'attestors.0.jwksFile' }),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('URLs are checked at config time', () => {
  const create = (fields: Record<string, unknown>): void => {
    const config = attestorConfigSchema.parse({ kind: 'oidc', issuer: 'https://issuer.example', ...fields });
    createAttestorSet([config], { clock: new FakeClock(), audience: AUDIENCE, trustDomain: TRUST_DOMAIN }).close();
  };

  it.each([
    [{ discoveryUrl: 'http://issuer.example.com' }, 'attestors.0.discoveryUrl'],
    [{ issuer: 'http://issuer.example.com' }, 'attestors.0.issuer'],
    [{ jwksUrl: 'http://issuer.example.com/jwks' }, 'attestors.0.jwksUrl'],
    [{ discoveryUrl: 'http://10.0.0.1' }, 'attestors.0.discoveryUrl'],
    [{ discoveryUrl: 'http://localhost.evil.example' }, 'attestors.0.discoveryUrl'],
    [{ discoveryUrl: 'http://128.0.0.1' }, 'attestors.0.discoveryUrl'],
    [{ jwksUrl: 'ftp://issuer.example.com/jwks' }, 'attestors.0.jwksUrl'],
    [{ jwksUrl: 'https://user:pass@issuer.example.com/jwks' }, 'attestors.0.jwksUrl'],
    [{ issuer: 'kubernetes-cluster-1' }, 'attestors.0.issuer'],
  ])('refuses %j', (fields, path) => {
    let caught: unknown;
    try {
      create(fields);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect(caught).toMatchObject({ code: 'ERR_CONFIG_INVALID', path });
  });

  it('refuses two key sources at once', () => {
    expect(() => create({ jwksUrl: 'https://issuer.example/jwks', discoveryUrl: 'https://issuer.example' })).toThrow(ConfigError);
  });

  it.each(['https://issuer.example', 'http://localhost:8080', 'http://127.0.0.1:1', 'http://127.8.9.10:1', 'http://[::1]:1'])('accepts %s without fetching anything', (discoveryUrl) => {
    expect(() => create({ discoveryUrl })).not.toThrow();
  });
});

describe('readiness and observation', () => {
  it('is not ready before keys load, ready after warm(), and reports each fetch', async () => {
    const { set, fetchEvents } = await start();
    expect(set.ready()).toBe(false);
    await expect(set.warm()).resolves.toBe(true);
    expect(set.ready()).toBe(true);
    expect(fetchEvents).toEqual([{ attestor: 'oidc', outcome: 'ok' }]);
  });

  it('an issuer down at startup becomes ready once it recovers, driven by ready() polls', async () => {
    const { set, issuer, clock, fetchEvents } = await start();
    issuer.fail('http-500');
    await expect(set.warm()).resolves.toBe(false);
    expect(fetchEvents).toEqual([{ attestor: 'oidc', outcome: 'error' }]);
    issuer.recover();
    expect(set.ready()).toBe(false); // within the cooldown: no fetch
    expect(fetchEvents).toHaveLength(1);
    clock.advance(30_000);
    set.ready();
    await vi.waitFor(() => expect(set.ready()).toBe(true));
  });

  it('after close, attest fails cleanly with ERR_ISSUER_UNAVAILABLE', async () => {
    const { set } = await start();
    await set.warm();
    set.close();
    await expectRefused(set.attest(await h!.goodToken()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'closed' } });
  });
});
