/**
 * The sidecar's listeners close idle connections and cap the sockets of one source, with short
 * limits given to `listen` (the sidecar's own are constants): sockets that never send a byte or
 * stop half-way are closed (the test waits for the close event), and a source over the cap is
 * refused at once while another source is still served.
 */
import { closedByServer, openSocket } from '../../support/sockets.js';
import type { Socket } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../sidecar/log.js';
import { close, listen, SIDECAR_LISTENER_LIMITS } from '../../../sidecar/outputs/listen.js';
import { freePort } from '../../support/ports.js';
import { rawRequest } from '../../transport/raw_http.js';

const logs: Record<string, unknown>[] = [];
const log = createLogger('debug', (line) => void logs.push(JSON.parse(line) as Record<string, unknown>));
let server: Server;
let port: number;
const ok = () => rawRequest(port, { method: 'GET', path: '/', headers: [], body: new Uint8Array() });

beforeAll(async () => {
  port = await freePort();
  server = await listen(`127.0.0.1:${port}`, (_req, res) => void res.writeHead(200, { 'content-length': 2 }).end('ok'), {
    log,
    name: 'test',
    limits: { maxPerSource: 3, firstByteTimeoutMs: 300, headersTimeoutMs: 400, requestTimeoutMs: 500, keepAliveTimeoutMs: 300 },
  });
});
afterAll(async () => {
  await close(server);
});

describe('sidecar listener limits', () => {
  it('has bounded defaults', () => {
    expect(SIDECAR_LISTENER_LIMITS.firstByteTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(SIDECAR_LISTENER_LIMITS.keepAliveTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(SIDECAR_LISTENER_LIMITS.maxPerSource).toBeGreaterThan(0);
  });

  it('sockets that never send a byte are closed; a request is served after', async () => {
    const sockets = await Promise.all([openSocket(port), openSocket(port)]);
    await Promise.all(sockets.map(closedByServer));
    expect((await ok()).status).toBe(200);
  });

  it('a request whose headers stop half-way is closed', async () => {
    const s = await openSocket(port);
    s.write('GET / HTTP/1.1\r\nHost: x\r\n');
    await closedByServer(s);
    expect((await ok()).status).toBe(200);
  });

  it('a source over the cap is refused at once while another source is served', async () => {
    const held = await Promise.all([openSocket(port, '127.0.0.2'), openSocket(port, '127.0.0.2'), openSocket(port, '127.0.0.2')]);
    const closedEarly: Socket[] = [];
    for (const s of held) s.once('close', () => closedEarly.push(s));
    await closedByServer(await openSocket(port, '127.0.0.2'));
    expect(closedEarly).toEqual([]);
    expect((await ok()).status).toBe(200);
    expect(logs.filter((l) => l.msg === 'connection refused: too many from one source')).toEqual([expect.objectContaining({ level: 'warn', listener: 'test', source: '127.0.0.2', maxPerSource: 3 })]);
    for (const s of held) s.destroy();
  });
});
