/**
 * What the benchmarks share: subject tokens minted with raw node:crypto in the projected
 * ServiceAccount shape, the raw crypto yardstick (one RS256 verify + one ES256 sign), the files of
 * a benchmark Stint (JWKS, policy, configuration) and starting it as the real program, resident
 * memory of a process, and the result and goal formatting every section prints.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request, type Agent } from 'node:http';
import { join, resolve } from 'node:path';
import type { LoadResult } from './load.js';
import { freePort } from '../support/ports.js';

/** Repository root (this file runs from dist/test/bench/). */
export const ROOT = resolve(import.meta.dirname, '../../..');
/** The subject tokens' issuer, as the benchmark's kubernetes attestor trusts it. */
export const ISSUER = 'https://bench-issuer.stint.local';
/** Stint's own audience in the benchmark. */
export const AUDIENCE = 'stint-bench';
/** The audience the benchmark's workloads ask a credential for. */
export const API_AUDIENCE = 'https://api.example.com';

const b64u = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** The subject token issuer's RS256 key (most Kubernetes clusters sign with RS256). */
export interface BenchIssuer {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly kid: string;
  /** Token number `n`: pod `app-n`, ServiceAccount `app-(n % 50)`, distinct uids, valid `ttlSeconds`. */
  mint(n: number, ttlSeconds?: number): string;
}

/** A fresh RS256 issuer key for one benchmark run. */
export function benchIssuer(): BenchIssuer {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'bench-1';
  return { privateKey, publicKey, kid, mint: (n, ttl = 3600) => mintToken(privateKey, kid, n, ttl) };
}

/** Mint an RS256 projected-ServiceAccount-shaped token with raw node:crypto (test input only). */
export function mintToken(key: KeyObject, kid: string, n: number, ttlSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64u(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' }));
  const payload = b64u(
    JSON.stringify({
      iss: ISSUER,
      sub: `system:serviceaccount:bench:app-${n % 50}`,
      aud: [AUDIENCE],
      iat: now,
      nbf: now,
      exp: now + ttlSeconds,
      'kubernetes.io': {
        namespace: 'bench',
        pod: { name: `app-${n}`, uid: randomUUID() },
        serviceaccount: { name: `app-${n % 50}`, uid: randomUUID() },
      },
    }),
  );
  const sig = sign('sha256', Buffer.from(`${header}.${payload}`), key);
  return `${header}.${payload}.${b64u(sig)}`;
}

/** Mean microseconds of `fn` over `n` runs, after 200 warm-up runs. */
export function microsPerOp(n: number, fn: () => void): number {
  for (let i = 0; i < 200; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

/** The raw node:crypto cost of what one exchange must do at least: verify one RS256 token, sign one ES256 credential. */
export function rawCrypto(issuer: BenchIssuer): { verifyUs: number; signUs: number } {
  const [h, p, s] = issuer.mint(0).split('.') as [string, string, string];
  const signed = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const pub = createPublicKey(issuer.publicKey.export({ format: 'pem', type: 'spki' }));
  const verifyUs = microsPerOp(5000, () => void verify('sha256', signed, pub, sig));
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const ecKey = createPrivateKey(ec.export({ format: 'pem', type: 'pkcs8' }));
  const signUs = microsPerOp(5000, () => void sign('sha256', signed, { key: ecKey, dsaEncoding: 'ieee-p1363' }));
  return { verifyUs, signUs };
}

/** The composite limit: the bare echo's rate with one verify and one sign added to each call's cost. */
export function compositeLimit(echoPerSecond: number, crypto: { verifyUs: number; signUs: number }): number {
  return 1 / (1 / echoPerSecond + (crypto.verifyUs + crypto.signUs) / 1e6);
}

/** Start a node program of the repository with its stdout piped (children print their port there). */
export function startChild(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

/** The first line a child prints on stdout, as a number (its port). */
export function firstLinePort(child: ChildProcess): Promise<number> {
  return new Promise<number>((res, rej) => {
    child.once('exit', (code) => rej(new Error(`child exited (${code}) before printing its port`)));
    child.stdout!.once('data', (d: Buffer) => res(Number(d.toString().trim().split('\n')[0])));
  });
}

/** Wait until `url` answers 2xx (20 s at most). */
export async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`service at ${url} never became ready`);
}

/** Write the issuer's JWKS and the policy (namespace `bench` may get stint-jwt for API_AUDIENCE) into `dir`. */
export function writeTrustFiles(dir: string, issuer: BenchIssuer): void {
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...issuer.publicKey.export({ format: 'jwk' }), kid: issuer.kid, alg: 'RS256', use: 'sig' }] }));
  writeFileSync(
    join(dir, 'policy.yaml'),
    [
      'version: 1',
      'rules:',
      '  - name: bench-apps',
      '    match:',
      '      attestor: kubernetes',
      `      issuer: ${ISSUER}`,
      '      claims:',
      '        namespace: bench',
      '    allow:',
      '      - kind: stint-jwt',
      `        audiences: [${API_AUDIENCE}]`,
      '        ttl: { default: 15m, max: 1h }',
      '        passClaims: [namespace]',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'admin.token'), `${randomUUID()}\n`, { mode: 0o600 });
}

/** Ports of one benchmark Stint. */
export interface StintPorts {
  readonly http: number;
  readonly grpc: number;
  readonly admin: number;
}

/** Free loopback ports for one Stint. */
export async function stintPorts(): Promise<StintPorts> {
  return { http: await freePort(), grpc: await freePort(), admin: await freePort() };
}

/** Rate limits off: the benchmark measures capacity, and its load comes from one address and few identities. */
export const NO_RATE_LIMITS = '{ perIdentity: null, perSource: null }';

/**
 * Write `name` (a Stint configuration) into `dir`, which holds the trust files: the given store
 * (YAML flow mapping), the kubernetes attestor with the static JWKS, the verified-token cache at its
 * default size (10,000: a long cold run evicts, as a busy service does), the rate `limits` (default: off), and `extra` top-level YAML.
 */
export function writeStintConfig(dir: string, name: string, ports: StintPorts, store: string, extra: readonly string[] = [], limits = NO_RATE_LIMITS): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      `issuer: http://127.0.0.1:${ports.http}`,
      `audience: ${AUDIENCE}`,
      'listen:',
      `  http: 127.0.0.1:${ports.http}`,
      `  grpc: 127.0.0.1:${ports.grpc}`,
      `  admin: 127.0.0.1:${ports.admin}`,
      `store: ${store}`,
      'policy: { file: ./policy.yaml }',
      'attestors:',
      `  - { kind: kubernetes, name: bench, issuer: "${ISSUER}", jwksFile: ./jwks.json, algorithms: [RS256] }`,
      'admin:',
      '  tokens: [{ name: bench, secret: { file: ./admin.token } }]',
      `limits: ${limits}`,
      ...extra,
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * Start `stint serve --config FILE` as the real program, in `dir`, and wait until it is ready.
 * STINT_BENCH_PROFILE=DIR writes a CPU profile of the service there (open it in Chrome DevTools);
 * STINT_BENCH_PROFILE_INTERVAL=µs sets its sampling interval (V8's default is 1000 µs, coarse
 * against a 1 ms exchange: 50 shows the timeline of a single request).
 */
export async function startStint(dir: string, config: string, ports: StintPorts, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const interval = process.env.STINT_BENCH_PROFILE_INTERVAL ? ['--cpu-prof-interval', process.env.STINT_BENCH_PROFILE_INTERVAL] : [];
  const profile = process.env.STINT_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.STINT_BENCH_PROFILE, ...interval] : [];
  const child = spawn(process.execPath, [...profile, join(ROOT, 'dist/src/cli/main.js'), 'serve', '--config', config], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<never>((_, rej) => child.once('exit', (code) => rej(new Error(`stint exited (${code}) before it was ready`))));
  await Promise.race([waitReady(`http://127.0.0.1:${ports.http}/readyz`), exited]);
  exited.catch(() => undefined);
  return child;
}

/** SIGTERM `child` and wait for it to exit. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((res) => {
    child.once('exit', () => res());
    child.kill('SIGTERM');
  });
}

/** Resident memory (VmRSS) of process `pid`, MiB. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN) / 1024;
}

/** One line of a load result: rate, p50, p99 and errors. */
export const fmtLoad = (r: LoadResult): string =>
  `${r.perSecond.toFixed(0).padStart(7)}/s  p50 ${r.p50Ms.toFixed(2).padStart(6)} ms  p99 ${r.p99Ms.toFixed(2).padStart(6)} ms${r.errors ? `  ERRORS ${r.errors}` : ''}`;

/** One goal row: `label  value  (goal ...)  yes|no`. */
export function goalRow(label: string, value: string, goal: string, met: boolean): string {
  return `${label.padEnd(52)} ${value.padStart(22)}  goal ${goal.padEnd(22)} ${met ? 'yes' : 'no'}`;
}

/** Median of `xs` (not empty). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The RFC 8693 form a workload posts to /token for a Stint JWT for API_AUDIENCE. */
export function exchangeForm(token: string): string {
  return new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: API_AUDIENCE,
  }).toString();
}

/** POST `body` as a form over `agent`; resolves with the response body's size, rejects on a status other than 200. */
export function postForm(port: number, agent: Agent, path: string, body: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (r) => {
        let size = 0;
        r.on('data', (c: Buffer) => (size += c.length));
        r.on('end', () => (r.statusCode === 200 ? res(size) : rej(new Error(`HTTP ${r.statusCode}`))));
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}
