/**
 * `npm run bench`, gRPC section: Stint's exchange throughput and latency over gRPC, cold (a fresh
 * subject token per call) and repeated (the same token: the sidecar pattern), at concurrency 1,
 * 16 and 64, printed beside a bare @grpc/grpc-js echo and the raw node:crypto cost of one RS256
 * verify plus one ES256 sign, all measured in this one run, with the ratios the goals of issue 12
 * use. The HTTP section, with its load from a separate process, is http.bench.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { runLoad, type LoadResult } from './load.js';
import { API_AUDIENCE, ROOT, benchIssuer, compositeLimit, firstLinePort, fmtLoad as fmt, goalRow, rawCrypto, startChild, startStint, stintPorts, stopChild, writeStintConfig, writeTrustFiles } from './common.js';
import { loadStintProto } from '../../src/grpc/stint_proto.js';
import { benchSelected } from './sections.js';

const CONCURRENCY = [1, 16, 64];
const CALLS: Record<number, number> = { 1: 600, 16: 3000, 64: 3000 };
const WARMUP = 400;

function unaryCaller(client: grpc.Client, method: string): (req: unknown) => Promise<unknown> {
  const fn = (client as unknown as Record<string, (r: unknown, cb: (e: Error | null, v: unknown) => void) => void>)[method]!.bind(client);
  return (req) => new Promise((res, rej) => fn(req, (e, v) => (e ? rej(e) : res(v))));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-'));
  const children: ChildProcess[] = [];
  try {
    // Subject token issuer (RS256, like most Kubernetes clusters), keys as a static JWKS file.
    const issuer = benchIssuer();
    writeTrustFiles(dir, issuer);
    // Baselines: raw crypto.
    const crypto = rawCrypto(issuer);

    // Baseline: bare gRPC echo in its own process, 1 KB payload.
    const echo = startChild([join(ROOT, 'dist/test/bench/echo_server.js')]);
    children.push(echo);
    const echoPort = await firstLinePort(echo);
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
    const ports = await stintPorts();
    const stint = await startStint(dir, writeStintConfig(dir, 'config.yaml', ports, '{ kind: sqlite, path: ./stint.db }'), ports);
    children.push(stint);

    const total = WARMUP + CONCURRENCY.reduce((a, c) => a + CALLS[c]!, 0);
    process.stderr.write(`minting ${total} RS256 subject tokens...\n`);
    const tokens = Array.from({ length: total }, (_, i) => issuer.mint(i));
    let cursor = 0;
    const fresh = (): string => tokens[cursor++]!;
    const repeated = tokens[0]!;

    const proto = grpc.loadPackageDefinition(loadStintProto()) as unknown as { stint: { v1: { TokenExchange: grpc.ServiceClientConstructor } } };
    const client = new proto.stint.v1.TokenExchange(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure());
    const exchange = unaryCaller(client, 'Exchange');
    const grpcReq = (token: string): unknown => ({ subject_token: token, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });

    const results: Record<string, LoadResult> = {};
    const call = (token: string): Promise<unknown> => exchange(grpcReq(token));
    await runLoad(() => call(fresh()), 16, WARMUP);
    for (const c of CONCURRENCY) {
      results[`grpc cold c${c}`] = await runLoad(() => call(fresh()), c, CALLS[c]!);
      results[`grpc repeated c${c}`] = await runLoad(() => call(repeated), c, CALLS[c]!);
    }
    client.close();
    // The service stops before the echo's second run, which then has the machine as the first one did.
    await stopChild(stint);
    const echoAfter = await runLoad(() => echoCall(payload), 16, CALLS[16]!);
    echoClient.close();
    echo.kill('SIGTERM');

    const out: string[] = [];
    out.push(`Stint benchmark (${new Date().toISOString()}, node ${process.version}, ${(await import('node:os')).cpus().length} cores)`);
    out.push('');
    out.push(`raw node:crypto RS256 verify    ${crypto.verifyUs.toFixed(1)} µs`);
    out.push(`raw node:crypto ES256 sign      ${crypto.signUs.toFixed(1)} µs`);
    for (const c of CONCURRENCY) out.push(`bare gRPC echo (1 KB) c${String(c).padEnd(3)}   ${fmt(echoResults[c]!)}`);
    out.push('');
    for (const [name, r] of Object.entries(results)) out.push(`stint ${name.padEnd(20)} ${fmt(r)}`);
    out.push(`bare gRPC echo (1 KB) c16 again ${fmt(echoAfter)}`);
    const echo16 = (echoResults[16]!.perSecond + echoAfter.perSecond) / 2;
    const composite = compositeLimit(echo16, crypto);
    const cold16 = results['grpc cold c16']!;
    const rep16 = results['grpc repeated c16']!;
    out.push('');
    out.push(`composite limit at c16 (mean echo ${echo16.toFixed(0)}/s + verify + sign): ${composite.toFixed(0)}/s`);
    out.push(goalRow('gRPC cold c16 / composite limit', (cold16.perSecond / composite).toFixed(2), '>= 0.70', cold16.perSecond / composite >= 0.7));
    out.push(goalRow('gRPC repeated c16 / bare gRPC echo', (rep16.perSecond / echo16).toFixed(2), '>= 0.85', rep16.perSecond / echo16 >= 0.85));
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (benchSelected('grpc')) await main();
