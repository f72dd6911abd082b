/**
 * No request ends the service through the admission webhook's HTTPS listener: a bounded fuzz of
 * its routes (random paths, methods, headers, JSON and non-JSON bodies) gets answers without a
 * handler failure, and an AdmissionReview is answered after.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/telemetry/logger.js';
import { createWebhookServer, type WebhookServer } from '../../src/webhook/server.js';
import { TestCa } from '../support/certs.js';
import { admissionReview, minimalPod, postHttps, settings } from './helpers.js';
import { rawRequest, requestArb } from '../transport/raw_http.js';

let dir: string;
let ca: TestCa;
let webhook: WebhookServer;
let port: number;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stint-webhook-guard-'));
  ca = new TestCa(dir, 'a-');
  const a = ca.server('webhook', 'localhost');
  copyFileSync(a.certFile, join(dir, 'tls.crt'));
  copyFileSync(a.keyFile, join(dir, 'tls.key'));
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(...c.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)), cb()) });
  webhook = createWebhookServer({ settings: settings(), logger: createLogger('info', sink), tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') }, tlsReloadIntervalMs: 0 });
  await new Promise<void>((r) => webhook.server.listen(0, '127.0.0.1', () => r()));
  port = (webhook.server.address() as { port: number }).port;
});

afterAll(async () => {
  await webhook?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('fuzz: the webhook listener', () => {
  it('every random request is answered without a handler failure, then an AdmissionReview is answered', async () => {
    const tlsCa = readFileSync(ca.caFile);
    const review = JSON.stringify(admissionReview(minimalPod(), 'uid-fuzz'));
    await fc.assert(
      fc.asyncProperty(fc.oneof(requestArb(['/mutate', '/healthz']), fc.constant({ method: 'POST', path: '/mutate', headers: [['Content-Type', 'application/json']] as [string, string][], body: new TextEncoder().encode(review.slice(0, 200)) })), async (req) => {
        const r = await rawRequest(port, req, { tlsCa, host: 'localhost' });
        expect(r.status === null || r.status !== 500).toBe(true);
      }),
      { numRuns: 100, seed: 14 },
    );
    expect(lines.filter((l) => l.msg === 'request handler failed')).toEqual([]);
    const res = await postHttps(port, tlsCa, review);
    expect(res.status).toBe(200);
    expect((res.json.response as Record<string, unknown>).uid).toBe('uid-fuzz');
  });
});
