/**
 * Scenario (issue 14, findings 2 and 3): unauthenticated callers send garbage with attacker-chosen
 * credential kinds, huge audiences, thousands of credential entries and long reasons. Metric labels
 * stay within a closed set, audit events stay small, `stint audit` keeps working, and the next good
 * request still succeeds — over HTTP and gRPC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { API_AUDIENCE, AUDIENCE, exchangeForm, httpExchange, startE2E, type E2E } from './harness.js';
import { runStint } from '../support/programs.js';

let env: E2E;
beforeAll(async () => {
  env = await startE2E();
}, 60_000);
afterAll(async () => {
  await env?.close();
});

const metricsText = async (): Promise<string> => (await fetch(`${env.httpUrl}/metrics`)).text();
const labelValues = (text: string, label: string): Set<string> => new Set([...text.matchAll(new RegExp(`${label}="([^"]*)"`, 'g'))].map((m) => m[1]!));

async function goodExchange(): Promise<void> {
  const subject = await env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-1', audience: AUDIENCE });
  const http = await httpExchange(env.httpUrl, exchangeForm(subject));
  expect(http.status).toBe(200);
  const grpc = await env.grpc.call({ subject_token: subject, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });
  expect(grpc.ok).toBe(true);
}

async function auditEvents(limit = 200): Promise<{ type: string; data_json: string }[]> {
  const res = await env.grpc.adminCall<{ events: { type: string; data_json: string }[] }>('QueryAudit', { since: '1h', limit }, env.adminToken);
  if (!res.ok) throw new Error(`QueryAudit failed: ${res.details}`);
  return res.value.events;
}

describe('metric labels come from a closed set', () => {
  it('distinct 1 KB credential kinds with a garbage token add no label values, on both transports', async () => {
    await goodExchange();
    const before = await metricsText();
    for (let i = 0; i < 40; i++) {
      const kind = `k${i}-${randomBytes(512).toString('hex')}`;
      const http = await httpExchange(env.httpUrl, exchangeForm('garbage.token.here', { credential_kind: kind }));
      expect(http.status).toBe(400);
      expect(http.body.stint_code).toBe('ERR_INVALID_REQUEST');
      const grpc = await env.grpc.call({ subject_token: 'garbage', credentials: [{ kind, audience: API_AUDIENCE }] });
      expect(grpc.ok).toBe(false);
      if (!grpc.ok) expect(grpc.stintCode).toBe('ERR_INVALID_REQUEST');
    }
    const after = await metricsText();
    const kinds = labelValues(after, 'credential_kind');
    for (const k of kinds) expect(['stint-jwt', 'none', 'multiple', 'unknown', 'aws-sts', 'gcp-access-token', 'vault', 'kubernetes-token', 'kubernetes-rolebinding', 'postgres']).toContain(k);
    expect(kinds.has('unknown')).toBe(true);
    // Forty hostile kinds × two transports may add a few series for `unknown`, never one per kind.
    expect(after.length - before.length).toBeLessThan(8_000);
    await goodExchange();
  });
});

describe('audit events of refused requests are bounded', () => {
  it('a 60,000-character audience is refused with ERR_INVALID_REQUEST and recorded in bounded form (HTTP)', async () => {
    const subject = await env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-1', audience: AUDIENCE });
    const res = await httpExchange(env.httpUrl, exchangeForm(subject, { audience: 'a'.repeat(60_000) }));
    expect(res.status).toBe(400);
    expect(res.body.stint_code).toBe('ERR_INVALID_REQUEST');
    const events = await auditEvents(20);
    const refused = events.find((e) => e.type === 'exchange.error' && e.data_json.includes('60000 chars'));
    expect(refused).toBeDefined();
    expect(refused!.data_json.length).toBeLessThan(4_096);
    await goodExchange();
  });

  it('90,000 credential entries and a 200 KB reason over gRPC: refused, recorded in bounded form, and stint audit still works', async () => {
    const subject = await env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-1', audience: AUDIENCE });
    const credentials = Array.from({ length: 90_000 }, () => ({ kind: 'stint-jwt', audience: API_AUDIENCE }));
    const res = await env.grpc.call({ subject_token: subject, credentials, context: { reason: 'r'.repeat(200_000) } });
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.stintCode).toBe('ERR_INVALID_REQUEST');
    const events = await auditEvents(20);
    const refused = events.find((e) => e.type === 'exchange.error' && e.data_json.includes('"requestCount":90000'));
    expect(refused).toBeDefined();
    expect(refused!.data_json.length).toBeLessThan(8_192);
    const audit = await runStint(['audit', '--since', '1h', '--admin', env.adminAddr, '--admin-token-file', env.adminTokenFile]);
    expect(audit.code).toBe(0);
    await goodExchange();
  });

  it('a reason over 1,024 characters is refused before anything is issued (HTTP)', async () => {
    const subject = await env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-1', audience: AUDIENCE });
    const res = await httpExchange(env.httpUrl, exchangeForm(subject, { reason: 'x'.repeat(1_025) }));
    expect(res.status).toBe(400);
    expect(res.body.stint_code).toBe('ERR_INVALID_REQUEST');
    await goodExchange();
  });
});
