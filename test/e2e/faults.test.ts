/**
 * Scenario (issue 14, faults that held and must keep holding): `kill -9` in the middle of a load
 * leaves no credential a client received without its grant and audit event; PostgreSQL going away
 * and coming back gives clean 503s with Retry-After, then recovery without a restart.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPg, type EmbeddedPg } from '../support/embedded_pg.js';
import { freePort } from '../support/ports.js';
import { startProgram, type RunningProgram } from '../support/programs.js';
import { TestIssuer } from '../support/test_issuer.js';
import { AUDIENCE, e2ePolicy, exchangeForm, startE2E, type E2E } from './harness.js';

const NO_LIMITS = 'limits: { perIdentity: null, perSource: null }\n';

describe('kill -9 mid-load', () => {
  let env: E2E;
  beforeAll(async () => {
    env = await startE2E({ extraConfig: NO_LIMITS });
  }, 60_000);
  afterAll(async () => {
    await env?.close();
  });

  it('every credential a client received has its grant and its audit event after the restart', async () => {
    const subjects = await Promise.all(Array.from({ length: 6 }, (_, i) => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: `api-${i}`, audience: AUDIENCE })));
    const received = new Set<string>();
    let stop = false;
    const worker = async (subject: string): Promise<void> => {
      while (!stop) {
        try {
          const res = await fetch(`${env.httpUrl}/token`, { method: 'POST', body: new URLSearchParams(exchangeForm(subject)) });
          if (res.status !== 200) continue;
          const body = (await res.json()) as { grant_id?: string };
          if (body.grant_id) received.add(body.grant_id);
        } catch {
          // The process is gone: requests in flight fail, which is the point.
        }
      }
    };
    const workers = subjects.map((s) => worker(s));
    while (received.size < 40) await new Promise((r) => setTimeout(r, 20));
    env.service.child.kill('SIGKILL');
    await new Promise((r) => env.service.child.once('exit', r));
    stop = true;
    await Promise.all(workers);
    await env.restart();

    const grants = await env.grpc.adminCall<{ grants: { id: string }[] }>('ListGrants', { limit: 1000 }, env.adminToken);
    expect(grants.ok).toBe(true);
    const stored = new Set(grants.ok ? grants.value.grants.map((g) => g.id) : []);
    const audit = await env.grpc.adminCall<{ events: { grant_ids: string[] }[] }>('QueryAudit', { since: '1h', type: 'exchange.allowed', limit: 1000 }, env.adminToken);
    expect(audit.ok).toBe(true);
    const audited = new Set(audit.ok ? audit.value.events.flatMap((e) => e.grant_ids) : []);
    const missing = [...received].filter((id) => !stored.has(id) || !audited.has(id));
    expect(missing, `credentials received without a durable grant and audit event (of ${received.size})`).toEqual([]);
  });
});

/** A loopback TCP proxy in front of PostgreSQL that can go down (refusing and cutting) and come back on the same port. */
class FlakyProxy {
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}
  async up(): Promise<void> {
    this.#server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.#server!.listen(this.port, '127.0.0.1', r));
  }
  async down(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
    this.#server = null;
  }
}

describe('PostgreSQL goes away and comes back', () => {
  let pg: EmbeddedPg;
  let k8s: TestIssuer;
  let proxy: FlakyProxy;
  let service: RunningProgram;
  let dir: string;
  let httpUrl: string;

  beforeAll(async () => {
    pg = await startEmbeddedPg({ databases: ['stint'] });
    k8s = await TestIssuer.start();
    proxy = new FlakyProxy(await freePort(), pg.port);
    await proxy.up();
    dir = mkdtempSync(join(tmpdir(), 'stint-faults-'));
    const [http, grpc, admin] = [await freePort(), await freePort(), await freePort()];
    httpUrl = `http://127.0.0.1:${http}`;
    writeFileSync(join(dir, 'policy.yaml'), e2ePolicy(k8s.issuer, 'https://github.invalid'));
    writeFileSync(
      join(dir, 'stint.yaml'),
      `issuer: ${httpUrl}
audience: ${AUDIENCE}
listen: { http: "127.0.0.1:${http}", grpc: "127.0.0.1:${grpc}", admin: "127.0.0.1:${admin}" }
store: { kind: postgres, url: { env: STINT_STORE_URL }, poolSize: 4, connectTimeout: 1s, statementTimeout: 1s }
policy: { file: ./policy.yaml }
attestors:
  - { kind: kubernetes, name: cluster, issuer: ${k8s.issuer} }
${NO_LIMITS}`,
    );
    const url = pg.url({ database: 'stint' }).replace(`:${pg.port}/`, `:${proxy.port}/`);
    service = startProgram(['serve', '--config', join(dir, 'stint.yaml')], { env: { STINT_STORE_URL: url } });
    await service.waitFor(/stint listening/);
  }, 120_000);
  afterAll(async () => {
    await service?.stop();
    await proxy?.down();
    await k8s?.close();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const exchange = async (): Promise<Response> => {
    const subject = await k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-1', audience: AUDIENCE });
    return fetch(`${httpUrl}/token`, { method: 'POST', body: new URLSearchParams(exchangeForm(subject)) });
  };

  it('answers 503 ERR_UNAVAILABLE with Retry-After while it is down, keeps /healthz, and recovers without a restart', async () => {
    expect((await exchange()).status).toBe(200);
    await proxy.down();
    const down = await exchange();
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await down.json()) as Record<string, unknown>).stint_code).toBe('ERR_UNAVAILABLE');
    expect((await fetch(`${httpUrl}/healthz`)).status).toBe(200);
    await proxy.up();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await exchange()).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    expect(service.child.exitCode).toBeNull();
  });
});
