/**
 * No request ends the service through the admission webhook's HTTPS listener: a bounded fuzz of
 * its routes (random paths, methods, headers, JSON and non-JSON bodies) gets answers without a
 * handler failure, and an AdmissionReview is answered after.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCa } from '../support/certs.js';
import { admissionReview, minimalPod, postHttps, startWebhookUnderTest, type WebhookUnderTest } from './helpers.js';
import { rawRequest, requestArb } from '../transport/raw_http.js';

let env: WebhookUnderTest;
let ca: TestCa;
let port: number;
let lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  env = await startWebhookUnderTest('stint-webhook-guard-');
  ({ port, lines } = env);
  ca = env.ca;
});

afterAll(() => env?.close());

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
