/**
 * The gcp-metadata endpoint's request checks, as the real metadata server makes them, attacked
 * one by one: an empty `X-Forwarded-For:` (presence refuses, not value), and a foreign `Host`
 * (DNS rebinding: a page whose name resolves to loopback). The listener's own address, with or
 * without its port, and `metadata.google.internal` are served; after each refusal the token is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeldCredential } from '../../../sidecar/credential.js';
import { createLogger } from '../../../sidecar/log.js';
import { createGcpMetadataOutput } from '../../../sidecar/outputs/gcp_metadata.js';
import type { Output } from '../../../sidecar/outputs/output.js';
import { freePort } from '../../support/ports.js';
import { rawRequest } from '../../transport/raw_http.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
const cred: HeldCredential = { name: 'gcp', kind: 'stint-jwt', token: 'ya29.test-token', grantId: 'g1', fields: {}, issuedAt: NOW, expiresAt: NOW + 600_000, renewAfter: NOW + 300_000 };
let gcp: Output;
let port: number;

beforeAll(async () => {
  port = await freePort();
  gcp = createGcpMetadataOutput({ listen: `127.0.0.1:${port}`, projectId: 'p', serviceAccountEmail: 'sa@p.iam.gserviceaccount.com', scopes: ['s'] }, { log: createLogger('error', () => undefined), now: () => NOW });
  await gcp.start!();
  await gcp.publish(cred);
});
afterAll(async () => {
  await gcp?.stop?.();
});

const get = (headers: [string, string][]) => rawRequest(port, { method: 'GET', path: TOKEN_PATH, headers: [['Metadata-Flavor', 'Google'], ...headers], body: new Uint8Array() });
const served = async (): Promise<void> => {
  const r = await get([]);
  expect(r.status).toBe(200);
  expect(JSON.parse(r.body)).toMatchObject({ access_token: 'ya29.test-token' });
};

describe('gcp-metadata: X-Forwarded-For', () => {
  it('an empty X-Forwarded-For is refused (403), as is a valued one; the token is served after', async () => {
    for (const value of ['', ' ', '10.0.0.1']) {
      const r = await get([['X-Forwarded-For', value]]);
      expect(r.status).toBe(403);
      expect(r.body).toBe('Forbidden: X-Forwarded-For\n');
    }
    await served();
  });
});

describe('gcp-metadata: Host (DNS rebinding)', () => {
  it('a foreign Host is refused (403) on every path, the probe included; the token is served after', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.2', `localhost:${port}`, '', `127.0.0.1:${port + 1}`, 'metadata.google.internal.evil.example']) {
      for (const path of [TOKEN_PATH, '/']) {
        const r = await rawRequest(port, { method: 'GET', path, headers: [['Metadata-Flavor', 'Google'], ['Host', host]], body: new Uint8Array() });
        expect({ host, path, status: r.status, body: r.body }).toEqual({ host, path, status: 403, body: 'Forbidden: Host\n' });
      }
    }
    await served();
  });

  it('the listener address (host:port and host) and metadata.google.internal are served', async () => {
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', 'metadata.google.internal', 'Metadata.Google.Internal', `metadata.google.internal:${port}`]) {
      const r = await rawRequest(port, { method: 'GET', path: TOKEN_PATH, headers: [['Metadata-Flavor', 'Google'], ['Host', host]], body: new Uint8Array() });
      expect({ host, status: r.status }).toEqual({ host, status: 200 });
    }
  });

  it('google-auth-library style requests (Host from GCE_METADATA_HOST) are served', async () => {
    const res = await fetch(`http://${gcp.env!().GCE_METADATA_HOST}${TOKEN_PATH}`, { headers: { 'Metadata-Flavor': 'Google' } });
    expect(res.status).toBe(200);
  });
});
