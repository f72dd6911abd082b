/**
 * No request ends the service through its HTTP listener: a handler that throws or rejects is
 * answered 500 `ERR_INTERNAL` (logged without the request's values), and a bounded fuzz of every
 * route (random paths with bad percent-encoding, methods, headers, form and JSON bodies) gets
 * answers, never a handler failure; discovery and the JWKS are served after.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StintError } from '../../../src/errors.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { toOAuthError } from '../../../src/http/oauth_error.js';
import { guardHttp } from '../../../src/net/guard.js';
import { rawRequest, requestArb } from '../raw_http.js';
import { startServiceUnderTest, type ServiceUnderTest } from '../service_under_test.js';

let svc: ServiceUnderTest;
beforeAll(async () => {
  svc = await startServiceUnderTest();
});
afterAll(async () => {
  await svc?.close();
});

const FORM_FIELDS = ['grant_type', 'subject_token', 'subject_token_type', 'credential_kind', 'audience', 'resource', 'ttl_seconds', 'scope', 'reason', 'ticket', 'run_id', 'actor_token', 'token', 'grant_id'];

describe('the HTTP guard', () => {
  it('a throw or a rejection is 500 ERR_INTERNAL, logged by class and code only, and the next request is served', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(...c.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)), cb()) });
    const handler = guardHttp('http', async (req, res) => {
      if (req.url === '/throw') throw new URIError(`URI malformed ${req.headers.authorization}`);
      if (req.url === '/refused') throw new StintError('ERR_INVALID_REQUEST', 'bad');
      res.writeHead(200, { 'content-length': 2 }).end('ok');
    }, (res, error) => {
      const { status, body } = toOAuthError(error);
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    }, createLogger('info', sink));
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = await rawRequest(port, { method: 'GET', path: '/throw', headers: [['Authorization', 'Bearer top-secret']], body: new Uint8Array() });
      expect(r.status).toBe(500);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'server_error', stint_code: 'ERR_INTERNAL', error_description: 'internal error' });
      await new Promise((resolve) => setImmediate(resolve));
      expect(lines).toEqual([expect.objectContaining({ listener: 'http', code: 'ERR_INTERNAL', error: 'URIError', msg: 'request handler failed' })]);
      expect(JSON.stringify(lines)).not.toContain('top-secret');
      const refused = await rawRequest(port, { method: 'GET', path: '/refused', headers: [], body: new Uint8Array() });
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.body)).toMatchObject({ stint_code: 'ERR_INVALID_REQUEST' });
      expect((await rawRequest(port, { method: 'GET', path: '/', headers: [], body: new Uint8Array() })).body).toBe('ok');
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});

describe('fuzz: the service HTTP listener', () => {
  it('every random request is answered without a handler failure, then discovery and the JWKS are served', async () => {
    const port = svc.stint.httpPort;
    await fc.assert(
      fc.asyncProperty(requestArb(['/token', '/introspect', '/revoke', '/renew', '/.well-known/openid-configuration', '/.well-known/jwks.json', '/metrics', '/healthz', '/readyz'], FORM_FIELDS), async (req) => {
        const r = await rawRequest(port, req);
        expect(r.status === null || r.status !== 500).toBe(true);
      }),
      { numRuns: 200, seed: 14 },
    );
    expect(svc.logs.filter((l) => l.msg === 'request handler failed')).toEqual([]);
    // The next good requests: discovery and the JWKS it names.
    const discovery = await fetch(`${svc.httpUrl}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    const jwks = await fetch(((await discovery.json()) as { jwks_uri: string }).jwks_uri);
    expect(((await jwks.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
  });
});
