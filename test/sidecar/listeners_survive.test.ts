/**
 * No request ends the sidecar: the request that killed it (a malformed percent-encoding in the
 * service-account segment of the GCE metadata path), a handler that throws or rejects, and a
 * bounded fuzz of every endpoint (gcp-metadata, aws-container, operations) with random paths,
 * methods, headers and bodies. After each, a good request is still answered.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeldCredential } from '../../sidecar/credential.js';
import type { CredentialKeeper } from '../../sidecar/keeper.js';
import { createLogger } from '../../sidecar/log.js';
import { SidecarMetrics } from '../../sidecar/metrics.js';
import { startOpsServer } from '../../sidecar/ops_server.js';
import { createAwsContainerOutput } from '../../sidecar/outputs/aws_container.js';
import { createGcpMetadataOutput } from '../../sidecar/outputs/gcp_metadata.js';
import { close, listen } from '../../sidecar/outputs/listen.js';
import type { Output } from '../../sidecar/outputs/output.js';
import { freePort } from '../support/ports.js';
import { rawRequest, requestArb } from '../transport/raw_http.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const logs: Record<string, unknown>[] = [];
const log = createLogger('debug', (line) => void logs.push(JSON.parse(line) as Record<string, unknown>));
const deps = { log, now: () => NOW };
const cred: HeldCredential = { name: 'app', kind: 'stint-jwt', token: 'tok-secret-value', grantId: 'g1', fields: { a: 'A', s: 'S', t: 'T' }, issuedAt: NOW, expiresAt: NOW + 600_000, renewAfter: NOW + 300_000 };

let dir: string;
let gcp: Output;
let aws: Output;
let ops: Server;
let gcpPort: number;
let awsPort: number;
let opsPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stint-sidecar-survive-'));
  gcpPort = await freePort();
  awsPort = await freePort();
  opsPort = await freePort();
  gcp = createGcpMetadataOutput({ listen: `127.0.0.1:${gcpPort}`, projectId: 'p', serviceAccountEmail: 'sa@p.iam.gserviceaccount.com', scopes: ['s'] }, deps);
  aws = createAwsContainerOutput({ listen: `127.0.0.1:${awsPort}`, path: '/creds', tokenFile: join(dir, 'aws.token'), mode: 0o600, values: { AccessKeyId: 'fields.a', SecretAccessKey: 'fields.s', Token: 'fields.t' } }, deps);
  await gcp.start!();
  await aws.start!();
  await gcp.publish(cred);
  await aws.publish(cred);
  const keeper = { request: { name: 'app' }, required: true, outputFailures: [], lastError: null, serving: () => true } as unknown as CredentialKeeper;
  ops = await startOpsServer(`127.0.0.1:${opsPort}`, [keeper], new SidecarMetrics(), () => NOW);
});

afterAll(async () => {
  await gcp?.stop?.();
  await aws?.stop?.();
  await close(ops);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const goodGcp = () => rawRequest(gcpPort, { method: 'GET', path: '/computeMetadata/v1/instance/service-accounts/default/token', headers: [['Metadata-Flavor', 'Google']], body: new Uint8Array() });
const goodAws = () => rawRequest(awsPort, { method: 'GET', path: '/creds', headers: [['Authorization', readFileSync(join(dir, 'aws.token'), 'utf8')]], body: new Uint8Array() });
const goodOps = () => rawRequest(opsPort, { method: 'GET', path: '/readyz', headers: [], body: new Uint8Array() });

describe('the gcp-metadata endpoint survives a malformed percent-encoding', () => {
  it('GET .../service-accounts/%E0%A4%A/token is 404, and the token is served after it', async () => {
    for (const path of ['/computeMetadata/v1/instance/service-accounts/%E0%A4%A/token', '/computeMetadata/v1/instance/service-accounts/%/', '/computeMetadata/v1/instance/service-accounts/%C0%AF%zz']) {
      const bad = await rawRequest(gcpPort, { method: 'GET', path, headers: [['Metadata-Flavor', 'Google']], body: new Uint8Array() });
      expect(bad.status).toBe(404);
      expect(bad.head.toLowerCase()).toContain('metadata-flavor: google');
    }
    const good = await goodGcp();
    expect(good.status).toBe(200);
    expect(JSON.parse(good.body)).toMatchObject({ access_token: 'tok-secret-value', token_type: 'Bearer' });
  });
});

describe('every sidecar listener is guarded', () => {
  it('a handler that throws or rejects answers 500 ERR_INTERNAL, logs no request value, and the next request is served', async () => {
    const port = await freePort();
    const server = await listen(`127.0.0.1:${port}`, (req, res) => {
      if (req.url === '/throw') throw new URIError('URI malformed');
      if (req.url === '/reject') return Promise.reject(new TypeError('boom'));
      res.end('ok');
    }, { log, name: 'test' });
    try {
      for (const path of ['/throw', '/reject']) {
        const before = logs.length;
        const r = await rawRequest(port, { method: 'GET', path, headers: [['Authorization', 'Bearer secret-in-header']], body: new Uint8Array() });
        expect(r.status).toBe(500);
        expect(JSON.parse(r.body)).toEqual({ error: 'internal error', code: 'ERR_INTERNAL' });
        const logged = logs.slice(before);
        expect(logged).toEqual([expect.objectContaining({ level: 'error', msg: 'request handler failed', listener: 'test', code: 'ERR_INTERNAL', error: path === '/throw' ? 'URIError' : 'TypeError' })]);
        expect(JSON.stringify(logged)).not.toContain('secret-in-header');
        expect((await rawRequest(port, { method: 'GET', path: '/', headers: [], body: new Uint8Array() })).body).toBe('ok');
      }
    } finally {
      await close(server);
    }
  });
});

describe('fuzz: random requests never end the sidecar nor make a handler fail', () => {
  const cases: [string, () => number, readonly string[], () => Promise<{ status: number | null }>][] = [
    ['gcp-metadata', () => gcpPort, ['/computeMetadata/v1/instance/service-accounts/', '/computeMetadata/v1/project/', '/computeMetadata/'], goodGcp],
    ['aws-container', () => awsPort, ['/creds', '/'], goodAws],
    ['ops', () => opsPort, ['/healthz', '/readyz', '/metrics'], goodOps],
  ];
  for (const [name, port, prefixes, good] of cases) {
    it(`${name}: every random request gets an answer below 500, then a good request succeeds`, async () => {
      const before = logs.filter((l) => l.msg === 'request handler failed').length;
      await fc.assert(
        fc.asyncProperty(requestArb(prefixes), async (req) => {
          const r = await rawRequest(port(), req);
          // Node's parser answers 400 (or closes) on what it cannot parse; handlers never fail.
          expect(r.status === null || r.status < 500).toBe(true);
        }),
        { numRuns: 150, seed: 14 },
      );
      expect(logs.filter((l) => l.msg === 'request handler failed').length).toBe(before);
      expect((await good()).status).toBe(200);
    });
  }
});
