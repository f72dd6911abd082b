/**
 * `npm run bench`: Stint's exchange throughput and latency over gRPC and HTTP, cold (a fresh
 * subject token per call) and repeated (the same token: the sidecar pattern), at concurrency 1,
 * 16 and 64, printed beside a bare @grpc/grpc-js echo and the raw node:crypto cost of one RS256
 * verify plus one ES256 sign, all measured in this one run, with the ratios the goals use.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { runLoad, type LoadResult } from './load.js';
import { loadStintProto } from '../../src/transport/grpc/server.js';
import { freePort } from '../support/ports.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const CONCURRENCY = [1, 16, 64];
const CALLS: Record<number, number> = { 1: 600, 16: 3000, 64: 3000 };
const WARMUP = 400;
const ISSUER = 'https://bench-issuer.stint.local';
const AUDIENCE = 'stint-bench';

const b64u = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** Mint an RS256 projected-ServiceAccount-shaped token with raw node:crypto (test input only). */
function mintToken(key: KeyObject, kid: string, n: number): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64u(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' }));
  const payload = b64u(
    JSON.stringify({
      iss: ISSUER,
      sub: `system:serviceaccount:bench:app-${n % 50}`,
      aud: [AUDIENCE],
      iat: now,
      nbf: now,
      exp: now + 3600,
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

function microsPerOp(n: number, fn: () => void): number {
  for (let i = 0; i < 200; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

function startChild(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

async function waitReady(url: string): Promise<void> {
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

function unaryCaller(client: grpc.Client, method: string): (req: unknown) => Promise<unknown> {
  const fn = (client as unknown as Record<string, (r: unknown, cb: (e: Error | null, v: unknown) => void) => void>)[method]!.bind(client);
  return (req) => new Promise((res, rej) => fn(req, (e, v) => (e ? rej(e) : res(v))));
}

function httpExchange(port: number, agent: Agent, token: string): Promise<void> {
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: 'https://api.example.com',
  }).toString();
  return new Promise((res, rej) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/token', method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (r) => {
        r.resume();
        r.on('end', () => (r.statusCode === 200 ? res() : rej(new Error(`HTTP ${r.statusCode}`))));
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

const fmt = (r: LoadResult): string => `${r.perSecond.toFixed(0).padStart(7)}/s  p50 ${r.p50Ms.toFixed(2).padStart(6)} ms  p99 ${r.p99Ms.toFixed(2).padStart(6)} ms${r.errors ? `  ERRORS ${r.errors}` : ''}`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-'));
  const children: ChildProcess[] = [];
  try {
    // Subject token issuer (RS256, like most Kubernetes clusters), keys as a static JWKS file.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = 'bench-1';
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] }));
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
        '        audiences: [https://api.example.com]',
        '        ttl: { default: 15m, max: 1h }',
        '        passClaims: [namespace]',
        '',
      ].join('\n'),
    );

    // Baselines: raw crypto.
    const sampleToken = mintToken(privateKey, kid, 0);
    const [h, p, s] = sampleToken.split('.') as [string, string, string];
    const signed = Buffer.from(`${h}.${p}`);
    const sig = Buffer.from(s, 'base64url');
    const pub = createPublicKey(publicKey.export({ format: 'pem', type: 'spki' }));
    const verifyUs = microsPerOp(5000, () => void verify('sha256', signed, pub, sig));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const ecKey = createPrivateKey(ec.export({ format: 'pem', type: 'pkcs8' }));
    const signUs = microsPerOp(5000, () => void sign('sha256', signed, { key: ecKey, dsaEncoding: 'ieee-p1363' }));

    // Baseline: bare gRPC echo in its own process, 1 KB payload.
    const echo = startChild([join(ROOT, 'dist/test/bench/echo_server.js')]);
    children.push(echo);
    const echoPort = await new Promise<number>((res) => echo.stdout!.once('data', (d: Buffer) => res(Number(d.toString().trim()))));
    const echoProto = grpc.loadPackageDefinition(protoLoader.loadSync(join(ROOT, 'test/bench/echo.proto'))) as unknown as { bench: { Echo: grpc.ServiceClientConstructor } };
    const echoClient = new echoProto.bench.Echo(`127.0.0.1:${echoPort}`, grpc.credentials.createInsecure());
    const echoCall = unaryCaller(echoClient, 'Echo');
    const payload = { payload: Buffer.alloc(1024, 7) };
    await runLoad(() => echoCall(payload), 16, WARMUP);
    const echoResults: Record<number, LoadResult> = {};
    for (const c of CONCURRENCY) echoResults[c] = await runLoad(() => echoCall(payload), c, CALLS[c]!);
    // The echo stays up: it is measured again after Stint, and the ratios use the mean of both runs,
    // so a change of machine load between the phases does not skew them.

    // Stint, as the real program.
    const [httpPort, grpcPortReal, adminPortReal] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(join(dir, 'admin.token'), `${randomUUID()}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        `issuer: http://127.0.0.1:${httpPort}`,
        `audience: ${AUDIENCE}`,
        'listen:',
        `  http: 127.0.0.1:${httpPort}`,
        `  grpc: 127.0.0.1:${grpcPortReal}`,
        `  admin: 127.0.0.1:${adminPortReal}`,
        'store: { kind: sqlite, path: ./stint.db }',
        'policy: { file: ./policy.yaml }',
        'attestors:',
        `  - { kind: kubernetes, name: bench, issuer: "${ISSUER}", jwksFile: ./jwks.json, algorithms: [RS256] }`,
        'admin:',
        '  tokens: [{ name: bench, secret: { file: ./admin.token } }]',
        'subjectTokenCache: { size: 100000 }',
        '',
      ].join('\n'),
    );
    // STINT_BENCH_PROFILE=DIR writes a CPU profile of the service (open it in Chrome DevTools).
    const profile = process.env.STINT_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.STINT_BENCH_PROFILE] : [];
    const stint = spawn(process.execPath, [...profile, join(ROOT, 'dist/src/cli/main.js'), 'serve', '--config', join(dir, 'config.yaml')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(stint);
    await waitReady(`http://127.0.0.1:${httpPort}/readyz`);

    const total = (WARMUP + CONCURRENCY.reduce((a, c) => a + CALLS[c]!, 0)) * 2;
    process.stderr.write(`minting ${total} RS256 subject tokens...\n`);
    const tokens = Array.from({ length: total }, (_, i) => mintToken(privateKey, kid, i));
    let cursor = 0;
    const fresh = (): string => tokens[cursor++]!;
    const repeated = tokens[0]!;

    const proto = grpc.loadPackageDefinition(loadStintProto()) as unknown as { stint: { v1: { TokenExchange: grpc.ServiceClientConstructor } } };
    const client = new proto.stint.v1.TokenExchange(`127.0.0.1:${grpcPortReal}`, grpc.credentials.createInsecure());
    const exchange = unaryCaller(client, 'Exchange');
    const grpcReq = (token: string): unknown => ({ subject_token: token, credentials: [{ kind: 'stint-jwt', audience: 'https://api.example.com' }] });
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });

    const results: Record<string, LoadResult> = {};
    for (const transport of ['grpc', 'http'] as const) {
      const call = (token: string): Promise<unknown> => (transport === 'grpc' ? exchange(grpcReq(token)) : httpExchange(httpPort, agent, token));
      await runLoad(() => call(fresh()), 16, WARMUP);
      for (const c of CONCURRENCY) {
        results[`${transport} cold c${c}`] = await runLoad(() => call(fresh()), c, CALLS[c]!);
        results[`${transport} repeated c${c}`] = await runLoad(() => call(repeated), c, CALLS[c]!);
      }
    }
    client.close();
    agent.destroy();
    // The service stops before the echo's second run, which then has the machine as the first one did.
    await new Promise<void>((resolve) => {
      stint.once('exit', () => resolve());
      stint.kill('SIGTERM');
    });
    const echoAfter = await runLoad(() => echoCall(payload), 16, CALLS[16]!);
    echoClient.close();
    echo.kill('SIGTERM');

    const out: string[] = [];
    out.push(`Stint benchmark (${new Date().toISOString()}, node ${process.version}, ${(await import('node:os')).cpus().length} cores)`);
    out.push('');
    out.push(`raw node:crypto RS256 verify    ${verifyUs.toFixed(1)} µs`);
    out.push(`raw node:crypto ES256 sign      ${signUs.toFixed(1)} µs`);
    for (const c of CONCURRENCY) out.push(`bare gRPC echo (1 KB) c${String(c).padEnd(3)}   ${fmt(echoResults[c]!)}`);
    out.push('');
    for (const [name, r] of Object.entries(results)) out.push(`stint ${name.padEnd(20)} ${fmt(r)}`);
    out.push(`bare gRPC echo (1 KB) c16 again ${fmt(echoAfter)}`);
    const echo16 = (echoResults[16]!.perSecond + echoAfter.perSecond) / 2;
    const composite = 1 / (1 / echo16 + (verifyUs + signUs) / 1e6);
    const cold16 = results['grpc cold c16']!;
    const rep16 = results['grpc repeated c16']!;
    out.push('');
    out.push(`composite limit at c16 (mean echo ${echo16.toFixed(0)}/s + verify + sign): ${composite.toFixed(0)}/s`);
    out.push(`cold gRPC c16 / composite limit:   ${(cold16.perSecond / composite).toFixed(2)}  (goal >= 0.50)`);
    out.push(`repeated gRPC c16 / bare echo:     ${(rep16.perSecond / echo16).toFixed(2)}  (goal >= 0.60)`);
    out.push(`p99 gRPC cold c16:                 ${cold16.p99Ms.toFixed(2)} ms  (goal < 10 ms)`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
