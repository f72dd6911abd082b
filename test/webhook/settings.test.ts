/** The optional `webhook:` section of the service configuration. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadConfigFile, validateConfig } from '../../src/config/load.js';
import { injectorSettings } from '../../src/webhook/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'stint-webhook-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { issuer: 'https://stint.example.com', store: { kind: 'sqlite', path: ':memory:' }, policy: { file: 'p.yaml' } };
const webhook = { tls: { certFile: 'tls.crt', keyFile: 'tls.key' }, sidecar: { image: 'ghcr.io/stint-dev/stint:0.1.0' } };

function invalid(raw: unknown): ConfigError {
  try {
    validateConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected an invalid configuration');
}

describe('webhook configuration', () => {
  it('is absent unless configured', () => {
    expect(validateConfig(base).webhook).toBeUndefined();
  });

  it('has defaults: HTTPS on 8443, 10-minute tokens, ops port 8099, small resources', () => {
    const c = validateConfig({ ...base, webhook }).webhook!;
    expect(c.listen).toBe('0.0.0.0:8443');
    expect(c.sidecar).toMatchObject({ tokenExpiration: 600, opsPort: 8099, startupTimeout: 120, runAsUser: 1000, runVolumeSizeLimit: '16Mi', command: ['node', '/app/dist/sidecar/main.js'] });
    expect(c.sidecar.resources).toEqual({ requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '96Mi' } });
  });

  it('the token audience defaults to the service audience', () => {
    const c = validateConfig({ ...base, webhook }).webhook!;
    expect(injectorSettings(c.sidecar, 'stint').audience).toBe('stint');
    expect(injectorSettings({ ...c.sidecar, audience: 'other' }, 'stint').audience).toBe('other');
  });

  it('requires TLS: the API server only calls HTTPS', () => {
    expect(invalid({ ...base, webhook: { sidecar: webhook.sidecar } }).path).toBe('webhook.tls');
  });

  it('requires the sidecar image', () => {
    expect(invalid({ ...base, webhook: { tls: webhook.tls, sidecar: {} } }).path).toBe('webhook.sidecar.image');
  });

  it('refuses a projected token lifetime below the Kubernetes minimum of 10 minutes', () => {
    expect(invalid({ ...base, webhook: { ...webhook, sidecar: { ...webhook.sidecar, tokenExpiration: '5m' } } }).path).toBe('webhook.sidecar.tokenExpiration');
  });

  it('takes quantities as YAML numbers too (cpu: 1)', () => {
    const c = validateConfig({ ...base, webhook: { ...webhook, sidecar: { ...webhook.sidecar, resources: { limits: { cpu: 1, memory: '64Mi' } } } } }).webhook!;
    expect(c.sidecar.resources).toEqual({ limits: { cpu: '1', memory: '64Mi' } });
  });

  it('refuses root, bad quantities and unknown keys', () => {
    expect(invalid({ ...base, webhook: { ...webhook, sidecar: { ...webhook.sidecar, runAsUser: 0 } } }).path).toBe('webhook.sidecar.runAsUser');
    expect(invalid({ ...base, webhook: { ...webhook, sidecar: { ...webhook.sidecar, resources: { limits: { memory: 'lots' } } } } }).path).toBe('webhook.sidecar.resources.limits.memory');
    expect(invalid({ ...base, webhook: { ...webhook, failurePolicy: 'Ignore' } }).path).toBe('webhook');
  });

  it('resolves the certificate files against the configuration folder', () => {
    const file = join(dir, 'stint.yaml');
    writeFileSync(file, `issuer: https://stint.example.com
store: { kind: sqlite, path: stint.db }
policy: { file: policy.yaml }
webhook:
  tls: { certFile: tls/tls.crt, keyFile: /abs/tls.key }
  sidecar: { image: "ghcr.io/stint-dev/stint:0.1.0" }
`);
    expect(loadConfigFile(file).webhook!.tls).toEqual({ certFile: join(dir, 'tls/tls.crt'), keyFile: '/abs/tls.key' });
  });
});
