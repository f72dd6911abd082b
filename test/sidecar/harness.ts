/**
 * Sidecar test harness: the real `stint` service (with a test Kubernetes issuer and a policy that
 * issues short-lived Stint JWTs) and the real `stint-sidecar` program, both over loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestIssuer } from '../support/test_issuer.js';
import { freePort } from '../support/ports.js';

/** Stint's audience in these tests. */
export const STINT_AUDIENCE = 'stint-sidecar-e2e';
/** Audience of the Stint JWTs the sidecar asks for. */
export const API_AUDIENCE = 'https://api.example.com';
/** Repository root, from the sources (vitest) or from dist/ (the benchmark). */
export const ROOT = import.meta.dirname.includes('/dist/') ? resolve(import.meta.dirname, '../../..') : resolve(import.meta.dirname, '../..');
/** Built sidecar entry point. */
export const SIDECAR_BIN = resolve(ROOT, 'dist/sidecar/main.js');
/** Built service entry point. */
export const STINT_BIN = resolve(ROOT, 'dist/src/cli/main.js');

/** The policy: namespace `apps` may get Stint JWTs from 1 s to 1 h (plus `extraAllow` entries, YAML at the allow list's indentation). */
export function sidecarPolicy(k8sIssuer: string, extraAllow = ''): string {
  return `version: 1
defaults:
  ttlOverMax: cap
rules:
  - name: apps-sidecar
    match:
      attestor: kubernetes
      issuer: ${k8sIssuer}
      claims:
        namespace: apps
    allow:
      - kind: stint-jwt
        audiences: [${API_AUDIENCE}, sts.amazonaws.com, https://gcp.example.com]
        ttl: { default: 10s, max: 1h }
${extraAllow}`;
}

/** A running Stint for sidecar tests. */
export interface StintUnderTest {
  readonly k8s: TestIssuer;
  readonly dir: string;
  readonly url: string;
  /** Bearer token of the admin surface and of POST /introspect. */
  readonly adminToken: string;
  service: RunningSidecar | null;
  /** Write a fresh projected-token-shaped subject token to `file`. */
  writeSubjectToken(file: string, options?: { namespace?: string; ttlSeconds?: number }): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Options of startStintServe. */
export interface StintOptions {
  /** More allow entries for the `apps` rule (YAML, 6 spaces deep). */
  readonly extraAllow?: string;
  /** More top-level service configuration (YAML), e.g. `providers:`. */
  readonly extraConfig?: string;
}

/** Start a test issuer and the `stint serve` program (not the in-process startStint of src/service.ts). */
export async function startStintServe(options: StintOptions = {}): Promise<StintUnderTest> {
  const k8s = await TestIssuer.start();
  const dir = mkdtempSync(join(tmpdir(), 'stint-sidecar-svc-'));
  const [http, grpc, admin] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(join(dir, 'policy.yaml'), sidecarPolicy(k8s.issuer, options.extraAllow));
  const adminToken = randomBytes(24).toString('base64url');
  writeFileSync(join(dir, 'admin.token'), `${adminToken}\n`, { mode: 0o600 });
  const configFile = join(dir, 'stint.yaml');
  writeFileSync(
    configFile,
    `issuer: http://127.0.0.1:${http}
audience: ${STINT_AUDIENCE}
trustDomain: sidecar.test
listen: { http: "127.0.0.1:${http}", grpc: "127.0.0.1:${grpc}", admin: "127.0.0.1:${admin}" }
store: { kind: sqlite, path: ./state/stint.db }
policy: { file: ./policy.yaml }
credentials: { maxTtl: 1h }
attestors:
  - kind: kubernetes
    name: cluster
    issuer: ${k8s.issuer}
    maxLifetime: 2h
    explainDenials: true
admin:
  tokens:
    - name: sidecar-e2e
      secret: { file: ./admin.token }
${options.extraConfig ?? ''}`,
  );
  const env: StintUnderTest = {
    k8s,
    dir,
    url: `http://127.0.0.1:${http}`,
    adminToken,
    service: null,
    async writeSubjectToken(file, options = {}) {
      const token = await k8s.mintKubernetes({ namespace: options.namespace ?? 'apps', serviceAccount: 'app', podName: 'app-7d9f-xyz12', audience: STINT_AUDIENCE, ...(options.ttlSeconds ? { ttl: options.ttlSeconds } : {}) });
      writeFileSync(file, token, { mode: 0o600 });
    },
    async start() {
      const p = spawnProgram(STINT_BIN, ['serve', '--config', configFile]);
      await p.waitFor(/stint listening/);
      env.service = p;
    },
    async stop() {
      await env.service?.stop();
      env.service = null;
    },
    async close() {
      await env.stop();
      await k8s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await env.start();
  return env;
}


/** A running `stint-sidecar`. */
export interface RunningSidecar {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines so far. */
  logs(): Record<string, unknown>[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or 128 + signal). */
  readonly exited: Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Start `stint-sidecar ARGS...`. */
export function startSidecar(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunningSidecar {
  return spawnProgram(SIDECAR_BIN, args, options);
}

/** Start `node BIN ARGS...` with captured output. */
export function spawnProgram(bin: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunningSidecar {
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters) w();
  });
  const exited = new Promise<number>((r) => child.once('exit', (code, signal) => r(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolveMatch, reject) => {
        const check = (): boolean => {
          const m = (out + err).match(pattern);
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            resolveMatch(m);
          }
          return !!m;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timeout waiting for ${pattern}\nstdout:\n${out.slice(-4000)}\nstderr:\n${err.slice(-4000)}`));
        }, timeoutMs);
        if (check()) return;
        waiters.add(check);
        void exited.then((code) => {
          if (!check()) {
            clearTimeout(timer);
            reject(new Error(`sidecar exited (${code}) before ${pattern}\nstdout:\n${out.slice(-4000)}\nstderr:\n${err.slice(-4000)}`));
          }
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Run `stint-sidecar ARGS...` to completion. */
export async function runSidecar(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const s = startSidecar(args, options);
  const code = await s.exited;
  return { code, stdout: s.stdout(), stderr: s.stderr() };
}

/** A temp folder for one test's files. */
export function tempDir(prefix = 'stint-sidecar-', base: string = tmpdir()): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(base, prefix));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Poll until `fn` returns a truthy value. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** GET a URL; status, headers and text. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** Read one counter or gauge value from Prometheus text (sum over matching series). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Free loopback ports. */
export { freePort };
