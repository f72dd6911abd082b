/**
 * The webhook's HTTPS listener under the connection limits (short ones here): a socket that never
 * sends a byte, and one that stops in the middle of its TLS handshake, are closed (the test waits
 * for the close event); a source over the cap is refused at once while another is served.
 */
import { closedByServer, openSocket } from '../support/sockets.js';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCa } from '../support/certs.js';
import { postHttps, startWebhookUnderTest, type WebhookUnderTest } from './helpers.js';

let env: WebhookUnderTest;
let ca: TestCa;
let port: number;
let lines: Record<string, unknown>[] = [];

function open(localAddress = '127.0.0.1'): Promise<Socket> {
  return openSocket(port, localAddress);
}

beforeAll(async () => {
  env = await startWebhookUnderTest('stint-webhook-limits-', { maxPerSource: 2, firstByteTimeoutMs: 300, keepAliveTimeoutMs: 300, headersTimeoutMs: 400, requestTimeoutMs: 500, tlsHandshakeTimeoutMs: 400 });
  ({ port, lines } = env);
  ca = env.ca;
});

afterAll(() => env?.close());

const healthy = async (): Promise<void> => {
  expect((await postHttps(port, readFileSync(ca.caFile), '', { path: '/healthz', method: 'GET' })).status).toBe(200);
};

describe('webhook connection limits', () => {
  it('a socket that never sends a byte is closed; the listener serves after', async () => {
    await closedByServer(await open());
    await healthy();
  });

  it('a socket that stops in the middle of its TLS handshake is closed after the handshake timeout', async () => {
    const s = await open();
    // The first bytes of a TLS record header (handshake, TLS 1.0 record version), then nothing.
    s.write(Buffer.from([0x16, 0x03, 0x01]));
    await closedByServer(s);
    await healthy();
  });

  it('a source over the cap is refused at once while another source is served', async () => {
    const held = await Promise.all([open('127.0.0.2'), open('127.0.0.2')]);
    const closedEarly: Socket[] = [];
    for (const s of held) s.once('close', () => closedEarly.push(s));
    await closedByServer(await open('127.0.0.2'));
    expect(closedEarly).toEqual([]);
    await healthy();
    expect(lines.filter((l) => l.msg === 'connection refused: too many from one source')).toEqual([expect.objectContaining({ listener: 'webhook', source: '127.0.0.2', maxPerSource: 2 })]);
    for (const s of held) s.destroy();
  });
});
