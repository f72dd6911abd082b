/**
 * A Stint under test, one way for every test: a configuration written to a temporary folder (the
 * policy, the admin token files and `stint.yaml`), then either the real `stint serve` program
 * built into dist/ or the same code in-process (`startStint` on the configuration file, with an
 * injected clock), and one teardown. Also the child-process driver for the built programs
 * (`stint`, `stint-sidecar`) and the requests most tests make of a running service (the RFC 8693
 * form, Admin QueryAudit and ListGrants).
 */
import { JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../../src/client/constants.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { stringify } from 'yaml';
import type { Clock } from '../../src/clock.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { StintConfig } from '../../src/config/schema.js';
import { startStint, type RunningStint } from '../../src/service.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { StintGrpcClient } from './grpc_client.js';
import { freePort } from './ports.js';

// ---------------------------------------------------------------------------------------------
// The built programs

/** Repository root, from the sources (vitest) or from dist/ (the benchmarks). */
export const ROOT = import.meta.dirname.includes('/dist/') ? resolve(import.meta.dirname, '../../..') : resolve(import.meta.dirname, '../..');
/** Built service entry point. */
export const STINT_BIN = resolve(ROOT, 'dist/src/cli/main.js');
/** Built sidecar entry point. */
export const SIDECAR_BIN = resolve(ROOT, 'dist/sidecar/main.js');

/** A running child program with captured output. */
export interface RunningProgram {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines of stdout so far. */
  logs(): Record<string, unknown>[];
  /** Wait until the combined output matches (rejects when the program exits first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or 128 + signal). */
  readonly exited: Promise<number>;
  /** Signal it (SIGTERM by default) and wait for its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Options of a child program. */
export interface ProgramOptions {
  /** Added to this process's environment (or, with `inheritEnv: false`, the whole environment). */
  readonly env?: NodeJS.ProcessEnv;
  readonly inheritEnv?: boolean;
  readonly cwd?: string;
}

const childEnv = (options: ProgramOptions): NodeJS.ProcessEnv => (options.inheritEnv === false ? { ...options.env } : { ...process.env, ...options.env });

/** Start `node BIN ARGS...` with captured output. */
export function spawnProgram(bin: string, args: string[], options: ProgramOptions = {}): RunningProgram {
  const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? ROOT, env: childEnv(options), stdio: ['ignore', 'pipe', 'pipe'] });
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
            reject(new Error(`${bin} exited (${code}) before ${pattern}\nstdout:\n${out.slice(-4000)}\nstderr:\n${err.slice(-4000)}`));
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

/** Start `stint ARGS...` in the background. */
export function startProgram(args: string[], options: ProgramOptions = {}): RunningProgram {
  return spawnProgram(STINT_BIN, args, options);
}

/** Start `stint-sidecar ARGS...` in the background. */
export function startSidecar(args: string[], options: ProgramOptions = {}): RunningProgram {
  return spawnProgram(SIDECAR_BIN, args, options);
}

/** What a program run to completion printed. */
export interface ProgramRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `node BIN ARGS...` to completion with `input` on stdin. */
export function runProgram(bin: string, args: string[], options: ProgramOptions & { input?: string } = {}): Promise<ProgramRun> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? ROOT, env: childEnv(options) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Run `stint ARGS...` to completion. */
export function runStint(args: string[], options: ProgramOptions & { input?: string } = {}): Promise<ProgramRun> {
  return runProgram(STINT_BIN, args, options);
}

/** Run `stint-sidecar ARGS...` to completion. */
export async function runSidecar(args: string[], options: ProgramOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const s = startSidecar(args, options);
  const code = await s.exited;
  return { code, stdout: s.stdout(), stderr: s.stderr() };
}

/**
 * Run a built client program (e.g. dist/test/sidecar/gcp_client.js) with only `env` (and PATH) in
 * its environment, to exit 0; its stdout JSON lines.
 */
export function runJsonLinesProgram(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>[]> {
  return runProgram(bin, args, { env: { PATH: process.env.PATH, ...env }, inheritEnv: false }).then(({ code, stdout, stderr }) => {
    if (code !== 0) throw new Error(`${bin} exited ${code}: ${stderr}`);
    return stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  });
}

// ---------------------------------------------------------------------------------------------
// The configuration

/** Loopback listen ports; 0 (or missing) lets the system pick. */
export interface ListenPorts {
  readonly http?: number;
  readonly grpc?: number;
  readonly admin?: number;
}

/** An admin credential: a token in a 0600 file of the folder. */
export interface AdminToken {
  readonly name: string;
  /** The secret (random when missing). */
  readonly token?: string;
  /** File name in the folder (default `admin.token` for the first, `<name>.token` for others). */
  readonly file?: string;
}

/** What goes into a Stint's folder. */
export interface StintConfigOptions {
  /** Prefix of the temporary folder. */
  readonly prefix?: string;
  readonly audience: string;
  readonly trustDomain?: string;
  /** The issuer URL (default: the HTTP listener's when its port is fixed, else http://127.0.0.1:1). */
  readonly issuer?: string;
  readonly ports?: ListenPorts;
  /** The policy YAML (written to policy.yaml). */
  readonly policy: string;
  /** More settings of `policy:` beside its file (relative paths resolve against the folder). */
  readonly policySettings?: Record<string, unknown>;
  /** `credentials.maxTtl`. */
  readonly maxTtl?: string;
  readonly attestors: readonly Record<string, unknown>[];
  /** Admin credentials (none: no `admin:` section). */
  readonly admins: readonly AdminToken[];
  /** More top-level configuration: YAML text or an object (`@DIR@` stands for the folder in either). */
  readonly extra?: string | Record<string, unknown>;
  /** More files for the folder (secrets the configuration names), written 0600. */
  readonly secretFiles?: Readonly<Record<string, string>>;
}

/** A written configuration. */
export interface StintFiles {
  readonly dir: string;
  readonly configFile: string;
  /** The first admin's token and file. */
  readonly adminToken: string;
  readonly adminTokenFile: string;
  /** Every admin's token file, by name. */
  readonly adminTokenFiles: Readonly<Record<string, string>>;
}

const quotedAddress = (port = 0): string => `"127.0.0.1:${port}"`;

/** Write the policy, the admin token files and `stint.yaml` into a new temporary folder. */
export function writeStintConfig(options: StintConfigOptions): StintFiles {
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? 'stint-test-'));
  writeFileSync(join(dir, 'policy.yaml'), options.policy);
  const admins = options.admins.map((a, i) => ({ name: a.name, token: a.token ?? randomBytes(24).toString('base64url'), file: a.file ?? (i === 0 ? 'admin.token' : `${a.name}.token`) }));
  for (const a of admins) writeFileSync(join(dir, a.file), `${a.token}\n`, { mode: 0o600 });
  for (const [name, content] of Object.entries(options.secretFiles ?? {})) writeFileSync(join(dir, name), content, { mode: 0o600 });
  const ports = options.ports ?? {};
  const issuer = options.issuer ?? (ports.http ? `http://127.0.0.1:${ports.http}` : 'http://127.0.0.1:1');
  const policy = stringify({ file: './policy.yaml', ...options.policySettings }, { collectionStyle: 'flow' }).trim();
  const indent = (yaml: string): string => yaml.replace(/^(?=.)/gm, '  ');
  const extra = (typeof options.extra === 'string' ? options.extra : options.extra && Object.keys(options.extra).length > 0 ? stringify(options.extra) : '').replaceAll('@DIR@', dir);
  const text = `issuer: ${issuer}
audience: ${options.audience}
${options.trustDomain ? `trustDomain: ${options.trustDomain}\n` : ''}listen: { http: ${quotedAddress(ports.http)}, grpc: ${quotedAddress(ports.grpc)}, admin: ${quotedAddress(ports.admin)} }
store: { kind: sqlite, path: ./state/stint.db }
policy: ${policy}
${options.maxTtl ? `credentials: { maxTtl: ${options.maxTtl} }\n` : ''}attestors:
${indent(stringify(options.attestors))}${admins.length ? `admin:\n  tokens:\n${admins.map((a) => `    - name: ${a.name}\n      secret: { file: ./${a.file} }\n`).join('')}` : ''}${extra}`;
  const configFile = join(dir, 'stint.yaml');
  writeFileSync(configFile, text);
  return {
    dir,
    configFile,
    adminToken: admins[0]?.token ?? '',
    adminTokenFile: join(dir, admins[0]?.file ?? 'admin.token'),
    adminTokenFiles: Object.fromEntries(admins.map((a) => [a.name, join(dir, a.file)])),
  };
}

/** Three free loopback ports (a program's listeners, known before it starts). */
export async function freeListenPorts(): Promise<Required<ListenPorts>> {
  return { http: await freePort(), grpc: await freePort(), admin: await freePort() };
}

/** A stream that parses each JSON log line written to it into `into` (a logger's destination). */
export function jsonLogSink(into: Record<string, unknown>[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) into.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
}

/** Something the teardown closes too (a fake upstream, a test issuer). */
export interface Closeable {
  close(): Promise<unknown> | void;
}

async function closeAll(things: readonly (Closeable | null | undefined)[]): Promise<void> {
  await Promise.all(things.map((t) => t?.close()));
}

// ---------------------------------------------------------------------------------------------
// A Stint as the `stint serve` program

/** Options of startStintProgram. */
export interface StintProgramOptions extends StintConfigOptions {
  /** Working folder of the program (default: the repository root). */
  readonly cwd?: string;
  /** Closed after the program stops. */
  readonly alsoClose?: readonly (Closeable | null | undefined)[];
}

/** The `stint serve` program on its written configuration. */
export interface StintProgram extends StintFiles {
  /** http://127.0.0.1:<http port> */
  readonly url: string;
  readonly grpcAddr: string;
  readonly adminAddr: string;
  /** The running program (null while stopped). */
  service: RunningProgram | null;
  /** A gRPC client of TokenExchange and Admin (renewed by restart). */
  grpc: StintGrpcClient;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stop and start the program again on the same state. */
  restart(): Promise<void>;
  /** Stop it, close `alsoClose` and remove the folder. */
  close(): Promise<void>;
}

/** Write the configuration (fixed free ports unless given) and start `stint serve --config`. */
export async function startStintProgram(options: StintProgramOptions): Promise<StintProgram> {
  const ports = { ...(await freeListenPorts()), ...options.ports };
  const files = writeStintConfig({ ...options, ports });
  const grpcAddr = `127.0.0.1:${ports.grpc}`;
  const adminAddr = `127.0.0.1:${ports.admin}`;
  const env: StintProgram = {
    ...files,
    url: `http://127.0.0.1:${ports.http}`,
    grpcAddr,
    adminAddr,
    service: null,
    grpc: new StintGrpcClient(grpcAddr, adminAddr),
    async start() {
      const p = startProgram(['serve', '--config', files.configFile], options.cwd ? { cwd: options.cwd } : {});
      env.service = p;
      await p.waitFor(/stint listening/);
    },
    async stop() {
      await env.service?.stop();
      env.service = null;
    },
    async restart() {
      env.grpc.close();
      await env.stop();
      await env.start();
      env.grpc = new StintGrpcClient(grpcAddr, adminAddr);
    },
    async close() {
      env.grpc.close();
      await env.stop();
      await closeAll(options.alsoClose ?? []);
      rmSync(files.dir, { recursive: true, force: true });
    },
  };
  try {
    await env.start();
  } catch (e) {
    await env.close();
    throw e;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// A Stint in-process

/** Options of startStintInProcess. */
export interface InProcessOptions extends StintConfigOptions {
  /** The service's clock (tests drive periodic work with `stint.tick()`). */
  readonly clock?: Clock;
  /** Keep the service's log lines (at info) in `logs`; silent otherwise. */
  readonly captureLogs?: boolean;
  /** Closed after the service stops. */
  readonly alsoClose?: readonly (Closeable | null | undefined)[];
}

/** `startStint` (the code `stint serve` runs) on the written configuration. */
export interface InProcessStint extends StintFiles {
  /** The configuration as the program would load it. */
  readonly config: StintConfig;
  /** The running service (renewed by restart). */
  stint: RunningStint;
  /** A gRPC client of TokenExchange and Admin (renewed by restart). */
  grpc: StintGrpcClient;
  /** http://127.0.0.1:<http port> (the port may change on restart when it was 0). */
  url: string;
  /** Parsed log lines so far (with `captureLogs`). */
  readonly logs: Record<string, unknown>[];
  /** Stop the service (the folder and its state stay). */
  stop(): Promise<void>;
  /** Start it again on the same configuration and state. */
  start(): Promise<void>;
  /** Stop it, close `alsoClose` and remove the folder. */
  close(): Promise<void>;
}

/** Write the configuration, load it as `stint serve` does and start the service in this process. */
export async function startStintInProcess(options: InProcessOptions): Promise<InProcessStint> {
  const files = writeStintConfig(options);
  const config = loadConfigFile(files.configFile);
  const logs: Record<string, unknown>[] = [];
  const logger = options.captureLogs ? createLogger('info', jsonLogSink(logs)) : pino({ level: 'silent' });
  let running: { stint: RunningStint; grpc: StintGrpcClient } | null = null;
  const launch = async (): Promise<{ stint: RunningStint; grpc: StintGrpcClient }> => {
    const stint = await startStint(config, { ...(options.clock ? { clock: options.clock } : {}), logger, tickIntervalMs: 0 });
    return { stint, grpc: new StintGrpcClient(`127.0.0.1:${stint.grpcPort}`, `127.0.0.1:${stint.adminPort}`) };
  };
  const first = await launch().catch(async (e: unknown) => {
    await closeAll(options.alsoClose ?? []);
    rmSync(files.dir, { recursive: true, force: true });
    throw e;
  });
  running = first;
  const env: InProcessStint = {
    ...files,
    config,
    stint: first.stint,
    grpc: first.grpc,
    url: `http://127.0.0.1:${first.stint.httpPort}`,
    logs,
    async stop() {
      if (!running) return;
      running.grpc.close();
      await running.stint.close();
      running = null;
    },
    async start() {
      running = await launch();
      env.stint = running.stint;
      env.grpc = running.grpc;
      env.url = `http://127.0.0.1:${running.stint.httpPort}`;
    },
    async close() {
      await env.stop();
      await closeAll(options.alsoClose ?? []);
      rmSync(files.dir, { recursive: true, force: true });
    },
  };
  return env;
}

// ---------------------------------------------------------------------------------------------
// Requests of a running Stint

/** The one-rule policy of the in-process tests: Stint JWTs for `audience` to service accounts of namespace `apps` on `issuer`. */
export function appsPolicy(issuer: string, audience = 'https://api.example.com'): string {
  return `version: 1
rules:
  - name: apps
    match:
      attestor: kubernetes
      issuer: ${issuer}
      claims:
        namespace: apps
    allow:
      - kind: stint-jwt
        audiences: [${audience}]
        ttl: { default: 10m, max: 1h }
`;
}

// RFC 8693's grant type and the JWT subject token type: the client's constants, not copies.
export { JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT };

/** The RFC 8693 form for a JWT subject token, plus `extra` fields (audience, credential_kind, resource, ...). */
export function tokenExchangeForm(subjectToken: string, extra: Record<string, string> = {}): Record<string, string> {
  return { grant_type: TOKEN_EXCHANGE_GRANT, subject_token: subjectToken, subject_token_type: JWT_TOKEN_TYPE, ...extra };
}

/** POST /token with form fields; returns status and JSON body. */
export async function httpExchange(baseUrl: string, fields: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/token`, { method: 'POST', body: new URLSearchParams(fields) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** One credential of a gRPC Exchange response. */
export interface GrpcCredential {
  grant_id: string;
  kind: string;
  token: string;
  token_type: string;
  fields: Record<string, string>;
  expires_at: string;
  renew_after: string;
  ttl_seconds: number;
  ttl_capped: boolean;
  target: string;
}

/** An audit event from Admin QueryAudit, with its data parsed (`raw` is the JSON text). */
export interface AuditEvent {
  type: string;
  reason: string;
  outcome: string;
  grant_ids: string[];
  data: Record<string, unknown>;
  raw: string;
}

/** Admin QueryAudit with `filter` (throws when the call fails). */
export async function queryAudit(grpc: StintGrpcClient, adminToken: string, filter: Record<string, unknown>): Promise<AuditEvent[]> {
  const res = await grpc.adminCall<{ events: { type: string; reason: string; outcome: string; grant_ids: string[]; data_json: string }[] }>('QueryAudit', filter, adminToken);
  if (!res.ok) throw new Error(`QueryAudit failed: ${res.details}`);
  return res.value.events.map((e) => ({ ...e, data: JSON.parse(e.data_json) as Record<string, unknown>, raw: e.data_json }));
}

/** A grant row of Admin ListGrants. */
export interface GrantRow {
  id: string;
  state: string;
  cleanup: string;
  cleanup_attempts: number;
  cleanup_error: string;
}

/** The grant `grantId` from Admin ListGrants (up to 1,000 rows matching `filter`), if listed. */
export async function findGrant(grpc: StintGrpcClient, adminToken: string, grantId: string, filter: Record<string, unknown> = {}): Promise<GrantRow | undefined> {
  const res = await grpc.adminCall<{ grants: GrantRow[] }>('ListGrants', { limit: 1000, ...filter }, adminToken);
  if (!res.ok) throw new Error(`ListGrants failed: ${res.details}`);
  return res.value.grants.find((g) => g.id === grantId);
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

/** A temp folder for one test's files. */
export function tempDir(prefix = 'stint-test-', base: string = tmpdir()): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(base, prefix));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Free loopback ports. */
export { freePort };
