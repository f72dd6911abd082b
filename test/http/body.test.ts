/**
 * readBody over a real node:http server on loopback: a body sent in several chunks comes back
 * whole, an empty one as empty, the size cap holds for a body larger than it declares, a wrong
 * content type is refused, and a client that goes away mid-body gets a typed rejection (never a
 * hang, never an unhandled error) while the server keeps serving.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBody } from '../../src/http/body.js';
import { StintError } from '../../src/errors.js';
import { eventually } from '../support/eventually.js';

const LIMITS = { contentType: 'application/x-www-form-urlencoded', maxBytes: 64, tooLargeCode: 'ERR_INVALID_REQUEST' as const };

interface Outcome {
  readonly body?: string;
  readonly code?: string;
}

let server: Server | null = null;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = null;
});

/** A server answering with what readBody gave; every outcome is also pushed to `seen`. */
async function bodyServer(seen: Outcome[], started: IncomingMessage[] = []): Promise<number> {
  server = createServer((req: IncomingMessage, res) => {
    started.push(req);
    readBody(req, LIMITS).then(
      (b) => {
        seen.push({ body: b.toString('utf8') });
        res.end(`ok:${b.toString('utf8')}`);
      },
      (err: unknown) => {
        const code = err instanceof StintError ? err.code : 'not a StintError';
        seen.push({ code });
        if (!res.destroyed) res.writeHead(400).end(code);
      },
    );
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

/** POST `chunks` one write each (chunked transfer encoding), then end. */
function post(port: number, chunks: readonly string[], contentType = LIMITS.contentType): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'content-type': contentType } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('readBody', () => {
  it('reads a body sent in several chunks whole, and an empty one as empty', async () => {
    const seen: Outcome[] = [];
    const port = await bodyServer(seen);
    expect(await post(port, ['grant_type=a', '&subject_token=b', '&x=c'])).toEqual({ status: 200, text: 'ok:grant_type=a&subject_token=b&x=c' });
    expect(await post(port, [])).toEqual({ status: 200, text: 'ok:' });
  });

  it('refuses a body past the cap while it streams (no content-length), then serves the next request', async () => {
    const seen: Outcome[] = [];
    const port = await bodyServer(seen);
    const big = await post(port, ['a'.repeat(40), 'b'.repeat(40)]);
    expect(big).toEqual({ status: 400, text: 'ERR_INVALID_REQUEST' });
    expect(await post(port, ['small=1'])).toEqual({ status: 200, text: 'ok:small=1' });
  });

  it('refuses a wrong content type with ERR_INVALID_REQUEST', async () => {
    const seen: Outcome[] = [];
    const port = await bodyServer(seen);
    expect(await post(port, ['{}'], 'application/json')).toEqual({ status: 400, text: 'ERR_INVALID_REQUEST' });
    expect(await post(port, ['a=1'])).toEqual({ status: 200, text: 'ok:a=1' });
  });

  it('rejects with ERR_INVALID_REQUEST when the client goes away mid-body, and keeps serving', async () => {
    const seen: Outcome[] = [];
    const started: IncomingMessage[] = [];
    const port = await bodyServer(seen, started);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: ${LIMITS.contentType}\r\nContent-Length: 50\r\n\r\nabc`);
    // Once the handler is reading the body, drop the connection.
    await eventually(() => started.length === 1 || null);
    socket.destroy();
    await eventually(() => seen.length === 1 || null);
    expect(seen).toEqual([{ code: 'ERR_INVALID_REQUEST' }]);
    expect(await post(port, ['after=1'])).toEqual({ status: 200, text: 'ok:after=1' });
  });
});
