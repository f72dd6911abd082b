/**
 * The one RFC 8693 client (src/client/stint_client.ts) that stint-sidecar, the GitHub Action and
 * `stint exchange` share: against the real Stint in process, and against a local server speaking
 * Stint's wire format for what the real one will not do on demand (each error code, an oversized
 * or late answer, a missing endpoint, mTLS with files rotated on disk).
 */
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../../src/client/constants.js';
import { renewAfterOf } from '../../src/client/renewal.js';
import { isRetryable } from '../../src/client/retryable.js';
import { StintClient } from '../../src/client/stint_client.js';
import { ERROR_TABLE, StintError, type ErrorCode } from '../../src/errors.js';
import { TestCa } from '../support/certs.js';
import { FakeClock } from '../support/fake_clock.js';
import { freePort } from '../support/ports.js';
import { API_AUDIENCE, startServiceUnderTest, type ServiceUnderTest } from '../transport/service_under_test.js';

/** The error a call rejects with (fails the test when it resolves). */
async function refusal(call: Promise<unknown>): Promise<StintError> {
  try {
    await call;
  } catch (e) {
    expect(e).toBeInstanceOf(StintError);
    return e as StintError;
  }
  throw new Error('the call succeeded');
}

const subject = (value: string): { type: string; value: string } => ({ type: JWT_TOKEN_TYPE, value });

describe('against the real Stint', () => {
  let svc: ServiceUnderTest;
  let client: StintClient;
  beforeAll(async () => {
    svc = await startServiceUnderTest();
    client = await StintClient.create({ url: svc.httpUrl, timeout: 10_000 });
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await svc?.close();
  });

  it('exchanges a subject token, reads the grant status and revokes the grant', async () => {
    const token = await svc.subjectToken();
    const answer = await client.exchange(subject(token), { kind: 'stint-jwt', audience: API_AUDIENCE, ttl: 600_000 });
    expect(answer.token).toMatch(/^eyJ/);
    expect(answer.kind).toBe('stint-jwt');
    expect(answer.grantId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.rule).toBe('apps');
    expect(answer.expiresAt - answer.issuedAt).toBeGreaterThan(590_000);
    expect(answer.renewAfter).toBeGreaterThan(answer.issuedAt);
    expect(answer.renewAfter).toBeLessThan(answer.expiresAt);
    expect(answer.body.access_token).toBe(answer.token);
    expect(await client.grantStatus(subject(token), answer.grantId)).toEqual({ state: 'active', quarantined: false });
    await client.revoke(subject(token), answer.grantId, 'client test');
    expect((await client.grantStatus(subject(token), answer.grantId)).state).toBe('revoked');
  });

  it('a denied workload is ERR_POLICY_DENIED with the nearest rule, not retryable; an allowed one then succeeds', async () => {
    const err = await refusal(client.exchange(subject(await svc.subjectToken('other')), { kind: 'stint-jwt', audience: API_AUDIENCE }));
    expect(err.code).toBe('ERR_POLICY_DENIED');
    expect(err.details.rule).toBe('apps');
    expect(isRetryable(err)).toBe(false);
    expect((await client.exchange(subject(await svc.subjectToken()), { kind: 'stint-jwt', audience: API_AUDIENCE })).token).toMatch(/^eyJ/);
  });

  it('a malformed subject token is ERR_TOKEN_MALFORMED; a good one then succeeds', async () => {
    const err = await refusal(client.exchange(subject('not-a-jwt'), { kind: 'stint-jwt', audience: API_AUDIENCE }));
    expect(err.code).toBe('ERR_TOKEN_MALFORMED');
    expect(err.message).not.toContain('not-a-jwt');
    expect((await client.exchange(subject(await svc.subjectToken()), { kind: 'stint-jwt', audience: API_AUDIENCE })).token).toMatch(/^eyJ/);
  });
});

/** A local server speaking Stint's wire format; each test sets how it answers. */
interface WireServer {
  readonly url: string;
  readonly seen: { path: string; form: URLSearchParams }[];
  connections: number;
  answer: (path: string, form: URLSearchParams, res: ServerResponse) => void;
  close(): Promise<void>;
}

const goodAnswer = (res: ServerResponse, extra: Record<string, unknown> = {}): void => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ access_token: 'tok-1', issued_token_type: JWT_TOKEN_TYPE, token_type: 'Bearer', grant_id: 'g-1', expires_at: '2030-01-01T00:15:00.000Z', renew_after: '2030-01-01T00:10:00.000Z', rule: 'r', ...extra }));
};

async function startWire(make: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server = (h) => createHttpServer(h), scheme = 'http'): Promise<WireServer & { server: Server }> {
  const state = { seen: [] as { path: string; form: URLSearchParams }[], connections: 0, answer: (_p: string, _f: URLSearchParams, res: ServerResponse) => goodAnswer(res) };
  const server = make((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      state.seen.push({ path: req.url ?? '', form });
      state.answer(req.url ?? '', form, res);
    });
  });
  server.on(scheme === 'https' ? 'secureConnection' : 'connection', () => state.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    server,
    url: `${scheme}://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  });
}

describe('against a server speaking Stint\'s wire format', () => {
  let wire: WireServer;
  let client: StintClient;
  const clock = new FakeClock();
  beforeAll(async () => {
    wire = await startWire();
    // Behind a path prefix: every endpoint resolves under it.
    client = await StintClient.create({ url: `${wire.url}/stint`, timeout: 1_000 }, { now: () => clock.now(), maxResponseBytes: 4096 });
  });
  afterEach(() => {
    wire.answer = (_p, _f, res) => goodAnswer(res);
  });
  afterAll(async () => {
    client?.close();
    await wire?.close();
  });

  it('sends the RFC 8693 form under the base path and reads the answer, over one kept-alive connection', async () => {
    const before = wire.connections;
    const answer = await client.exchange(subject('subj'), { kind: 'aws-sts', target: 'arn:aws:iam::1:role/r', ttl: 899_600, scopes: ['a', 'b'], runId: '42', reason: 'deploy' });
    const { path, form } = wire.seen.at(-1)!;
    expect(path).toBe('/stint/token');
    expect(Object.fromEntries(form)).toEqual({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: 'subj',
      subject_token_type: JWT_TOKEN_TYPE,
      credential_kind: 'aws-sts',
      resource: 'arn:aws:iam::1:role/r',
      ttl_seconds: '900',
      scope: 'a b',
      run_id: '42',
      reason: 'deploy',
    });
    expect(answer).toMatchObject({ token: 'tok-1', grantId: 'g-1', kind: 'aws-sts', issuedAt: clock.now(), expiresAt: Date.parse('2030-01-01T00:15:00Z'), renewAfter: Date.parse('2030-01-01T00:10:00Z'), renewable: false, ttlCapped: false });
    await client.exchange(subject('subj'), { kind: 'stint-jwt' });
    expect(wire.connections - before).toBeLessThanOrEqual(1);
  });

  it('keeps only string fields, lists the announced secret fields, and falls back on the two-thirds rule without renew_after', async () => {
    wire.answer = (_p, _f, res) => goodAnswer(res, { renew_after: undefined, fields: { access_key_id: 'AK', secret_access_key: 'SK', n: 3 }, secret_fields: ['secret_access_key'], renewable: true, ttl_capped: true });
    const answer = await client.exchange(subject('subj'), { kind: 'aws-sts' });
    expect(answer.fields).toEqual({ access_key_id: 'AK', secret_access_key: 'SK' });
    expect(answer.secretFields).toEqual(['secret_access_key']);
    expect(answer.renewable).toBe(true);
    expect(answer.ttlCapped).toBe(true);
    expect(answer.renewAfter).toBe(renewAfterOf(clock.now(), Date.parse('2030-01-01T00:15:00Z')));
    expect(answer.renewAfter).toBe(clock.now() + 600_000);
  });

  it('maps every code of the error table from Stint\'s answer, and classifies exactly the unavailable and rate-limited ones as retryable', async () => {
    const retryable: string[] = [];
    for (const [code, mapping] of Object.entries(ERROR_TABLE)) {
      wire.answer = (_p, _f, res) => {
        res.writeHead(mapping.http, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: mapping.oauth, error_description: `refused: ${code}`, stint_code: code, reason: 'because', rule: 'near' }));
      };
      const err = await refusal(client.exchange(subject('subj'), { kind: 'stint-jwt' }));
      expect(err.code).toBe(code as ErrorCode);
      expect(err.details).toMatchObject({ reason: 'because', status: mapping.http, rule: 'near' });
      expect(err.message).toContain(`refused: ${code}`);
      if (isRetryable(err)) retryable.push(code);
    }
    expect(retryable.sort()).toEqual(['ERR_ISSUER_UNAVAILABLE', 'ERR_RATE_LIMITED', 'ERR_UNAVAILABLE', 'ERR_UPSTREAM_BAD_RESPONSE', 'ERR_UPSTREAM_UNAVAILABLE']);
    wire.answer = (_p, _f, res) => goodAnswer(res);
    expect((await client.exchange(subject('subj'), { kind: 'stint-jwt' })).token).toBe('tok-1');
  });

  it('answers without Stint\'s code are mapped by status: a proxy\'s 502 page is retryable, its 429 rate limited, a 400 not retryable', async () => {
    const cases: [number, string, ErrorCode, boolean][] = [
      [502, '<html>bad gateway</html>', 'ERR_UNAVAILABLE', true],
      [429, 'slow down', 'ERR_RATE_LIMITED', true],
      [400, JSON.stringify({ error: 'invalid_request' }), 'ERR_INVALID_REQUEST', false],
    ];
    for (const [status, body, code, retry] of cases) {
      wire.answer = (_p, _f, res) => {
        res.writeHead(status);
        res.end(body);
      };
      const err = await refusal(client.exchange(subject('subj'), { kind: 'stint-jwt' }));
      expect(err.code).toBe(code);
      expect(isRetryable(err)).toBe(retry);
    }
    wire.answer = (_p, _f, res) => goodAnswer(res);
    expect((await client.exchange(subject('subj'), { kind: 'stint-jwt' })).token).toBe('tok-1');
  });

  it('a 200 that is not JSON, or lacks the token, is ERR_UNAVAILABLE bad_response', async () => {
    wire.answer = (_p, _f, res) => {
      res.writeHead(200);
      res.end('<html>captive portal</html>');
    };
    expect((await refusal(client.exchange(subject('subj'), { kind: 'stint-jwt' }))).details.reason).toBe('bad_response');
    wire.answer = (_p, _f, res) => goodAnswer(res, { access_token: '' });
    const err = await refusal(client.exchange(subject('subj'), { kind: 'stint-jwt' }));
    expect(err.code).toBe('ERR_UNAVAILABLE');
    expect(err.details.reason).toBe('bad_response');
  });

  it('refuses an oversized answer, declared or streamed, then reads a normal one', async () => {
    const big = JSON.stringify({ access_token: 'x'.repeat(8192) });
    wire.answer = (_p, _f, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) });
      res.end(big);
    };
    let err = await refusal(client.exchange(subject('subj'), { kind: 'stint-jwt' }));
    expect(err.code).toBe('ERR_UNAVAILABLE');
    expect(err.details.reason).toBe('response_too_large');
    wire.answer = (_p, _f, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 8; i++) res.write('x'.repeat(1024));
      res.end();
    };
    err = await refusal(client.exchange(subject('subj'), { kind: 'stint-jwt' }));
    expect(err.details.reason).toBe('response_too_large');
    wire.answer = (_p, _f, res) => goodAnswer(res);
    expect((await client.exchange(subject('subj'), { kind: 'stint-jwt' })).token).toBe('tok-1');
  });

  it('a Stint that never answers is ERR_UNAVAILABLE timeout, retryable; the next call succeeds', async () => {
    const held: ServerResponse[] = [];
    wire.answer = (_p, _f, res) => held.push(res);
    const err = await refusal(client.exchange(subject('subj'), { kind: 'stint-jwt' }));
    expect(err.code).toBe('ERR_UNAVAILABLE');
    expect(err.details.reason).toBe('timeout');
    expect(isRetryable(err)).toBe(true);
    for (const r of held) r.destroy();
    wire.answer = (_p, _f, res) => goodAnswer(res);
    expect((await client.exchange(subject('subj'), { kind: 'stint-jwt' })).token).toBe('tok-1');
  });

  it('an unreachable Stint is ERR_UNAVAILABLE unreachable naming the socket error, retryable', async () => {
    const port = await freePort();
    const down = await StintClient.create({ url: `http://127.0.0.1:${port}`, timeout: 2_000 });
    try {
      const err = await refusal(down.exchange(subject('subj'), { kind: 'stint-jwt' }));
      expect(err.code).toBe('ERR_UNAVAILABLE');
      expect(err.details).toMatchObject({ reason: 'unreachable', networkError: 'ECONNREFUSED' });
      expect(err.message).toMatch(/cannot reach Stint at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
      expect(isRetryable(err)).toBe(true);
    } finally {
      down.close();
    }
    expect((await client.exchange(subject('subj'), { kind: 'stint-jwt' })).token).toBe('tok-1');
  });

  it('renews in place, reads grant status and revokes at their endpoints; a Stint without them says so with ERR_NOT_FOUND', async () => {
    wire.answer = (path, _f, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (path === '/stint/renew') res.end(JSON.stringify({ grant_id: 'g-1', expires_at: '2030-01-01T00:30:00.000Z' }));
      else if (path === '/stint/grants/status') res.end(JSON.stringify({ grant_id: 'g-1', state: 'revoked', quarantined: true }));
      else if (path === '/stint/revoke') res.end(JSON.stringify({ revoked: [{ grant_id: 'g-1', state: 'revoked' }], notes: ['STS keys stay valid until expiry'] }));
      else if (path === '/stint/attestation/nonce') res.end(JSON.stringify({ nonce: 'n-1' }));
    };
    expect(await client.renew(subject('subj'), 'g-1', 1_200_000)).toEqual({ expiresAt: Date.parse('2030-01-01T00:30:00Z'), renewAfter: renewAfterOf(clock.now(), Date.parse('2030-01-01T00:30:00Z')) });
    expect(Object.fromEntries(wire.seen.at(-1)!.form)).toEqual({ subject_token: 'subj', subject_token_type: JWT_TOKEN_TYPE, grant_id: 'g-1', ttl_seconds: '1200' });
    expect(await client.grantStatus(subject('subj'), 'g-1')).toEqual({ state: 'revoked', quarantined: true });
    expect(await client.revoke(subject('subj'), 'g-1', 'shutdown')).toEqual({ notes: ['STS keys stay valid until expiry'] });
    expect(wire.seen.at(-1)!.form.get('reason')).toBe('shutdown');
    expect(await client.nonce('azure')).toBe('n-1');

    wire.answer = (_p, _f, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    };
    const reasons = [
      await refusal(client.renew(subject('subj'), 'g-1', undefined)),
      await refusal(client.grantStatus(subject('subj'), 'g-1')),
      await refusal(client.revoke(subject('subj'), 'g-1')),
    ].map((e) => [e.code, e.details.reason]);
    expect(reasons).toEqual([
      ['ERR_NOT_FOUND', 'renew_unsupported'],
      ['ERR_NOT_FOUND', 'status_unsupported'],
      ['ERR_NOT_FOUND', 'revoke_unsupported'],
    ]);
    // Stint's own 404 (a grant of another workload) keeps its code and reason.
    wire.answer = (_p, _f, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_request', stint_code: 'ERR_NOT_FOUND', reason: 'grant_unknown' }));
    };
    expect((await refusal(client.renew(subject('subj'), 'g-2', undefined))).details.reason).toBe('grant_unknown');
  });
});

describe('TLS and mTLS', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stint-client-tls-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A CA (files prefixed), a server certificate and a client certificate from it. */
  function pki(prefix: string): { ca: string; server: { certFile: string; keyFile: string }; client: { certFile: string; keyFile: string } } {
    const ca = new TestCa(dir, prefix);
    return { ca: ca.caFile, server: ca.server('server'), client: ca.client('client', 'workload') };
  }

  it('an unreadable CA bundle at start is ERR_CONFIG_INVALID naming its setting', async () => {
    const absent = join(dir, 'absent.pem');
    let err = await refusal(StintClient.create({ url: 'https://127.0.0.1:1', timeout: 1000, caFile: absent }));
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    expect(err.message).toBe(`stint.caFile: cannot read ${absent}: ENOENT`);
    err = await refusal(StintClient.create({ url: 'https://127.0.0.1:1', timeout: 1000, caFile: absent }, { settingNames: { caFile: 'ca-bundle' } }));
    expect(err.message).toBe(`ca-bundle: cannot read ${absent}: ENOENT`);
  });

  it('verifies Stint with the CA bundle, presents the client certificate, and re-reads both when the files are replaced', async () => {
    const first = pki('a-');
    const second = pki('b-');
    const files = { ca: join(dir, 'mnt-ca.pem'), cert: join(dir, 'mnt-client.pem'), key: join(dir, 'mnt-client.key') };
    const place = (p: typeof first): void => {
      for (const [from, to] of [[p.ca, files.ca], [p.client.certFile, files.cert], [p.client.keyFile, files.key]] as const) {
        copyFileSync(from, `${to}.tmp`);
        renameSync(`${to}.tmp`, to);
      }
    };
    place(first);
    const context = (p: typeof first): { key: Buffer; cert: Buffer; ca: Buffer } => ({ key: readFileSync(p.server.keyFile), cert: readFileSync(p.server.certFile), ca: readFileSync(p.ca) });
    const wire = await startWire((h) => createHttpsServer({ ...context(first), requestCert: true, rejectUnauthorized: true }, h), 'https');
    const clientNames: string[] = [];
    wire.answer = (_p, _f, res) => {
      clientNames.push(String((res.req.socket as TLSSocket).getPeerCertificate().subject?.CN));
      goodAnswer(res);
    };
    const client = await StintClient.create({ url: wire.url, timeout: 5_000, caFile: files.ca, clientCertFile: files.cert, clientKeyFile: files.key });
    const noCert = await StintClient.create({ url: wire.url, timeout: 5_000, caFile: files.ca });
    try {
      expect((await client.exchange(subject('subj'), { kind: 'stint-jwt' })).token).toBe('tok-1');
      expect(clientNames).toEqual(['workload']);
      // Without a client certificate the server refuses the handshake.
      const refused = await refusal(noCert.exchange(subject('subj'), { kind: 'stint-jwt' }));
      expect(refused.code).toBe('ERR_UNAVAILABLE');
      expect(refused.details.reason).toBe('unreachable');

      // The server moves to a new CA (and trusts only client certificates of it), dropping its connections.
      (wire.server as unknown as { setSecureContext(o: object): void }).setSecureContext(context(second));
      wire.server.closeAllConnections();
      const stale = await refusal(client.exchange(subject('subj'), { kind: 'stint-jwt' }));
      expect(stale.details.reason).toBe('unreachable');
      // The files are replaced on disk (write + rename): the same client recovers.
      place(second);
      expect((await client.exchange(subject('subj'), { kind: 'stint-jwt' })).token).toBe('tok-1');
      expect(clientNames).toEqual(['workload', 'workload']);
    } finally {
      client.close();
      noCert.close();
      await wire.close();
    }
  }, 30_000);
});

describe('the rules written once', () => {
  it('isRetryable says yes only for a Stint code the table marks transient, never for a bare socket error or a non-error', () => {
    expect(isRetryable(new StintError('ERR_UPSTREAM_UNAVAILABLE', 'x'))).toBe(true);
    expect(isRetryable(new StintError('ERR_INTERNAL', 'x'))).toBe(false);
    expect(isRetryable(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isRetryable({ code: 'toString' })).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
    expect(isRetryable('ERR_UNAVAILABLE')).toBe(false);
  });

  it('renews two thirds of the way to expiry, rounded down, in seconds on the service and milliseconds in the clients', () => {
    expect(renewAfterOf(1_000, 1_900)).toBe(1_600);
    expect(renewAfterOf(1_000, 1_001)).toBe(1_000);
    expect(renewAfterOf(1_000_000, 1_900_000)).toBe(1_600_000);
  });
});
