/** Relative file paths in a configuration resolve against the configuration file's folder. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'stint-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadConfigFile', () => {
  it('resolves store, policy, JWKS, secret references and provider files against the config folder', () => {
    const file = join(dir, 'stint.yaml');
    writeFileSync(
      file,
      `issuer: https://stint.example.com
store: { kind: sqlite, path: state/stint.db }
policy: { file: policy.yaml }
attestors: [{ kind: kubernetes, issuer: https://k8s.example, jwksFile: keys/jwks.json }]
admin: { tokens: [{ name: ops, secret: { file: secrets/admin } }] }
providers:
  gcp: { credentialsFile: secrets/gcp.json }
  vault: { address: "https://vault.example:8200", role: stint, caFile: ca/vault.pem }
  kubernetes: { kubeconfig: kube/config }
  postgres:
    databases:
      main: { adminUrl: { file: secrets/pg-url }, host: db.example, database: app }
`,
    );
    const c = loadConfigFile(file);
    expect(c.store).toEqual({ kind: 'sqlite', path: join(dir, 'state/stint.db') });
    expect(c.policy.file).toBe(join(dir, 'policy.yaml'));
    expect((c.attestors[0] as { jwksFile?: string }).jwksFile).toBe(join(dir, 'keys/jwks.json'));
    expect(c.admin.tokens[0]!.secret).toEqual({ file: join(dir, 'secrets/admin') });
    expect(c.providers.gcp!.credentialsFile).toBe(join(dir, 'secrets/gcp.json'));
    expect(c.providers.vault!.caFile).toBe(join(dir, 'ca/vault.pem'));
    expect(c.providers.kubernetes!.kubeconfig).toBe(join(dir, 'kube/config'));
    expect(c.providers.postgres!.databases.main!.adminUrl).toEqual({ file: join(dir, 'secrets/pg-url') });
  });

  it('resolves the file a PostgreSQL store URL is read from, and applies the store defaults', () => {
    const file = join(dir, 'stint.postgres.yaml');
    writeFileSync(file, 'issuer: https://stint.example.com\nstore: { kind: postgres, url: { file: secrets/store-url } }\npolicy: { file: policy.yaml }\n');
    expect(loadConfigFile(file).store).toEqual({ kind: 'postgres', url: { file: join(dir, 'secrets/store-url') }, poolSize: 10, connectTimeout: 5, statementTimeout: 10 });
    writeFileSync(file, 'issuer: https://stint.example.com\nstore: { kind: postgres, url: { env: STINT_STORE_URL }, poolSize: 4, statementTimeout: 30s }\npolicy: { file: policy.yaml }\n');
    expect(loadConfigFile(file).store).toEqual({ kind: 'postgres', url: { env: 'STINT_STORE_URL' }, poolSize: 4, connectTimeout: 5, statementTimeout: 30 });
  });

  it('refuses a PostgreSQL URL inlined in the file, naming the key path', () => {
    const file = join(dir, 'inline.yaml');
    writeFileSync(file, 'issuer: https://stint.example.com\nstore: { kind: postgres, url: "postgresql://stint:hunter2@db/stint" }\npolicy: { file: policy.yaml }\n');
    expect(() => loadConfigFile(file)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID', path: 'store.url' }));
    expect(() => loadConfigFile(file)).toThrow(expect.not.objectContaining({ message: expect.stringContaining('hunter2') }));
  });
});
