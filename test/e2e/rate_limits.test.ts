/**
 * Scenario (issue 14, rate limits): one identity over its limit is refused with 429 + Retry-After
 * on HTTP and RESOURCE_EXHAUSTED on gRPC, counted in stint_rate_limited_total, while another
 * identity is still served; so is a source address over its limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_AUDIENCE, AUDIENCE, exchangeForm, startE2E, type E2E } from './harness.js';

let env: E2E;
beforeAll(async () => {
  env = await startE2E({ extraConfig: 'limits:\n  perIdentity: { rate: 0.01, burst: 3 }\n  perSource: { rate: 0.01, burst: 12 }\n' });
}, 60_000);
afterAll(async () => {
  await env?.close();
});

const post = (form: Record<string, string>): Promise<Response> => fetch(`${env.httpUrl}/token`, { method: 'POST', body: new URLSearchParams(form) });

describe('rate limits', () => {
  it('an identity over its limit gets 429 with Retry-After (HTTP) and RESOURCE_EXHAUSTED (gRPC); another identity is served', async () => {
    const noisy = await env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-noisy', audience: AUDIENCE });
    for (let i = 0; i < 3; i++) expect((await post(exchangeForm(noisy))).status).toBe(200);
    const refused = await post(exchangeForm(noisy));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as Record<string, unknown>).stint_code).toBe('ERR_RATE_LIMITED');
    const grpc = await env.grpc.call({ subject_token: noisy, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });
    expect(grpc.ok).toBe(false);
    if (!grpc.ok) expect(grpc.stintCode).toBe('ERR_RATE_LIMITED');
    const quiet = await env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-quiet', audience: AUDIENCE });
    expect((await post(exchangeForm(quiet))).status).toBe(200);
    const metrics = await (await fetch(`${env.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/stint_rate_limited_total\{scope="identity",provider="none"\} [1-9]/);
  });

  it('a source address over its limit is refused before any verification, with a stable code', async () => {
    let status = 200;
    for (let i = 0; i < 20 && status !== 429; i++) status = (await post(exchangeForm('not-a-token'))).status;
    expect(status).toBe(429);
    const metrics = await (await fetch(`${env.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/stint_rate_limited_total\{scope="source",provider="none"\} [1-9]/);
  });
});
