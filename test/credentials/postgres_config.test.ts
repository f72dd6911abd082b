/**
 * Configuration of `providers.postgres` and the naming of generated roles, without a server:
 * bad configuration stops startup with a ConfigError naming the key path (and never the admin
 * URL); role names carry the grant id, fit PostgreSQL's 63-byte limit and map back.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { createPostgresProviders, postgresProviderConfigSchema } from '../../src/credentials/postgres.js';
import { grantIdOfRole, MAX_ROLE_PREFIX_LENGTH, roleNameFor, uuidv7TimeMs } from '../../src/credentials/postgres/role_name.js';
import { scramSha256Verifier } from '../../src/credentials/postgres/scram.js';
import { classifyPgError } from '../../src/credentials/postgres/errors.js';
import { safeUpstreamMessage } from '../../src/upstream/safe_message.js';
import type { ProviderDeps } from '../../src/credentials/provider.js';
import { ConfigError } from '../../src/errors.js';
import { uuidv7 } from '../../src/ids.js';
import { FakeClock } from '../support/fake_clock.js';

const dir = mkdtempSync(join(tmpdir(), 'stint-pgcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const deps: ProviderDeps = { clock: new FakeClock(), issuer: 'https://stint.test', webIdentityToken: () => Promise.reject(new Error('unused')) };

const base = { host: 'db.internal', database: 'app' };

function create(main: Record<string, unknown>, rest: Record<string, unknown> = {}) {
  return createPostgresProviders(postgresProviderConfigSchema.parse({ databases: { main: { ...base, ...main } }, ...rest }), deps);
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('a valid configuration gives one provider of kind postgres with the defaults', async () => {
    process.env.STINT_PGCFG_URL = 'postgresql://stint_admin:s3cret-value@db.internal:5432/app';
    const [p, ...rest] = create({ adminUrl: { env: 'STINT_PGCFG_URL' } });
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ kind: 'postgres', maxTtlSeconds: 3600, minTtlSeconds: 1, requires: 'target', reapOnExpiry: true });
    expect(typeof p!.reconcile).toBe('function');
    await p!.close!();
    const parsed = postgresProviderConfigSchema.parse({ databases: { main: { ...base, adminUrl: { env: 'X' } } } });
    expect(parsed).toEqual({
      databases: { main: { ...base, adminUrl: { env: 'X' }, port: 5432, rolePrefix: 'stint_', connectTimeout: 5, statementTimeout: 10, connectionLimit: 10 } },
      maxTtl: 3600,
      reconcileGrace: 300,
    });
  });

  it('reads the admin URL from a file', async () => {
    const file = join(dir, 'admin-url');
    writeFileSync(file, 'postgres://admin:pw-in-file@db.internal/app\n', { mode: 0o600 });
    const [p, ...rest] = create({ adminUrl: { file } });
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ kind: 'postgres' });
    await p!.close!();
    // The file's content is what is checked: the same file holding a URL that is not postgres:// is
    // refused on the key path, without the secret in the error.
    writeFileSync(file, 'https://admin:pw-in-file@db.internal/app\n', { mode: 0o600 });
    const err = configError(() => create({ adminUrl: { file } }));
    expect(err.path).toBe('providers.postgres.databases.main.adminUrl');
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain('pw-in-file');
  });

  it('a missing secret names the key path and the reference, never a value', () => {
    delete process.env.STINT_PGCFG_MISSING;
    let err = configError(() => create({ adminUrl: { env: 'STINT_PGCFG_MISSING' } }));
    expect(err).toMatchObject({ code: 'ERR_CONFIG_INVALID', path: 'providers.postgres.databases.main.adminUrl' });
    expect(err.message).toContain('STINT_PGCFG_MISSING');
    err = configError(() => create({ adminUrl: { file: join(dir, 'nope') } }));
    expect(err).toMatchObject({ path: 'providers.postgres.databases.main.adminUrl' });
    expect(err.message).toContain('ENOENT');
  });

  it('an admin URL that is not a postgresql:// URL is refused without echoing it', () => {
    for (const value of ['not a url with s3cret', 'https://admin:s3cret@db.internal/app']) {
      process.env.STINT_PGCFG_BAD = value;
      const err = configError(() => create({ adminUrl: { env: 'STINT_PGCFG_BAD' } }));
      expect(err.path).toBe('providers.postgres.databases.main.adminUrl');
      expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain('s3cret');
    }
  });

  it('the service configuration names the key path of a bad provider setting', () => {
    const service = (postgres: unknown) => ({
      issuer: 'https://stint.test',
      store: { kind: 'sqlite', path: ':memory:' },
      policy: { file: 'policy.yaml' },
      providers: { postgres },
    });
    const cases: [unknown, string][] = [
      [{ databases: { main: { ...base, adminUrl: { env: 'X' }, rolePrefix: 'Stint-' } } }, 'providers.postgres.databases.main.rolePrefix'],
      [{ databases: { main: { ...base, adminUrl: { env: 'X' }, rolePrefix: 'p'.repeat(MAX_ROLE_PREFIX_LENGTH + 1) } } }, 'providers.postgres.databases.main.rolePrefix'],
      [{ databases: { main: { ...base, adminUrl: 'postgresql://admin:inline@db/app' } } }, 'providers.postgres.databases.main.adminUrl'],
      [{ databases: { main: { ...base, adminUrl: { env: 'X' }, sslmode: 'on' } } }, 'providers.postgres.databases.main.sslmode'],
      [{ databases: { main: { ...base, adminUrl: { env: 'X' }, statementTimeout: '0s' } } }, 'providers.postgres.databases.main.statementTimeout'],
      [{ databases: { main: { ...base, adminUrl: { env: 'X' }, password: 'x' } } }, 'providers.postgres.databases.main'],
      [{ databases: { main: { adminUrl: { env: 'X' }, database: 'app' } } }, 'providers.postgres.databases.main.host'],
      [{ databases: {} }, 'providers.postgres.databases'],
      [{ databases: { main: { ...base, adminUrl: { env: 'X' } } }, reconcileGrace: 'soon' }, 'providers.postgres.reconcileGrace'],
    ];
    for (const [postgres, path] of cases) {
      const err = configError(() => validateConfig(service(postgres)));
      expect(err.path, JSON.stringify(postgres)).toBe(path);
      expect(err.message).not.toContain('inline');
    }
  });
});

describe('role names', () => {
  it('carry the grant id, fit in 63 bytes with the longest prefix, and map back', () => {
    const id = uuidv7(Date.UTC(2030, 0, 1));
    const prefix = 'p'.repeat(MAX_ROLE_PREFIX_LENGTH);
    const name = roleNameFor(prefix, id);
    expect(Buffer.byteLength(name)).toBe(63);
    expect(grantIdOfRole(prefix, name)).toBe(id);
    expect(grantIdOfRole('stint_', roleNameFor('stint_', id))).toBe(id);
    expect(uuidv7TimeMs(id)).toBe(Date.UTC(2030, 0, 1));
  });

  it('anything else under the prefix is not a grant role', () => {
    for (const name of ['stint_readers', 'stint_', `stint_${'0'.repeat(31)}`, `stint_${'A'.repeat(32)}`, `stint_${'0'.repeat(33)}`, `other_${'0'.repeat(32)}`]) {
      expect(grantIdOfRole('stint_', name), name).toBeNull();
    }
    expect(() => roleNameFor('stint_', 'not-a-uuid')).toThrow(RangeError);
    expect(() => roleNameFor('stint_', '0F8FAD5B-D9CB-469F-A165-70867728950E')).toThrow(RangeError);
    expect(uuidv7TimeMs('0f8fad5b-d9cb-469f-a165-70867728950e')).toBeNull();
  });
});

describe('SCRAM verifiers', () => {
  it('match the RFC 7677 example (user "user", password "pencil")', async () => {
    // RFC 7677 §3: the server's signature and the client's proof of that exchange, recomputed
    // from the verifier's StoredKey and ServerKey (ClientKey = proof XOR HMAC(StoredKey, AuthMessage)).
    const salt = 'W22ZaJ0SNY7soEsUEjb6gQ==';
    const v = await scramSha256Verifier('pencil', 4096, Buffer.from(salt, 'base64'));
    const m = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(v)!;
    expect(m[1]).toBe(salt);
    const storedKey = Buffer.from(m[2]!, 'base64');
    const serverKey = Buffer.from(m[3]!, 'base64');
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=${salt},i=4096,c=biws,r=${nonce}`;
    expect(createHmac('sha256', serverKey).update(authMessage).digest('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]!));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);
    // A fresh salt each time.
    expect(await scramSha256Verifier('pencil')).not.toBe(await scramSha256Verifier('pencil'));
  });

  it('refuse passwords SASLprep would change', async () => {
    await expect(scramSha256Verifier('caf\u00e9')).rejects.toThrow(RangeError);
  });
});

describe('error classification', () => {
  it('redacts known secrets and bounds server text', () => {
    expect(safeUpstreamMessage('password "hunter22" is wrong\nsecond line', ['hunter22'], 300)).toBe('password "[redacted]" is wrong second line');
    expect(safeUpstreamMessage('x'.repeat(1000), [], 300)).toBe(`${'x'.repeat(300)}…`);
  });

  it('something that is neither a server error nor a network failure is a bad response', () => {
    const err = classifyPgError(new Error('unexpected'), { kind: 'postgres', database: 'main', operation: 'create_role', secrets: [] });
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_BAD_RESPONSE', upstreamCode: 'ProtocolError' });
  });
});
