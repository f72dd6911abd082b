/**
 * The webhook listener on its own: HTTPS only, routes, one log line per admission, and a rotated
 * serving certificate picked up without a restart.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookServer } from '../../src/webhook/server.js';
import { TestCa } from '../support/certs.js';
import { eventually } from '../support/eventually.js';
import { admissionReview, minimalPod, postHttps, startWebhookUnderTest, type WebhookUnderTest } from './helpers.js';

let env: WebhookUnderTest;
let dir: string;
let first: TestCa;
let second: TestCa;
let webhook: WebhookServer;
let port: number;
let lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  env = await startWebhookUnderTest('stint-webhook-server-');
  ({ dir, webhook, port, lines } = env);
  first = env.ca;
  second = new TestCa(dir, 'b-');
});

afterAll(() => env?.close());

describe('webhook listener', () => {
  it('answers POST /mutate and logs one line per admission, without the pod or its annotations', async () => {
    const before = lines.length;
    const res = await postHttps(port, readFileSync(first.caFile), JSON.stringify(admissionReview(minimalPod(), 'uid-s1')));
    expect(res.status).toBe(200);
    expect((res.json.response as Record<string, unknown>).uid).toBe('uid-s1');
    await eventually(() => lines.slice(before).some((l) => l.msg === 'admission'));
    const logged = lines.slice(before).filter((l) => l.msg === 'admission');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ uid: 'uid-s1', namespace: 'payments', pod: 'orders-7d9f8b-', injected: true, reason: 'injected' });
    expect(JSON.stringify(logged[0])).not.toContain('orders-sidecar');
  });

  it('GET /healthz is 200; other paths 404; GET /mutate 405', async () => {
    const ca = readFileSync(first.caFile);
    expect((await postHttps(port, ca, '', { path: '/healthz', method: 'GET' })).status).toBe(200);
    expect((await postHttps(port, ca, '{}', { path: '/validate' })).status).toBe(404);
    expect((await postHttps(port, ca, '', { method: 'GET' })).status).toBe(405);
  });

  it('a body that is not JSON, or not sent as JSON, is 400 ERR_INVALID_REQUEST', async () => {
    const ca = readFileSync(first.caFile);
    const notJson = await postHttps(port, ca, '{"apiVersion":');
    expect(notJson.status).toBe(400);
    expect(notJson.json).toMatchObject({ error: 'invalid_request', stint_code: 'ERR_INVALID_REQUEST', error_description: 'malformed AdmissionReview: the body is not JSON' });
    expect((await postHttps(port, ca, JSON.stringify(admissionReview(minimalPod())), { contentType: 'text/plain' })).status).toBe(400);
  });

  it('picks up a rotated certificate without a restart, and keeps the old one while the pair is half-written', async () => {
    const b = second.server('webhook', 'localhost');
    copyFileSync(b.certFile, join(dir, 'tls.crt'));
    expect(webhook.reloadTls()).toBe(false);
    expect((await postHttps(port, readFileSync(first.caFile), '', { path: '/healthz', method: 'GET' })).status).toBe(200);
    copyFileSync(b.keyFile, join(dir, 'tls.key'));
    expect(webhook.reloadTls()).toBe(true);
    expect((await postHttps(port, readFileSync(second.caFile), '', { path: '/healthz', method: 'GET' })).status).toBe(200);
    await expect(postHttps(port, readFileSync(first.caFile), '', { path: '/healthz', method: 'GET' })).rejects.toThrow();
    expect(webhook.reloadTls()).toBe(false);
  });
});
