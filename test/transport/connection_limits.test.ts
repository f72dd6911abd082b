/**
 * Idle and handshake timeouts and the per-source connection cap on every listener of the service
 * (HTTP, gRPC workload, gRPC admin, HTTPS webhook), with short configured limits: sockets that
 * never send a byte, or stop half-way through a request, are closed by the listener (the test
 * waits for the close event, it does not sleep); a source over the cap is refused at once while
 * another source is still served.
 */
import { closedByServer, openSocket } from '../support/sockets.js';
import type { Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StintGrpcClient } from '../support/grpc_client.js';
import { startServiceUnderTest, type ServiceUnderTest } from './service_under_test.js';

const SHORT = { maxPerSource: 1000, firstByteTimeoutMs: 300, keepAliveTimeoutMs: 300, headersTimeoutMs: 400, requestTimeoutMs: 500, tlsHandshakeTimeoutMs: 300, grpc: { keepaliveTimeMs: 1000, keepaliveTimeoutMs: 500, maxConnectionIdleMs: 400, maxConnectionAgeMs: 60_000, maxConnectionAgeGraceMs: 1000 } };

describe('idle connections are closed', () => {
  let svc: ServiceUnderTest;
  beforeAll(async () => {
    svc = await startServiceUnderTest({ connections: SHORT });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('HTTP, gRPC and admin sockets that never send a byte are closed after the first-byte timeout; the next request is served', async () => {
    const ports = [svc.stint.httpPort, svc.stint.grpcPort, svc.stint.adminPort];
    const sockets = await Promise.all(ports.flatMap((p) => [openSocket(p), openSocket(p), openSocket(p)]));
    await Promise.all(sockets.map(closedByServer));
    expect((await fetch(`${svc.httpUrl}/healthz`)).status).toBe(200);
  });

  it('HTTP: a request whose headers stop half-way is closed after the headers timeout', async () => {
    const s = await openSocket(svc.stint.httpPort);
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await closedByServer(s);
    expect((await fetch(`${svc.httpUrl}/healthz`)).status).toBe(200);
  });

  it('HTTP: a kept-alive connection left idle after a response is closed after the keep-alive timeout', async () => {
    const s = await openSocket(svc.stint.httpPort);
    let answered = '';
    s.on('data', (d: Buffer) => (answered += d.toString()));
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await closedByServer(s);
    expect(answered).toMatch(/^HTTP\/1\.1 200/);
  });

  it('gRPC: a connected client with no calls is sent away after max connection idle, and calls again after', async () => {
    const client = new grpc.Client(`127.0.0.1:${svc.stint.grpcPort}`, grpc.credentials.createInsecure());
    try {
      await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5000, (e) => (e ? reject(e) : resolve())));
      const channel = client.getChannel();
      // READY, then IDLE once the server's GOAWAY ends the connection.
      await new Promise<void>((resolve) => {
        const watch = (): void => {
          const state = channel.getConnectivityState(false);
          if (state !== grpc.connectivityState.READY) return resolve();
          channel.watchConnectivityState(state, Date.now() + 10_000, watch);
        };
        watch();
      });
      const grpcClient = new StintGrpcClient(`127.0.0.1:${svc.stint.grpcPort}`, `127.0.0.1:${svc.stint.adminPort}`);
      expect(await grpcClient.adminCall('ListGrants', {}, svc.adminToken)).toMatchObject({ ok: true });
      grpcClient.close();
    } finally {
      client.close();
    }
  });
});

describe('per-source connection cap', () => {
  let svc: ServiceUnderTest;
  beforeAll(async () => {
    svc = await startServiceUnderTest({ connections: { maxPerSource: 3 } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  for (const listener of ['http', 'grpc', 'admin'] as const) {
    it(`${listener}: a source over the cap is refused at once while another source is served`, async () => {
      const port = listener === 'http' ? svc.stint.httpPort : listener === 'grpc' ? svc.stint.grpcPort : svc.stint.adminPort;
      const held = await Promise.all([openSocket(port, '127.0.0.2'), openSocket(port, '127.0.0.2'), openSocket(port, '127.0.0.2')]);
      const closedEarly: Socket[] = [];
      for (const s of held) s.once('close', () => closedEarly.push(s));
      const over = await openSocket(port, '127.0.0.2');
      await closedByServer(over);
      expect(closedEarly).toEqual([]);
      // Another source (127.0.0.1) is served meanwhile.
      if (listener === 'http') expect((await fetch(`${svc.httpUrl}/healthz`)).status).toBe(200);
      else {
        const client = new StintGrpcClient(`127.0.0.1:${svc.stint.grpcPort}`, `127.0.0.1:${svc.stint.adminPort}`);
        expect(await client.adminCall('ListGrants', {}, svc.adminToken)).toMatchObject({ ok: true });
        client.close();
      }
      for (const s of held) s.destroy();
      await new Promise((r) => setImmediate(r));
      expect(svc.logs.filter((l) => l.msg === 'connection refused: too many from one source' && l.source === '127.0.0.2' && l.listener === listener)).toHaveLength(1);
    });
  }
});
