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
    expect(c.store.path).toBe(join(dir, 'state/stint.db'));
    expect(c.policy.file).toBe(join(dir, 'policy.yaml'));
    expect(c.attestors[0]!.jwksFile).toBe(join(dir, 'keys/jwks.json'));
    expect(c.admin.tokens[0]!.secret).toEqual({ file: join(dir, 'secrets/admin') });
    expect(c.providers.gcp!.credentialsFile).toBe(join(dir, 'secrets/gcp.json'));
    expect(c.providers.vault!.caFile).toBe(join(dir, 'ca/vault.pem'));
    expect(c.providers.kubernetes!.kubeconfig).toBe(join(dir, 'kube/config'));
    expect(c.providers.postgres!.databases.main!.adminUrl).toEqual({ file: join(dir, 'secrets/pg-url') });
  });
});
