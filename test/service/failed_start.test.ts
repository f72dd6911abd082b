/**
 * A start that fails part-way leaves nothing behind (issue 13): a listener that cannot listen
 * makes startStint reject with a ConfigError naming its key, and every part opened before it —
 * the earlier listeners, the quarantine refresh, the providers, the store, the attestors — is
 * closed, newest first, by the same disposal stack a stop unwinds. Real listeners on loopback,
 * a real SQLite store, a real Kubernetes-style issuer.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { StintConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { startStint } from '../../src/service.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { makeServerCertificates } from '../support/certs.js';
import { freePort } from '../support/ports.js';
import { TestIssuer } from '../support/test_issuer.js';
import { appsPolicy } from '../support/stint_under_test.js';

let dir: string;
let k8s: TestIssuer;
let held: Server | null = null;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stint-failed-start-'));
  k8s = await TestIssuer.start();
  writeFileSync(join(dir, 'policy.yaml'), appsPolicy(k8s.issuer));
});

afterEach(async () => {
  await new Promise<void>((r) => (held ? held.close(() => r()) : r()));
  held = null;
  await k8s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Loopback ports of the listeners. */
interface Ports {
  readonly http: number;
  readonly grpc: number;
  readonly admin: number;
  readonly webhook?: number;
}

/** A configuration on `ports` with a SQLite store in `dir`, a Kubernetes attestor and a Vault provider (one with a close). */
async function configOn(ports: Ports, extra: Record<string, unknown> = {}): Promise<StintConfig> {
  return validateConfig({
    issuer: `http://127.0.0.1:${ports.http}`,
    audience: 'stint-failed-start',
    listen: { http: `127.0.0.1:${ports.http}`, grpc: `127.0.0.1:${ports.grpc}`, admin: `127.0.0.1:${ports.admin}` },
    store: { kind: 'sqlite', path: join(dir, 'stint.db') },
    policy: { file: join(dir, 'policy.yaml'), watch: true },
    attestors: [{ kind: 'kubernetes', name: 'cluster', issuer: k8s.issuer }],
    // Nothing calls Vault at start: the provider exists only to be closed.
    providers: { vault: { address: `http://127.0.0.1:${await freePort()}`, role: 'stint' } },
    ...extra,
  });
}

/** Every log line of a logger at debug level, parsed. */
function captureLogs(): { logs: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logs, logger: createLogger('debug', sink) };
}

/** The parts the disposal stack closed, in the order it closed them. */
function closedParts(logs: readonly Record<string, unknown>[]): string[] {
  return logs.filter((l) => l.msg === 'closed').map((l) => String(l.part));
}

/** Hold `port` on 127.0.0.1 the way another process would. */
function hold(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** Resolves when `port` can be bound on 127.0.0.1 (then releases it); rejects with EADDRINUSE otherwise. */
async function bindAndRelease(port: number): Promise<void> {
  const s = await hold(port);
  await new Promise<void>((r) => s.close(() => r()));
}

/** Paths under the test folder this process holds a file descriptor on (the SQLite file and its WAL). */
function openFilesUnderDir(): string[] {
  const fds = readdirSync('/proc/self/fd');
  return fds.flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return [];
    }
  });
}

/** Timers keeping the event loop alive (unref'd timers are not counted: they never hold a process). */
function liveTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** The rejection of `p` (fails the test when it resolves). */
async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${String(v)}`);
    },
    (e: unknown) => e,
  );
}

describe('a listener that cannot listen at start', () => {
  it('a taken admin port rejects with ERR_CONFIG_INVALID on listen.admin and closes every part opened before it, newest first', async () => {
    const ports = { http: await freePort(), grpc: await freePort(), admin: await freePort() };
    const config = await configOn(ports);
    held = await hold(ports.admin);
    const { logs, logger } = captureLogs();
    const timersBefore = liveTimers();
    const sighupBefore = process.listenerCount('SIGHUP');

    const err = await rejectionOf(startStint(config, { logger, tickIntervalMs: 50 }));

    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_CONFIG_INVALID');
    expect((err as ConfigError).path).toBe('listen.admin');
    expect((err as Error).message).toBe(`listen.admin: cannot listen on 127.0.0.1:${ports.admin}: address already in use`);
    // Everything opened before the admin listener was closed, in the reverse of the order it opened;
    // the periodic work and the policy reload start after the listeners, so they never ran.
    expect(closedParts(logs)).toEqual(['grpc listener', 'http listener', 'gRPC servers', 'quarantine refresh', 'provider vault', 'store', 'attestors']);
    expect(logs.filter((l) => l.msg === 'close failed')).toEqual([]);
    expect(logs.some((l) => l.msg === 'stint listening')).toBe(false);
    // The earlier listeners' ports are free again, the store's file is closed, no timer holding the
    // process and no SIGHUP listener was left behind.
    await bindAndRelease(ports.http);
    await bindAndRelease(ports.grpc);
    expect(openFilesUnderDir()).toEqual([]);
    expect(liveTimers()).toBeLessThanOrEqual(timersBefore);
    expect(process.listenerCount('SIGHUP')).toBe(sighupBefore);

    // Once the port is free, the same configuration starts, serves, and stops the same way.
    await new Promise<void>((r) => held!.close(() => r()));
    held = null;
    const { logs: runLogs, logger: runLogger } = captureLogs();
    const stint = await startStint(config, { logger: runLogger, tickIntervalMs: 50 });
    expect([stint.httpPort, stint.grpcPort, stint.adminPort]).toEqual([ports.http, ports.grpc, ports.admin]);
    const ready = await fetch(`http://127.0.0.1:${stint.httpPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(openFilesUnderDir().some((f) => f.endsWith('stint.db'))).toBe(true);
    await stint.close();
    expect(closedParts(runLogs)).toEqual(['policy reload', 'periodic work', 'listener drain', 'admin listener', 'grpc listener', 'http listener', 'gRPC servers', 'quarantine refresh', 'provider vault', 'store', 'attestors']);
    for (const port of [ports.http, ports.grpc, ports.admin]) await bindAndRelease(port);
    expect(openFilesUnderDir()).toEqual([]);
    expect(process.listenerCount('SIGHUP')).toBe(sighupBefore);
  });

  it('a taken webhook port (the last listener) frees the HTTP, gRPC and admin ports already listening', async () => {
    const ports = { http: await freePort(), grpc: await freePort(), admin: await freePort(), webhook: await freePort() };
    const tls = makeServerCertificates(dir, 'webhook-');
    const config = await configOn(ports, { webhook: { listen: `127.0.0.1:${ports.webhook}`, tls: { certFile: tls.certFile, keyFile: tls.keyFile }, sidecar: { image: 'ghcr.io/stint-dev/stint:0.1.0' } } });
    held = await hold(ports.webhook);
    const { logs, logger } = captureLogs();

    const err = await rejectionOf(startStint(config, { logger }));

    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_CONFIG_INVALID');
    expect((err as ConfigError).path).toBe('webhook.listen');
    expect((err as Error).message).toContain('address already in use');
    expect(closedParts(logs)).toEqual(['webhook listener', 'admin listener', 'grpc listener', 'http listener', 'gRPC servers', 'quarantine refresh', 'provider vault', 'store', 'attestors']);
    for (const port of [ports.http, ports.grpc, ports.admin]) await bindAndRelease(port);
    expect(openFilesUnderDir()).toEqual([]);

    // With the port free the webhook listens too.
    await new Promise<void>((r) => held!.close(() => r()));
    held = null;
    const stint = await startStint(config, { logger: createLogger('silent') });
    expect(stint.webhookPort).toBe(ports.webhook);
    await stint.close();
    for (const port of [ports.http, ports.grpc, ports.admin, ports.webhook]) await bindAndRelease(port);
  });

});

describe('a start that fails before the listeners', () => {
  it('a policy allowing a kind no provider issues fails after the store opened, and closes the providers, the store and the attestors', async () => {
    const ports = { http: await freePort(), grpc: await freePort(), admin: await freePort() };
    const config = await configOn(ports);
    writeFileSync(join(dir, 'policy.yaml'), `version: 1
rules:
  - name: apps
    match: { attestor: kubernetes, issuer: ${k8s.issuer}, claims: { namespace: apps } }
    allow:
      - kind: aws-sts
        targets: ["arn:aws:iam::123456789012:role/app"]
        ttl: { default: 15m, max: 1h }
`);
    const { logs, logger } = captureLogs();

    const err = await rejectionOf(startStint(config, { logger }));

    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_POLICY_INVALID');
    expect((err as ConfigError).path).toBe('rules');
    expect(closedParts(logs)).toEqual(['provider vault', 'store', 'attestors']);
    expect(openFilesUnderDir()).toEqual([]);
    for (const port of [ports.http, ports.grpc, ports.admin]) await bindAndRelease(port);
  });

  it('a missing TLS file fails the start before anything opens (no store file is created)', async () => {
    const ports = { http: await freePort(), grpc: await freePort(), admin: await freePort() };
    const config = await configOn(ports, { tls: { certFile: join(dir, 'missing.crt'), keyFile: join(dir, 'missing.key') } });
    const { logs, logger } = captureLogs();

    const err = await rejectionOf(startStint(config, { logger }));

    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_CONFIG_INVALID');
    expect((err as ConfigError).path).toMatch(/^tls/);
    expect(closedParts(logs)).toEqual([]);
    expect(existsSync(join(dir, 'stint.db'))).toBe(false);
    for (const port of [ports.http, ports.grpc, ports.admin]) await bindAndRelease(port);
  });
});
