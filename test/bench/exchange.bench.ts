/**
 * `npm run bench`, gRPC section (issue 12): Stint's TokenExchange measured like an outsider. The
 * load comes from a separate process (grpc_load.ts) speaking the gRPC wire protocol over one
 * HTTP/2 connection per target; in the same run it measures the yardsticks: a bare @grpc/grpc-js
 * echo (echo_server.ts: Stint's server options and proto-loader options, answering requests and
 * answers of the sizes of Stint's, measured before and after Stint, the mean of both) and the raw
 * node:crypto cost of one RS256 verify plus one ES256 sign (the composite limit). Then Stint on
 * SQLite, cold (a fresh subject token each call) and repeated (the same token: the sidecar
 * pattern), at concurrency 1, 16 and 64, with the CPU time per call of the service (/proc) and of
 * the load process beside each rate (on 2 cores the load process must spend less per call than
 * the server it measures, or the rate is the load's). A last pair of runs at c16 uses the grpc-js
 * client in the load process instead (what a workload's client library costs). Prints the rows of
 * the table with their goals, and the same ratios in service CPU per call.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GrpcLoadJob, GrpcLoadResult, GrpcProbeJob, MessageSizes } from './grpc_load.js';
import { ROOT, benchIssuer, compositeLimit, firstLinePort, fmtLoad, goalRow, rawCrypto, startChild, startStint, stintPorts, stopChild, writeStintConfig, writeTrustFiles } from './common.js';
import { benchSelected } from './sections.js';

const CONCURRENCY = [1, 16, 64];
const CALLS: Record<number, number> = { 1: 600, 16: 3000, 64: 3000 };
const WARMUP = 400;

/** A load run with the CPU per call of the process that answered it. */
interface Measured extends GrpcLoadResult {
  readonly serviceCpuUsPerCall: number;
}

/** CPU time (user + system, every thread) of process `pid` so far, µs. */
function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000; // clock ticks of 10 ms
}

/** The load generator process. */
class Loader {
  readonly #child: ChildProcess;
  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(tokensFile: string): Promise<Loader> {
    const child = fork(join(ROOT, 'dist/test/bench/grpc_load.js'), [tokensFile], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((res, rej) => {
      child.once('message', () => res());
      child.once('exit', (code) => rej(new Error(`load generator exited (${code})`)));
    });
    return new Loader(child);
  }

  #ask<T>(job: GrpcLoadJob | GrpcProbeJob): Promise<T> {
    return new Promise((res) => {
      this.#child.once('message', (r: T) => res(r));
      this.#child.send(job);
    });
  }

  /** The encoded sizes of one Stint exchange (with the repeated token). */
  probe(port: number): Promise<MessageSizes> {
    return this.#ask({ op: 'probe', port });
  }

  /** One closed-loop run against the process `pid` listening on `port`. */
  async run(pid: number, job: Omit<GrpcLoadJob, 'op'>): Promise<Measured> {
    const before = cpuUs(pid);
    const result = await this.#ask<GrpcLoadResult>({ op: 'run', ...job });
    return { ...result, serviceCpuUsPerCall: (cpuUs(pid) - before) / job.calls };
  }

  stop(): Promise<void> {
    return stopChild(this.#child);
  }
}

const fmt = (r: Measured): string => `${fmtLoad(r)}  CPU/call: service ${r.serviceCpuUsPerCall.toFixed(0).padStart(4)} µs, load ${r.loaderCpuUsPerCall.toFixed(0).padStart(4)} µs${r.loaderCpuUsPerCall >= r.serviceCpuUsPerCall ? ' (load-bound)' : ''}`;
const mean = (a: number, b: number): number => (a + b) / 2;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-'));
  const children: ChildProcess[] = [];
  let loader: Loader | null = null;
  try {
    // Subject token issuer (RS256, like most Kubernetes clusters), keys as a static JWKS file.
    const issuer = benchIssuer();
    writeTrustFiles(dir, issuer);
    // The raw crypto's wall time, and the share of it this process was on a CPU (for the CPU rows).
    const wall0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const crypto = rawCrypto(issuer);
    const cpu = process.cpuUsage(cpu0);
    const onCpu = Math.min(1, (cpu.user + cpu.system) / (Number(process.hrtime.bigint() - wall0) / 1e3));

    // The cold pool: a distinct token for every cold call against one fresh Stint (token 0 is the repeated one).
    const total = 1 + WARMUP + CONCURRENCY.reduce((a, c) => a + CALLS[c]!, 0) + CALLS[16]!;
    process.stderr.write(`minting ${total} RS256 subject tokens...\n`);
    const tokensFile = join(dir, 'tokens.txt');
    writeFileSync(tokensFile, Array.from({ length: total }, (_, i) => issuer.mint(i)).join('\n'));
    loader = await Loader.start(tokensFile);

    // Stint, as the real program; one exchange gives the sizes of its request and answer.
    const ports = await stintPorts();
    const stint = await startStint(dir, writeStintConfig(dir, 'config.yaml', ports, '{ kind: sqlite, path: ./stint.db }'), ports);
    children.push(stint);
    const sizes = await loader.probe(ports.grpc);

    // The bare echo, before Stint's runs (it stays up and runs again after them).
    const echo = startChild([join(ROOT, 'dist/test/bench/echo_server.js')]);
    children.push(echo);
    const echoPort = await firstLinePort(echo);
    const echoRun = (concurrency: number, calls: number): Promise<Measured> => loader!.run(echo.pid!, { target: 'echo', port: echoPort, mode: 'repeated', concurrency, calls, reset: false, echoSizes: sizes });
    await echoRun(16, WARMUP);
    const echoBefore: Record<number, Measured> = {};
    for (const c of CONCURRENCY) echoBefore[c] = await echoRun(c, CALLS[c]!);

    const stintRun = (mode: 'cold' | 'repeated', concurrency: number, calls: number, options: { reset?: boolean; client?: 'grpc-js' | 'http2' } = {}): Promise<Measured> =>
      loader!.run(stint.pid!, { target: 'stint', client: options.client, port: ports.grpc, mode, concurrency, calls, reset: options.reset ?? false });
    await stintRun('cold', 16, WARMUP, { reset: true });
    const results: Record<string, Measured> = {};
    for (const c of CONCURRENCY) {
      results[`cold c${c}`] = await stintRun('cold', c, CALLS[c]!);
      results[`repeated c${c}`] = await stintRun('repeated', c, CALLS[c]!);
    }
    results['cold c16 (grpc-js client)'] = await stintRun('cold', 16, CALLS[16]!, { client: 'grpc-js' });
    results['repeated c16 (grpc-js client)'] = await stintRun('repeated', 16, CALLS[16]!, { client: 'grpc-js' });
    // The service stops before the echo's second run, which then has the machine as the first one did.
    await stopChild(stint);
    const echoAfter = await echoRun(16, CALLS[16]!);
    const echoGrpcJs = await loader.run(echo.pid!, { target: 'echo', client: 'grpc-js', port: echoPort, mode: 'repeated', concurrency: 16, calls: CALLS[16]!, reset: false, echoSizes: sizes });
    await stopChild(echo);

    const out: string[] = [];
    const row = (s: string): void => void out.push(s);
    row(`Stint gRPC benchmark (${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores; load from a separate process, node:http2 unless named)`);
    row('');
    row(`raw node:crypto RS256 verify    ${crypto.verifyUs.toFixed(1)} µs`);
    row(`raw node:crypto ES256 sign      ${crypto.signUs.toFixed(1)} µs`);
    row(`messages of one exchange: request ${sizes.request} B, answer ${sizes.response} B (the echo's sizes)`);
    for (const c of CONCURRENCY) row(`bare gRPC echo c${String(c).padEnd(3)}                 ${fmt(echoBefore[c]!)}`);
    row('');
    for (const [name, r] of Object.entries(results)) row(`stint grpc ${name.padEnd(30)} ${fmt(r)}`);
    row(`bare gRPC echo c16 again              ${fmt(echoAfter)}`);
    row(`bare gRPC echo c16 (grpc-js client)   ${fmt(echoGrpcJs)}`);
    const echo16 = mean(echoBefore[16]!.perSecond, echoAfter.perSecond);
    const echo16Cpu = mean(echoBefore[16]!.serviceCpuUsPerCall, echoAfter.serviceCpuUsPerCall);
    const composite = compositeLimit(echo16, crypto);
    const cold16 = results['cold c16']!;
    const rep16 = results['repeated c16']!;
    row('');
    row(`composite limit at c16 (mean echo ${echo16.toFixed(0)}/s + verify + sign): ${composite.toFixed(0)}/s`);
    row(goalRow('gRPC cold c16 / composite limit', (cold16.perSecond / composite).toFixed(2), '>= 0.70', cold16.perSecond / composite >= 0.7));
    row(goalRow('gRPC repeated c16 / bare gRPC echo', (rep16.perSecond / echo16).toFixed(2), '>= 0.85', rep16.perSecond / echo16 >= 0.85));
    // The same ratios in the service's CPU per call, which the machine's other load moves less than rates.
    const compositeCpu = echo16Cpu + (crypto.verifyUs + crypto.signUs) * onCpu;
    row(`${'  in CPU per call: composite / cold c16'.padEnd(52)} ${(compositeCpu / cold16.serviceCpuUsPerCall).toFixed(2).padStart(22)}  (${compositeCpu.toFixed(0)} µs / ${cold16.serviceCpuUsPerCall.toFixed(0)} µs; crypto ×${onCpu.toFixed(2)} on CPU)`);
    row(`${'  in CPU per call: echo / repeated c16'.padEnd(52)} ${(echo16Cpu / rep16.serviceCpuUsPerCall).toFixed(2).padStart(22)}  (${echo16Cpu.toFixed(0)} µs / ${rep16.serviceCpuUsPerCall.toFixed(0)} µs)`);
    const repJs = results['repeated c16 (grpc-js client)']!;
    row(`${'  with a grpc-js client: repeated c16 / echo c16'.padEnd(52)} ${(repJs.perSecond / echoGrpcJs.perSecond).toFixed(2).padStart(22)}  (client ${echoGrpcJs.loaderCpuUsPerCall.toFixed(0)} µs a call, echo server ${echoGrpcJs.serviceCpuUsPerCall.toFixed(0)} µs)`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await loader?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (benchSelected('grpc')) main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
