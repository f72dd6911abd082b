/**
 * The `vault` provider against a FakeVault speaking Vault's HTTP API, through the real node-vault
 * client: issuance (secret, lease, token mapping), client token caching and re-login, every
 * upstream failure, revoke/reap/renew, and reconciliation of orphan leases.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { builtinProviders, createProviderRegistry } from '../../src/credentials/registry.js';
import { createVaultProviders } from '../../src/credentials/vault.js';
import { ConfigError, UpstreamError } from '../../src/errors.js';
import { freePort } from '../support/ports.js';
import { randomUUID } from 'node:crypto';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import type { GrantDraft, GrantRef, ProviderDeps } from '../../src/credentials/provider.js';
import type { UpstreamObserver } from '../../src/upstream/call.js';
import { createStintJwtProvider, STINT_JWT_KIND } from '../../src/credentials/stint_jwt.js';
import { vaultProviderConfigSchema, type VaultProviderConfig } from '../../src/credentials/vault.js';
import { uuidv7 } from '../../src/ids.js';
import { FakeClock } from '../support/fake_clock.js';
import { FakeVault, type Capability } from '../support/fake_vault.js';
import { TestIssuer } from '../support/test_issuer.js';

/** The lease management ACL (what `sys/leases/*` needs). */
const LEASE_ADMIN: Record<string, Capability[]> = {
  'sys/leases/revoke': ['update'],
  'sys/leases/renew': ['update'],
  'sys/leases/lookup': ['update'],
  'sys/leases/lookup/*': ['list', 'sudo'],
};

/** A workload identity. */
function identity(id = 'spiffe://stint.test/ns/payments/sa/api'): WorkloadIdentity {
  return { attestor: 'kubernetes', attestorName: 'cluster', issuer: 'https://k8s.test', subject: 'system:serviceaccount:payments:api', id, claims: {}, expiresAt: 0 };
}

interface VaultEnv {
  readonly clock: FakeClock;
  readonly stint: TestIssuer;
  readonly vault: FakeVault;
  /** ProviderDeps as builtinProviders builds them (real Stint JWTs for the web identity). */
  deps(extra?: { onUpstreamCall?: UpstreamObserver }): ProviderDeps;
  /** A valid provider configuration pointing at the fake. */
  config(overrides?: Record<string, unknown>): VaultProviderConfig;
  /** A grant draft for `target`. */
  draft(target: string | undefined, options?: { ttl?: number; identity?: WorkloadIdentity; options?: Record<string, unknown> }): GrantDraft;
  /** The recorded view of an issued grant. */
  ref(draft: GrantDraft, handle: string | null): GrantRef;
  close(): Promise<void>;
}

async function startVaultEnv(options: { namespace?: string; tls?: boolean } = {}): Promise<VaultEnv> {
  const clock = new FakeClock();
  const stint = await TestIssuer.start({ clock, alg: 'ES256' });
  const vault = await FakeVault.start({
    clock,
    discoveryUrl: stint.issuer,
    namespace: options.namespace,
    tls: options.tls,
    roles: {
      stint: { boundAudiences: ['vault'], tokenTtl: 3600, policy: { 'database/creds/*': ['read'], 'aws/creds/deploy': ['read'], 'kv/static': ['read'], ...LEASE_ADMIN } },
      'short-token': { boundAudiences: ['vault'], tokenTtl: 300, policy: { 'database/creds/*': ['read'] } },
      'reader-only': { boundAudiences: ['vault'], policy: { 'database/creds/readonly': ['read'] } },
      payments: { boundAudiences: ['vault'], boundSubject: identity().id, policy: { 'database/creds/readonly': ['read'] } },
      manager: { boundAudiences: ['vault'], boundSubject: 'urn:stint:provider:vault', policy: LEASE_ADMIN },
    },
    secrets: {
      'database/creds/readonly': { leaseDuration: 3600, maxTtl: 7200 },
      'database/creds/short': { leaseDuration: 120 },
      'database/creds/other': { leaseDuration: 3600 },
      'aws/creds/deploy': { leaseDuration: 900, renewable: false, data: () => ({ access_key: 'AKIAFAKE0000000000', secret_key: `sk-${randomUUID()}`, security_token: null }) },
      'kv/static': { leaseless: true, data: () => ({ value: 'static-secret' }) },
    },
  });
  const signer = {
    signer: () => ({ kid: stint.signingKey.kid, alg: 'ES256' as const, privateKey: stint.signingKey.privateKey }),
    maxTokenTtlSeconds: 3600,
  };
  const stintJwt = createStintJwtProvider({ issuer: stint.issuer, keyring: signer, clock, maxTtlSeconds: 3600 });
  const env: VaultEnv = {
    clock,
    stint,
    vault,
    deps(extra = {}) {
      return {
        clock,
        issuer: stint.issuer,
        onUpstreamCall: extra.onUpstreamCall,
        // As builtinProviders mints web identities (src/credentials/registry.ts).
        async webIdentityToken(grant, audience, ttlSeconds = 300) {
          const now = Math.floor(clock.now() / 1000);
          const who = typeof (grant as GrantDraft).identity === 'object' ? (grant as GrantDraft).identity : { ...identity(grant.identity as string), subject: grant.identity as string };
          const draft: GrantDraft = {
            id: grant.id,
            identity: who,
            rule: 'web-identity',
            granted: { request: { kind: STINT_JWT_KIND, audience }, kind: STINT_JWT_KIND, audience, scopes: [], ttlSeconds, ttlCapped: false, passClaims: {}, options: {} },
            issuedAt: now,
            expiresAt: now + ttlSeconds,
          };
          return (await stintJwt.issue(draft)).token;
        },
      };
    },
    config(overrides = {}) {
      return vaultProviderConfigSchema.parse({ address: vault.url, role: 'stint', timeout: '2s', ...overrides });
    },
    draft(target, o = {}) {
      const now = Math.floor(clock.now() / 1000);
      const ttl = o.ttl ?? 600;
      return {
        id: uuidv7(clock.now()),
        identity: o.identity ?? identity(),
        rule: 'payments-db',
        granted: {
          request: { kind: 'vault', ...(target !== undefined ? { target } : {}), ttlSeconds: ttl },
          kind: 'vault',
          ...(target !== undefined ? { target } : {}),
          scopes: [],
          ttlSeconds: ttl,
          ttlCapped: false,
          passClaims: {},
          options: o.options ?? {},
        },
        issuedAt: now,
        expiresAt: now + ttl,
      };
    },
    ref(draft, handle) {
      return { id: draft.id, kind: 'vault', identity: draft.identity.id, target: draft.granted.target ?? null, audience: null, expiresAt: draft.expiresAt, revocationHandle: handle };
    },
    async close() {
      await vault.close();
      await stint.close();
    },
  };
  return env;
}

/** Run `fn` and return what it threw (failing the test when it does not throw). */
async function thrown(fn: () => Promise<unknown>): Promise<Error & { code?: string; upstreamCode?: string; details?: Record<string, unknown> }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure');
}

let env: VaultEnv;

beforeEach(async () => {
  env = await startVaultEnv();
});

afterEach(async () => {
  await env.close();
});

function provider(overrides: Record<string, unknown> = {}): CredentialProvider {
  const [p] = createVaultProviders(env.config(overrides), env.deps());
  return p!;
}

const never = async (): Promise<boolean> => {
  throw new Error('the vault provider maps leases by live handles, not grant ids');
};
const none = async (): Promise<ReadonlySet<string>> => new Set();
const nowSeconds = (): number => Math.floor(env.clock.now() / 1000);

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const c = vaultProviderConfigSchema.parse({ address: 'https://vault.example:8200', role: 'stint' });
    expect(c).toMatchObject({ authMount: 'jwt', audience: 'vault', timeout: 5, maxTtl: 3600, reconcilePrefixes: [], reconcileGrace: 300, allowInsecureHttp: false });
    expect(c.namespace).toBeUndefined();
    expect(c.managementRole).toBeUndefined();
  });

  it('names the key path of a bad setting in the service configuration', () => {
    const base = { issuer: 'https://stint.test', store: { kind: 'sqlite', path: ':memory:' }, policy: { file: 'policy.yaml' } };
    const at = (vault: Record<string, unknown>): string => {
      try {
        validateConfig({ ...base, providers: { vault } });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).path;
      }
      return 'accepted';
    };
    expect(at({ address: 'http://vault.example:8200', role: 'stint' })).toBe('providers.vault.address');
    expect(at({ address: 'http://vault.example:8200', role: 'stint', allowInsecureHttp: true })).toBe('accepted');
    expect(at({ address: 'http://127.0.0.1:8200', role: 'stint' })).toBe('accepted');
    expect(at({ address: 'https://vault.example:8200?x=1', role: 'stint' })).toBe('providers.vault.address');
    expect(at({ address: 'https://vault.example:8200' })).toBe('providers.vault.role');
    expect(at({ address: 'https://vault.example:8200', role: 'stint', timeout: '0s' })).toBe('providers.vault.timeout');
    expect(at({ address: 'https://vault.example:8200', role: 'stint', reconcilePrefixes: ['database/../sys'] })).toBe('providers.vault.reconcilePrefixes[0]');
    expect(at({ address: 'https://vault.example:8200', role: 'stint', authMount: '/jwt' })).toBe('providers.vault.authMount');
    expect(at({ address: 'https://vault.example:8200', role: 'stint', token: 'hvs.x' })).toBe('providers.vault');
  });

  it('refuses an unreadable or non-PEM caFile at startup, naming providers.vault.caFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-vault-ca-'));
    try {
      const notPem = join(dir, 'ca.txt');
      writeFileSync(notPem, 'not a certificate');
      for (const caFile of [join(dir, 'missing.pem'), notPem]) {
        const e = (() => {
          try {
            createVaultProviders(env.config({ caFile }), env.deps());
          } catch (err) {
            return err as ConfigError;
          }
          return null;
        })();
        expect(e).toBeInstanceOf(ConfigError);
        expect(e!.path).toBe('providers.vault.caFile');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is wired by builtinProviders from providers.vault, and issues with the registry web identity', async () => {
    const signer = { signer: () => ({ kid: env.stint.signingKey.kid, alg: 'ES256' as const, privateKey: env.stint.signingKey.privateKey }), maxTokenTtlSeconds: 3600 };
    const registry = createProviderRegistry(builtinProviders({ issuer: env.stint.issuer, keyring: signer, clock: env.clock, maxTtlSeconds: 3600, upstream: { vault: env.config() } }));
    expect(registry.kinds()).toEqual(['stint-jwt', 'vault']);
    const vault = registry.get('vault');
    expect(vault).toMatchObject({ kind: 'vault', requires: 'target', reapOnExpiry: true, maxTtlSeconds: 3600 });
    const draft = env.draft('database/creds/readonly');
    const cred = await vault.issue(draft);
    expect(env.vault.lease(cred.revocationHandle!)?.state).toBe('live');
    expect(env.vault.logins.at(-1)).toMatchObject({ role: 'stint', sub: draft.identity.id, jti: draft.id, aud: ['vault'] });
  });
});

describe('issue', () => {
  it('returns a database secret with its lease: password as the token, every data key as a secret field', async () => {
    const p = provider();
    const draft = env.draft('database/creds/readonly', { ttl: 600 });
    const cred = await p.issue(draft);
    const lease = env.vault.liveLeases('database/creds/readonly/');
    expect(lease).toHaveLength(1);
    expect(cred.revocationHandle).toBe(lease[0]!.id);
    expect(cred.revocationHandle).toMatch(/^database\/creds\/readonly\/[A-Za-z0-9]{24}$/);
    expect(cred.kind).toBe('vault');
    expect(cred.tokenType).toBe('urn:stint:params:oauth:token-type:vault-secret');
    expect(cred.token).toBe(cred.fields.password);
    expect(cred.fields.username).toMatch(/^v-jwt-readonly-/);
    expect({ ...cred.fields, username: 'u', password: 'p', lease_id: 'l' }).toEqual({ username: 'u', password: 'p', lease_id: 'l', lease_duration: '3600', renewable: 'true' });
    expect(cred.fields.lease_id).toBe(cred.revocationHandle);
    expect([...cred.secretFields].sort()).toEqual(['password', 'username']);
    // The lease (1 h) outlives the grant (10 min): the credential expires with the grant and the reaper revokes the lease then.
    expect(cred.expiresAt).toBe(draft.expiresAt);
    expect(cred.renewAfter).toBe(draft.issuedAt + 400);
    // Logged in as the workload: sub is its identity, jti the grant, aud the configured audience.
    expect(env.vault.logins).toEqual([expect.objectContaining({ role: 'stint', sub: draft.identity.id, jti: draft.id, aud: ['vault'] })]);
    // The secret read carried a token; nothing was asked without one except the login.
    expect(env.vault.requests.map((r) => [r.operation, r.method, r.hadToken])).toEqual([
      ['login', 'POST', false],
      ['read', 'GET', true],
    ]);
  });

  it('expires with a lease shorter than the grant', async () => {
    const draft = env.draft('database/creds/short', { ttl: 600 });
    const cred = await provider().issue(draft);
    expect(cred.expiresAt).toBe(draft.issuedAt + 120);
    expect(cred.fields.lease_duration).toBe('120');
    expect(cred.renewAfter).toBe(draft.issuedAt + 80);
  });

  it('takes secret_key as the token of AWS credentials and leaves null data out', async () => {
    const cred = await provider().issue(env.draft('aws/creds/deploy', { ttl: 600 }));
    expect(cred.token).toMatch(/^sk-/);
    expect(cred.fields).toMatchObject({ access_key: 'AKIAFAKE0000000000', secret_key: cred.token, renewable: 'false', lease_duration: '900' });
    expect('security_token' in cred.fields).toBe(false);
    expect([...cred.secretFields].sort()).toEqual(['access_key', 'secret_key']);
  });

  it('refuses a static secret (no lease to revoke) as a bad upstream response', async () => {
    const e = await thrown(() => provider().issue(env.draft('kv/static')));
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_BAD_RESPONSE', upstreamCode: 'NoLease' });
    expect(e.message).not.toContain('static-secret');
  });

  it('refuses a missing or malformed target before any Vault call', async () => {
    const p = provider();
    for (const target of [undefined, '', '/database/creds/readonly', 'database/../sys/leases', 'database//creds', 'database/creds/readonly?list=true', 'sys/leases/lookup', 'auth/token/create', 'database/creds/a b']) {
      const e = await thrown(() => p.issue(env.draft(target)));
      expect(e, String(target)).toMatchObject({ code: 'ERR_INVALID_REQUEST' });
    }
    expect(env.vault.requests).toEqual([]);
  });

  it('logs in as the rule option role, and refuses unknown rule options', async () => {
    const p = provider();
    await p.issue(env.draft('database/creds/readonly', { options: { role: 'payments' } }));
    expect(env.vault.logins.map((l) => l.role)).toEqual(['payments']);
    const e = await thrown(() => p.issue(env.draft('database/creds/readonly', { options: { rolee: 'payments' } })));
    expect(e).toMatchObject({ code: 'ERR_INVALID_REQUEST' });
    // A role whose bound_subject is another identity refuses this workload's JWT.
    const other = await thrown(() => p.issue(env.draft('database/creds/readonly', { options: { role: 'payments' }, identity: identity('spiffe://stint.test/ns/batch/sa/job') })));
    expect(other).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'invalid jwt' });
  });

  it('ignores VAULT_TOKEN, VAULT_NAMESPACE, VAULT_PREFIX and VAULT_ADDR in Stint’s environment', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { VAULT_TOKEN: 'hvs.from-the-environment', VAULT_NAMESPACE: 'elsewhere', VAULT_PREFIX: '/prefix', VAULT_ADDR: 'http://127.0.0.1:1' });
    try {
      const cred = await provider().issue(env.draft('database/creds/readonly'));
      expect(env.vault.lease(cred.revocationHandle!)?.state).toBe('live');
      expect(env.vault.requests.map((r) => [r.operation, r.hadToken, r.namespace])).toEqual([
        ['login', false, undefined],
        ['read', true, undefined],
      ]);
    } finally {
      for (const k of ['VAULT_TOKEN', 'VAULT_NAMESPACE', 'VAULT_PREFIX', 'VAULT_ADDR']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it('over https trusts Vault’s certificate through caFile, and nothing else (not even with VAULT_SKIP_VERIFY)', async () => {
    await env.close();
    env = await startVaultEnv({ tls: true });
    expect(env.vault.url).toMatch(/^https:/);
    const cred = await provider({ caFile: env.vault.caFile }).issue(env.draft('database/creds/readonly'));
    expect(env.vault.lease(cred.revocationHandle!)?.state).toBe('live');
    const saved = process.env.VAULT_SKIP_VERIFY;
    process.env.VAULT_SKIP_VERIFY = '1';
    try {
      const e = await thrown(() => provider().issue(env.draft('database/creds/readonly')));
      expect(e).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      if (saved === undefined) delete process.env.VAULT_SKIP_VERIFY;
      else process.env.VAULT_SKIP_VERIFY = saved;
    }
    expect(env.vault.logins).toHaveLength(1);
  });

  it('sends the configured namespace on every call', async () => {
    await env.close();
    env = await startVaultEnv({ namespace: 'team-a' });
    const cred = await provider({ namespace: 'team-a' }).issue(env.draft('database/creds/readonly'));
    expect(env.vault.lease(cred.revocationHandle!)?.state).toBe('live');
    expect(env.vault.requests.every((r) => r.namespace === 'team-a')).toBe(true);
    // Without it, the role lives in another namespace: Vault says the role does not exist.
    const e = await thrown(() => provider().issue(env.draft('database/creds/readonly')));
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'role not found' });
  });
});

describe('client tokens', () => {
  it('reuses a token for the same identity while it outlives the grant, logs in again when it would not', async () => {
    const p = provider();
    await p.issue(env.draft('database/creds/readonly', { ttl: 600 }));
    await p.issue(env.draft('database/creds/other', { ttl: 600 }));
    expect(env.vault.logins).toHaveLength(1);
    // Another identity has its own token.
    await p.issue(env.draft('database/creds/readonly', { identity: identity('spiffe://stint.test/ns/payments/sa/worker') }));
    expect(env.vault.logins.map((l) => l.sub)).toEqual([identity().id, 'spiffe://stint.test/ns/payments/sa/worker']);
    // 50 min later the 1 h token would die (and take its leases) before a 15 min grant ends.
    env.clock.advance(50 * 60_000);
    const draft = env.draft('database/creds/readonly', { ttl: 900 });
    const cred = await p.issue(draft);
    expect(env.vault.logins).toHaveLength(3);
    expect(cred.expiresAt).toBe(draft.expiresAt);
    env.clock.advance(14 * 60_000);
    expect(env.vault.lease(cred.revocationHandle!)?.state).toBe('live');
  });

  it('caps the credential at the life of a token shorter than the grant (Vault revokes leases with their token)', async () => {
    const draft = env.draft('database/creds/readonly', { ttl: 1800 });
    const cred = await provider({ role: 'short-token' }).issue(draft);
    expect(cred.expiresAt).toBe(draft.issuedAt + 300);
    env.clock.advance(301_000);
    expect(env.vault.lease(cred.revocationHandle!)).toMatchObject({ state: 'revoked', endedBy: 'token' });
  });

  it('logs in again once when Vault refuses a cached token with 403', async () => {
    const p = provider();
    await p.issue(env.draft('database/creds/readonly'));
    env.vault.revokeAllTokens();
    const cred = await p.issue(env.draft('database/creds/readonly'));
    expect(env.vault.logins).toHaveLength(2);
    expect(env.vault.lease(cred.revocationHandle!)?.state).toBe('live');
  });

  it('does not retry a 403 on a fresh token: the denial is Vault policy', async () => {
    const e = await thrown(() => provider({ role: 'reader-only' }).issue(env.draft('database/creds/other')));
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'permission denied' });
    expect(e.message).toContain('HTTP 403');
    expect(env.vault.logins).toHaveLength(1);
  });

  it('shares one login between concurrent issuances of one identity', async () => {
    const p = provider();
    const creds = await Promise.all([1, 2, 3, 4].map(() => p.issue(env.draft('database/creds/readonly'))));
    expect(new Set(creds.map((c) => c.revocationHandle)).size).toBe(4);
    expect(env.vault.logins).toHaveLength(1);
  });
});

describe('upstream failures', () => {
  const cases: [string, () => void, Record<string, unknown>][] = [
    ['denied', () => env.vault.fault('deny', { on: 'read' }), { code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'permission denied' }],
    ['throttled', () => env.vault.fault('throttle', { on: 'read' }), { code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'rate limit quota exceeded', details: expect.objectContaining({ retryAfterSeconds: 10 }) }],
    ['sealed', () => env.vault.fault('sealed'), { code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'Vault is sealed', details: expect.objectContaining({ retryAfterSeconds: 5 }) }],
    ['standby', () => env.vault.fault('standby', { on: 'login' }), { code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'standby' }],
    ['malformed JSON', () => env.vault.fault('malformed', { on: 'read' }), { code: 'ERR_UPSTREAM_BAD_RESPONSE', upstreamCode: 'MalformedResponse' }],
    ['login without auth', () => env.vault.fault('empty', { on: 'login' }), { code: 'ERR_UPSTREAM_BAD_RESPONSE', upstreamCode: 'MalformedResponse' }],
    ['connection dropped', () => env.vault.fault('close', { on: 'read' }), { code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'ECONNRESET' }],
  ];
  for (const [name, inject, expected] of cases) {
    it(`${name}: ${String(expected.code)}, and the next request succeeds`, async () => {
      const p = provider();
      inject();
      const e = await thrown(() => p.issue(env.draft('database/creds/readonly')));
      expect(e).toBeInstanceOf(UpstreamError);
      expect(e).toMatchObject(expected);
      env.vault.clearFaults();
      const cred = await p.issue(env.draft('database/creds/readonly'));
      expect(env.vault.lease(cred.revocationHandle!)?.state).toBe('live');
    });
  }

  it('login refused (unknown role, wrong audience): ERR_UPSTREAM_DENIED naming Vault’s reason', async () => {
    const role = await thrown(() => provider({ role: 'nope' }).issue(env.draft('database/creds/readonly')));
    expect(role).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'role not found' });
    expect(role.message).toContain('HTTP 400');
    const aud = await thrown(() => provider({ audience: 'not-vault' }).issue(env.draft('database/creds/readonly')));
    expect(aud).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'invalid jwt' });
  });

  it('unreachable: ERR_UPSTREAM_UNAVAILABLE', async () => {
    const port = await freePort();
    const [p] = createVaultProviders(vaultProviderConfigSchema.parse({ address: `http://127.0.0.1:${port}`, role: 'stint' }), env.deps());
    const e = await thrown(() => p!.issue(env.draft('database/creds/readonly')));
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'ECONNREFUSED', details: expect.objectContaining({ retryAfterSeconds: 5 }) });
  });

  it('no answer: times out after `timeout` with ERR_UPSTREAM_UNAVAILABLE', async () => {
    env.vault.fault('hang', { on: 'read' });
    const started = Date.now();
    const e = await thrown(() => provider({ timeout: '1s' }).issue(env.draft('database/creds/readonly')));
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'Timeout' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a read answered without lease_duration is refused and the lease it created revoked', async () => {
    const p = provider();
    env.vault.fault('partial', { on: 'read', times: 1 });
    const e = await thrown(() => p.issue(env.draft('database/creds/readonly')));
    expect(e).toMatchObject({ code: 'ERR_UPSTREAM_BAD_RESPONSE', upstreamCode: 'MalformedResponse' });
    const [lease, ...more] = env.vault.leases('database/creds/readonly/');
    expect(more).toEqual([]);
    expect(lease).toMatchObject({ state: 'revoked', endedBy: 'revoke' });
  });

  it('never puts the Vault token, the JWT or secret data in an error or a metric label', async () => {
    const labels: string[] = [];
    const p = createVaultProviders(env.config(), env.deps({ onUpstreamCall: (kind, op, outcome, _s, code) => labels.push(`${kind}|${op}|${outcome}|${code ?? ''}`) }))[0]!;
    await p.issue(env.draft('database/creds/readonly'));
    for (const mode of ['deny', 'throttle', 'sealed', 'malformed', 'close'] as const) {
      // A cached token refused with 403 is retried once with a fresh login: deny twice.
      env.vault.fault(mode, { on: 'read', times: mode === 'deny' ? 2 : 1 });
      const e = await thrown(() => p.issue(env.draft('database/creds/readonly')));
      const text = `${e.message} ${JSON.stringify(e)} ${JSON.stringify((e as { details?: unknown }).details)} ${String((e as { cause?: unknown }).cause ?? '')}`;
      expect(text).not.toMatch(/hvs\.|eyJ|password/);
      expect((e as { cause?: unknown }).cause).toBeUndefined();
    }
    expect(labels).toContain('vault|login|ok|');
    expect(labels).toContain('vault|read|ok|');
    expect(labels).toContain('vault|read|error|permission denied');
    expect(labels).toContain('vault|read|error|rate limit quota exceeded');
    expect(labels.every((l) => !/hvs\.|eyJ/.test(l))).toBe(true);
  });
});

describe('revoke, reap and renew', () => {
  it('revokes the lease upstream (effective), idempotently, and reap does the same', async () => {
    const p = provider();
    const draft = env.draft('database/creds/readonly');
    const cred = await p.issue(draft);
    expect(await p.revoke(env.ref(draft, cred.revocationHandle!))).toEqual({ effective: true });
    expect(env.vault.lease(cred.revocationHandle!)).toMatchObject({ state: 'revoked', endedBy: 'revoke' });
    expect(env.vault.requests.filter((r) => r.operation === 'revoke').map((r) => r.method)).toEqual(['PUT']);
    await expect(p.revoke(env.ref(draft, cred.revocationHandle!))).resolves.toEqual({ effective: true });
    await expect(p.reap!(env.ref(draft, 'database/creds/readonly/UnknownLease0000000000000'))).resolves.toEqual({ effective: true });
    await expect(p.revoke(env.ref(draft, null))).resolves.toMatchObject({ effective: true, note: expect.stringContaining('no Vault lease') });
  });

  it('manages leases as the management role, logged in as urn:stint:provider:vault', async () => {
    const p = provider({ role: 'reader-only', managementRole: 'manager' });
    const draft = env.draft('database/creds/readonly');
    const cred = await p.issue(draft);
    await p.revoke(env.ref(draft, cred.revocationHandle!));
    expect(env.vault.lease(cred.revocationHandle!)?.state).toBe('revoked');
    expect(env.vault.logins.map((l) => [l.role, l.sub])).toEqual([
      ['reader-only', draft.identity.id],
      ['manager', 'urn:stint:provider:vault'],
    ]);
  });

  it('a revoke Vault refuses or cannot serve fails with the upstream code (the reaper retries)', async () => {
    const p = provider({ managementRole: 'reader-only' });
    const draft = env.draft('database/creds/readonly');
    const cred = await p.issue(draft);
    await expect(p.revoke(env.ref(draft, cred.revocationHandle!))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'permission denied' });
    const q = provider();
    env.vault.fault('sealed', { on: 'revoke' });
    await expect(q.revoke(env.ref(draft, cred.revocationHandle!))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'Vault is sealed' });
    env.vault.clearFaults();
    await q.revoke(env.ref(draft, cred.revocationHandle!));
    expect(env.vault.lease(cred.revocationHandle!)?.state).toBe('revoked');
  });

  it('renews a renewable lease by the increment; refuses a non-renewable or unknown one', async () => {
    const p = provider();
    const draft = env.draft('database/creds/readonly');
    const cred = await p.issue(draft);
    env.clock.advance(30 * 60_000);
    const renewed = await p.renew!(env.ref(draft, cred.revocationHandle!), 1200);
    const now = Math.floor(env.clock.now() / 1000);
    expect(renewed.expiresAt).toBe(now + 1200);
    expect(env.vault.lease(cred.revocationHandle!)).toMatchObject({ renewals: 1, expireTime: (now + 1200) * 1000 });
    // Vault caps a renewal at the role's max TTL (2 h from issue) and says so in lease_duration.
    const other = env.vault.createLease('database/creds/readonly');
    const capped = await p.renew!(env.ref(draft, other), 10_000);
    expect(capped.expiresAt).toBe(now + 7200);

    const aws = env.draft('aws/creds/deploy');
    const awsCred = await p.issue(aws);
    await expect(p.renew!(env.ref(aws, awsCred.revocationHandle!), 600)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'lease is not renewable' });
    await p.revoke(env.ref(draft, cred.revocationHandle!));
    await expect(p.renew!(env.ref(draft, cred.revocationHandle!), 600)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'lease not found' });
  });
});

describe('reconcile', () => {
  it('is offered only when reconcilePrefixes are configured', () => {
    expect(provider().reconcile).toBeUndefined();
    expect(provider({ reconcilePrefixes: ['database/creds/readonly'] }).reconcile).toBeTypeOf('function');
  });

  it('revokes leases under the prefixes that no live grant holds, once older than the grace', async () => {
    const live = new Set<string>();
    const p = provider({ reconcilePrefixes: ['database/creds/readonly'], reconcileGrace: '5m' });
    const kept = await p.issue(env.draft('database/creds/readonly'));
    live.add(kept.revocationHandle!);
    const forgotten = await p.issue(env.draft('database/creds/readonly')); // e.g. its grant was never recorded
    const orphan = env.vault.createLease('database/creds/readonly', { issueTime: env.clock.now() - 3600_000, leaseDuration: 86400 });
    const elsewhere = env.vault.createLease('database/creds/other', { issueTime: env.clock.now() - 3600_000, leaseDuration: 86400 });

    const first = await p.reconcile!(never, nowSeconds(), async () => live);
    expect(first).toEqual({ found: 3, removed: [orphan], failed: [] });
    expect(env.vault.lease(orphan)).toMatchObject({ state: 'revoked', endedBy: 'revoke' });
    expect(env.vault.lease(forgotten.revocationHandle!)?.state).toBe('live'); // younger than the grace
    expect(env.vault.lease(elsewhere)?.state).toBe('live'); // not under a reconciled prefix

    env.clock.advance(6 * 60_000);
    const second = await p.reconcile!(never, nowSeconds(), async () => live);
    expect(second).toEqual({ found: 2, removed: [forgotten.revocationHandle], failed: [] });
    expect(env.vault.lease(kept.revocationHandle!)?.state).toBe('live');
    // Listing used Vault's LIST verb on sys/leases/lookup/<prefix>/.
    expect(env.vault.requests.filter((r) => r.operation === 'list').map((r) => [r.method, r.path])).toContainEqual(['LIST', 'sys/leases/lookup/database/creds/readonly/']);
  });

  it('finds nothing under an empty prefix (Vault answers 404) and does not ask for live handles', async () => {
    const p = provider({ reconcilePrefixes: ['database/creds/readonly'] });
    let asked = 0;
    await expect(p.reconcile!(never, nowSeconds(), async () => (asked++, new Set()))).resolves.toEqual({ found: 0, removed: [], failed: [] });
    expect(asked).toBe(0);
  });

  it('descends into sub-prefixes', async () => {
    const p = provider({ reconcilePrefixes: ['database/creds'], reconcileGrace: '1s' });
    const a = env.vault.createLease('database/creds/readonly', { issueTime: env.clock.now() - 60_000 });
    const b = env.vault.createLease('database/creds/other', { issueTime: env.clock.now() - 60_000 });
    const report = await p.reconcile!(never, nowSeconds(), none);
    expect(report.found).toBe(2);
    expect([...report.removed].sort()).toEqual([a, b].sort());
  });

  it('reports a lease it cannot revoke and a prefix it cannot list, and goes on', async () => {
    const p = provider({ reconcilePrefixes: ['database/creds/readonly', 'database/creds/other'], reconcileGrace: '1s' });
    const orphan = env.vault.createLease('database/creds/readonly', { issueTime: env.clock.now() - 60_000 });
    const other = env.vault.createLease('database/creds/other', { issueTime: env.clock.now() - 60_000 });
    env.vault.fault('throttle', { on: 'revoke' });
    await expect(p.reconcile!(never, nowSeconds(), none)).resolves.toEqual({
      found: 2,
      removed: [],
      failed: [`${orphan}: ERR_UPSTREAM_UNAVAILABLE (rate limit quota exceeded)`, `${other}: ERR_UPSTREAM_UNAVAILABLE (rate limit quota exceeded)`],
    });
    env.vault.clearFaults();
    // Denied twice: the cached management token, then the fresh one it is replaced with.
    env.vault.fault('deny', { on: 'list', times: 2 });
    await expect(p.reconcile!(never, nowSeconds(), none)).resolves.toEqual({ found: 1, removed: [other], failed: ['database/creds/readonly/: ERR_UPSTREAM_DENIED (permission denied)'] });
    expect(env.vault.lease(orphan)?.state).toBe('live');
    expect(env.vault.lease(other)?.state).toBe('revoked');
  });
});
