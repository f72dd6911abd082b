/**
 * src/http/bounded_read.ts: an upstream's answer is read whole only up to the cap, whether the cap
 * is broken by a declared Content-Length or by a stream that keeps growing; an answer within the
 * cap reads whole. Real HTTP over loopback.
 */
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBounded } from '../../src/http/bounded_read.js';
import { metadataGet } from '../../src/client/subject_token/metadata_http.js';
import { StintError } from '../../src/errors.js';

const CAP = 1024;
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/small') return res.end('x'.repeat(CAP));
    if (req.url === '/declared') {
      res.writeHead(200, { 'content-length': String(CAP + 1) });
      return res.end('y'.repeat(CAP + 1));
    }
    // Chunked, no length: the cap is found while reading (64 KiB, over the metadata cap too).
    res.writeHead(200, { 'content-type': 'text/plain' });
    for (let i = 0; i < 64; i++) res.write('z'.repeat(1025));
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const fetchBounded = (path: string): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    get(`${base}${path}`, (res: IncomingMessage) => {
      readBounded(res, CAP, () => new StintError('ERR_UNAVAILABLE', 'too large', { reason: 'too_large' })).then(resolve, reject);
    }).on('error', reject);
  });

describe('readBounded', () => {
  it('refuses an answer whose declared Content-Length is over the cap, then reads one within it', async () => {
    await expect(fetchBounded('/declared')).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE', details: { reason: 'too_large' } });
    expect((await fetchBounded('/small')).length).toBe(CAP);
  });

  it('refuses a chunked answer that grows past the cap, then reads one within it', async () => {
    await expect(fetchBounded('/chunked')).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE', details: { reason: 'too_large' } });
    expect((await fetchBounded('/small')).toString('utf8')).toBe('x'.repeat(CAP));
  });
});

describe('metadataGet (the VM subject-token sources)', () => {
  it('refuses a metadata answer over 64 KiB as metadata_bad_response, then reads a small one', async () => {
    await expect(metadataGet(`${base}/chunked`, {}, 'gcp-instance')).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE', details: { reason: 'metadata_bad_response' } });
    expect(await metadataGet(`${base}/small`, {}, 'gcp-instance')).toBe('x'.repeat(CAP));
  });
});
