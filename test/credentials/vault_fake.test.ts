/**
 * The FakeVault behaves as Vault does where the vault provider's tests rely on it: jwt login
 * verifies the JWT against the issuer's discovery document and JWKS and the role's bindings,
 * tokens and ACLs gate every other call, LIST (the verb, or GET ?list=true) lists leases with
 * Vault's 404 for nothing, revoking an unknown lease succeeds, leases expire with their TTL and
 * die with their token, and error bodies are `{ "errors": [...] }`.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../support/fake_clock.js';
import { FakeVault } from '../support/fake_vault.js';
import { generateTestKey, TestIssuer } from '../support/test_issuer.js';

const clock = new FakeClock();
let issuer: TestIssuer;
let vault: FakeVault;

beforeAll(async () => {
  issuer = await TestIssuer.start({ clock, alg: 'ES256' });
});

afterAll(async () => {
  await vault?.close();
  await issuer?.close();
});

beforeEach(async () => {
  await vault?.close();
  vault = await FakeVault.start({
    clock,
    discoveryUrl: issuer.issuer,
    roles: {
      app: { boundAudiences: ['vault'], tokenTtl: 600, policy: { 'database/creds/+': ['read'], 'sys/leases/lookup/*': ['list', 'sudo'], 'sys/leases/revoke': ['update'] } },
      pinned: { boundAudiences: ['vault'], boundSubject: 'workload-a', boundClaims: { team: ['payments', 'billing'] }, policy: {} },
      'no-sudo': { boundAudiences: ['vault'], policy: { 'sys/leases/lookup/*': ['list'] } },
    },
    secrets: { 'database/creds/readonly': { leaseDuration: 300 }, 'kv/other': { leaseDuration: 300 } },
  });
});

/** One raw HTTP call (node:http sends any verb, LIST included). */
function call(method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<{ status: number; text: string; json: unknown }> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(`${vault.url}${path}`, { method, headers: { ...(options.token ? { 'X-Vault-Token': options.token } : {}), ...(body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: unknown = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function jwt(claims: Record<string, unknown> = {}, key = issuer.signingKey): Promise<string> {
  const iat = Math.floor(clock.now() / 1000);
  return issuer.mint({ iss: issuer.issuer, sub: 'workload-a', aud: 'vault', iat, nbf: iat, exp: iat + 120, jti: 'g-1', ...claims }, { key });
}

async function login(role = 'app', claims: Record<string, unknown> = {}): Promise<string> {
  const res = await call('POST', '/v1/auth/jwt/login', { body: { role, jwt: await jwt(claims) } });
  expect(res.status).toBe(200);
  return (res.json as { auth: { client_token: string } }).auth.client_token;
}

describe('jwt login', () => {
  it('issues a token for a JWT the issuer signed, with Vault’s auth shape', async () => {
    const res = await call('PUT', '/v1/auth/jwt/login', { body: { role: 'app', jwt: await jwt() } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ auth: { client_token: expect.stringMatching(/^hvs\./), accessor: expect.any(String), lease_duration: 600, renewable: true, policies: ['default', 'app'] } });
    expect(vault.logins).toEqual([expect.objectContaining({ role: 'app', sub: 'workload-a', jti: 'g-1', aud: ['vault'] })]);
  });

  const refused: [string, () => Promise<Record<string, unknown>>, RegExp][] = [
    ['an unknown role', async () => ({ role: 'nope', jwt: await jwt() }), /^role "nope" could not be found$/],
    ['no role', async () => ({ jwt: await jwt() }), /^missing role$/],
    ['no jwt', async () => ({ role: 'app' }), /^missing token$/],
    ['an unpublished key', async () => ({ role: 'app', jwt: await jwt({}, generateTestKey('ES256')) }), /^error validating token: /],
    ['an expired JWT (beyond the 60 s leeway)', async () => ({ role: 'app', jwt: await jwt({ iat: 0, nbf: 0, exp: Math.floor(clock.now() / 1000) - 61 }) }), /^error validating token: /],
    ['another issuer', async () => ({ role: 'app', jwt: await jwt({ iss: 'https://evil.example' }) }), /^error validating token: /],
    ['another audience', async () => ({ role: 'app', jwt: await jwt({ aud: 'not-vault' }) }), /invalid audience/],
    ['another subject than bound_subject', async () => ({ role: 'pinned', jwt: await jwt({ sub: 'workload-b', team: 'payments' }) }), /^sub claim does not match bound subject$/],
    ['a claim outside bound_claims', async () => ({ role: 'pinned', jwt: await jwt({ team: 'Payments' }) }), /^error validating claims: claim "team"/],
  ];
  for (const [name, body, message] of refused) {
    it(`refuses ${name} with 400 and Vault’s error body`, async () => {
      const res = await call('POST', '/v1/auth/jwt/login', { body: await body() });
      expect(res.status).toBe(400);
      expect((res.json as { errors: string[] }).errors).toEqual([expect.stringMatching(message)]);
    });
  }

  it('accepts bound claims that match', async () => {
    const token = await login('pinned', { team: 'billing' });
    expect(token).toMatch(/^hvs\./);
    expect(vault.logins.at(-1)).toMatchObject({ role: 'pinned', sub: 'workload-a' });
  });
});

describe('tokens, ACLs and leases', () => {
  it('needs a valid token and an ACL for every other call', async () => {
    expect(await call('GET', '/v1/database/creds/readonly')).toMatchObject({ status: 403, json: { errors: ['permission denied'] } });
    expect(await call('GET', '/v1/database/creds/readonly', { token: 'hvs.forged' })).toMatchObject({ status: 403 });
    const token = await login();
    expect((await call('GET', '/v1/kv/other', { token })).status).toBe(403);
    const res = await call('GET', '/v1/database/creds/readonly', { token });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ lease_id: expect.stringMatching(/^database\/creds\/readonly\/[A-Za-z0-9]{24}$/), lease_duration: 300, renewable: true, data: { username: expect.any(String), password: expect.any(String) } });
  });

  it('lists leases with the LIST verb or GET ?list=true, 404 when there are none, and wants sudo', async () => {
    const token = await login();
    expect(await call('LIST', '/v1/sys/leases/lookup/database/creds/readonly/', { token })).toMatchObject({ status: 404, json: { errors: [] } });
    const id = ((await call('GET', '/v1/database/creds/readonly', { token })).json as { lease_id: string }).lease_id;
    const listed = await call('LIST', '/v1/sys/leases/lookup/database/creds/readonly/', { token });
    expect(listed).toMatchObject({ status: 200, json: { data: { keys: [id.split('/').pop()] } } });
    expect(await call('GET', '/v1/sys/leases/lookup/database/creds/readonly?list=true', { token })).toMatchObject({ status: 200, json: { data: { keys: [id.split('/').pop()] } } });
    expect((await call('LIST', '/v1/sys/leases/lookup/database/', { token })).json).toMatchObject({ data: { keys: ['creds/'] } });
    const noSudo = await login('no-sudo');
    expect((await call('LIST', '/v1/sys/leases/lookup/database/creds/readonly/', { token: noSudo })).status).toBe(403);
  });

  it('revokes with 204, also a lease it does not know', async () => {
    const token = await login();
    const id = ((await call('GET', '/v1/database/creds/readonly', { token })).json as { lease_id: string }).lease_id;
    expect(await call('PUT', '/v1/sys/leases/revoke', { token, body: { lease_id: id } })).toMatchObject({ status: 204, text: '' });
    expect(vault.lease(id)).toMatchObject({ state: 'revoked', endedBy: 'revoke' });
    expect((await call('PUT', '/v1/sys/leases/revoke', { token, body: { lease_id: 'database/creds/readonly/nope' } })).status).toBe(204);
    expect((await call('PUT', '/v1/sys/leases/revoke', { token, body: {} })).status).toBe(400);
  });

  it('expires a lease at its TTL, and revokes the leases of a token that ends', async () => {
    const token = await login();
    const a = ((await call('GET', '/v1/database/creds/readonly', { token })).json as { lease_id: string }).lease_id;
    clock.advance(300_000);
    expect(vault.lease(a)).toMatchObject({ state: 'expired', endedBy: 'ttl' });
    const b = ((await call('GET', '/v1/database/creds/readonly', { token })).json as { lease_id: string }).lease_id;
    clock.advance(300_000); // the token's 600 s are up: its lease goes with it
    expect(vault.lease(b)).toMatchObject({ state: 'revoked', endedBy: 'token' });
    expect((await call('GET', '/v1/database/creds/readonly', { token })).status).toBe(403);
  });

  it('injects faults per operation', async () => {
    const token = await login();
    vault.fault('malformed', { on: 'read', times: 1 });
    const bad = await call('GET', '/v1/database/creds/readonly', { token });
    expect(bad.status).toBe(200);
    expect(bad.json).toBeUndefined();
    vault.fault('throttle', { on: 'read', times: 1 });
    expect(await call('GET', '/v1/database/creds/readonly', { token })).toMatchObject({ status: 429, json: { errors: [expect.stringContaining('rate limit quota exceeded')] } });
    vault.fault('sealed', { times: 1 });
    expect(await call('GET', '/v1/sys/health', { token })).toMatchObject({ status: 503, json: { errors: ['Vault is sealed'] } });
    expect((await call('GET', '/v1/database/creds/readonly', { token })).status).toBe(200);
  });
});
