/**
 * `npm run bench`, HTTP section (issue 12): Stint measured like an outsider. The load comes from a
 * separate process (http_load.ts) posting the RFC 8693 form a workload sends over keep-alive
 * connections; in the same run it measures the yardsticks: a bare node:http echo answering with
 * the body size Stint returns (http_echo_server.ts, before and after Stint, the mean of both) and
 * the raw node:crypto cost of one RS256 verify plus one ES256 sign (the composite limit). Then:
 * - Stint on SQLite, cold (a fresh subject token each call, from a pool minted before the timed
 *   phase) and repeated (the same token), at concurrency 16 and 1: rate, p50, p99;
 * - the service's resident memory over a long cold run in a fresh process: idle at start, the
 *   plateau (median of the samples after the first quarter), the peak and the end (idle again);
 *   STINT_BENCH_RSS_CALLS sets its length (default 20,000 exchanges);
 * - the cold c16 case on a real embedded PostgreSQL, with one replica and with two replicas on one
 *   database (the load spread over both), as ratios to the SQLite figure;
 * - the cost of SQLite's `synchronous: full` (issue 14): cold c16 and c1 in fresh Stints with
 *   normal then full, and the ratio of their rates;
 * and prints every row of the table with its goal and yes/no.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadResult } from './load.js';
import type { LoadJob } from './http_load.js';
import {
  ROOT,
  benchIssuer,
  compositeLimit,
  exchangeForm,
  firstLinePort,
  fmtLoad,
  goalRow,
  median,
  postForm,
  rawCrypto,
  rssMiB,
  startChild,
  startStint,
  stintPorts,
  stopChild,
  writeStintConfig,
  writeTrustFiles,
  type StintPorts,
} from './common.js';
import { startEmbeddedPg } from '../support/embedded_pg.js';
import { benchSelected } from './sections.js';

const WARMUP = 500;
const CALLS = { c1: 800, c16: 4000 } as const;
const RSS_CALLS = Number(process.env.STINT_BENCH_RSS_CALLS ?? 20_000);
const RSS_SAMPLE_MS = 250;
const SQLITE = '{ kind: sqlite, path: ./stint.db }';
/** A result before its run (replaced before it is read). */
const NOT_YET_RUN: LoadResult = { calls: 0, errors: 0, perSecond: 0, p50Ms: 0, p99Ms: 0 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The load generator process. */
class Loader {
  readonly #child: ChildProcess;
  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(tokensFile: string): Promise<Loader> {
    const child = fork(join(ROOT, 'dist/test/bench/http_load.js'), [tokensFile], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((res, rej) => {
      child.once('message', () => res());
      child.once('exit', (code) => rej(new Error(`load generator exited (${code})`)));
    });
    return new Loader(child);
  }

  /** One closed-loop run; `reset` starts the cold pool over (a fresh Stint has seen none of it). */
  run(ports: readonly number[], mode: LoadJob['mode'], concurrency: number, calls: number, options: { path?: string; reset?: boolean } = {}): Promise<LoadResult> {
    const job: LoadJob = { op: 'run', ports, path: options.path ?? '/token', mode, concurrency, calls, reset: options.reset ?? false };
    return new Promise((res) => {
      this.#child.once('message', (r: LoadResult) => res(r));
      this.#child.send(job);
    });
  }

  stop(): Promise<void> {
    return stopChild(this.#child);
  }
}

/** Stint cold then repeated at c16 and c1, after a cold warm-up (the pool starts over). */
async function stintRuns(loader: Loader, ports: readonly number[]): Promise<Record<string, LoadResult>> {
  await loader.run(ports, 'cold', 16, WARMUP, { reset: true });
  return {
    'cold c16': await loader.run(ports, 'cold', 16, CALLS.c16),
    'repeated c16': await loader.run(ports, 'repeated', 16, CALLS.c16),
    'cold c1': await loader.run(ports, 'cold', 1, CALLS.c1),
    'repeated c1': await loader.run(ports, 'repeated', 1, CALLS.c1),
  };
}

/** A fresh working folder for one Stint: the trust files and its configuration with `store`. */
function stintDir(base: string, name: string, writeTrust: (dir: string) => void, ports: StintPorts, store: string): { dir: string; config: string } {
  const dir = join(base, name);
  mkdirSync(dir);
  writeTrust(dir);
  return { dir, config: writeStintConfig(dir, 'config.yaml', ports, store) };
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'stint-http-bench-'));
  const children: ChildProcess[] = [];
  const out: string[] = [];
  const row = (s: string): void => void out.push(s);
  const phase = (s: string): void => void process.stderr.write(`http bench: ${s}\n`);
  let loader: Loader | null = null;
  let pgStop: (() => Promise<void>) | null = null;
  try {
    const issuer = benchIssuer();
    const writeTrust = (dir: string): void => writeTrustFiles(dir, issuer);
    const crypto = rawCrypto(issuer);

    // The cold pool: enough distinct tokens for the longest run against one fresh Stint.
    const poolSize = Math.max(WARMUP + CALLS.c16 + CALLS.c1, WARMUP + RSS_CALLS) + 1;
    process.stderr.write(`minting ${poolSize} RS256 subject tokens...\n`);
    const tokensFile = join(base, 'tokens.txt');
    writeFileSync(tokensFile, Array.from({ length: poolSize }, (_, i) => issuer.mint(i)).join('\n'));
    loader = await Loader.start(tokensFile);

    // Stint on SQLite; one exchange outside the pool gives the size of its answer.
    const sqlitePorts = await stintPorts();
    const sqlite = stintDir(base, 'sqlite', writeTrust, sqlitePorts, SQLITE);
    const stint = await startStint(sqlite.dir, sqlite.config, sqlitePorts);
    children.push(stint);
    const probe = new Agent({ keepAlive: false });
    const bodySize = await postForm(sqlitePorts.http, probe, '/token', exchangeForm(issuer.mint(poolSize + 1)));

    phase('bare echo, then Stint on SQLite');
    // The bare echo, before Stint's runs (it stays up and runs again after them).
    const echo = startChild([join(ROOT, 'dist/test/bench/http_echo_server.js'), String(bodySize)]);
    children.push(echo);
    const echoPort = [await firstLinePort(echo)];
    await loader.run(echoPort, 'repeated', 16, WARMUP, { path: '/echo', reset: true });
    const echoBefore = { c16: await loader.run(echoPort, 'repeated', 16, CALLS.c16, { path: '/echo' }), c1: await loader.run(echoPort, 'repeated', 1, CALLS.c1, { path: '/echo' }) };

    const sqliteResults = await stintRuns(loader, [sqlitePorts.http]);
    await stopChild(stint);
    const echoAfter = { c16: await loader.run(echoPort, 'repeated', 16, CALLS.c16, { path: '/echo' }), c1: await loader.run(echoPort, 'repeated', 1, CALLS.c1, { path: '/echo' }) };
    await stopChild(echo);

    phase(`resident memory over ${RSS_CALLS} cold exchanges`);
    // Resident memory over a long cold run, in a fresh Stint.
    const rssPorts = await stintPorts();
    const rssRun = stintDir(base, 'rss', writeTrust, rssPorts, SQLITE);
    const rssStint = await startStint(rssRun.dir, rssRun.config, rssPorts);
    children.push(rssStint);
    await sleep(2000);
    const idleRss = rssMiB(rssStint.pid!);
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMiB(rssStint.pid!)), RSS_SAMPLE_MS);
    const rssLoad = await loader.run([rssPorts.http], 'cold', 16, RSS_CALLS, { reset: true });
    clearInterval(sampler);
    await sleep(2000);
    const endRss = rssMiB(rssStint.pid!);
    await stopChild(rssStint);
    const plateau = median(samples.slice(Math.floor(samples.length / 4)));
    const peak = Math.max(...samples);

    phase('embedded PostgreSQL, one then two replicas');
    // PostgreSQL: one replica, then two replicas on one database (fresh databases each).
    const pg = await startEmbeddedPg({ databases: ['stint_one', 'stint_two'] });
    pgStop = () => pg.stop();
    const pgStint = async (name: string, database: string): Promise<StintPorts> => {
      const ports = await stintPorts();
      const d = stintDir(base, name, writeTrust, ports, '{ kind: postgres, url: { env: STINT_BENCH_PG_URL } }');
      children.push(await startStint(d.dir, d.config, ports, { STINT_BENCH_PG_URL: pg.url({ database }) }));
      return ports;
    };
    const one = await pgStint('pg-one', 'stint_one');
    await loader.run([one.http], 'cold', 16, WARMUP, { reset: true });
    const pgOne = await loader.run([one.http], 'cold', 16, CALLS.c16);
    await stopChild(children.pop()!);
    const twoA = await pgStint('pg-two-a', 'stint_two');
    const twoB = await pgStint('pg-two-b', 'stint_two');
    await loader.run([twoA.http, twoB.http], 'cold', 16, WARMUP, { reset: true });
    const pgTwo = await loader.run([twoA.http, twoB.http], 'cold', 16, CALLS.c16);
    await stopChild(children.pop()!);
    await stopChild(children.pop()!);
    await pg.stop();
    pgStop = null;

    // Last: the fsync-heavy runs would otherwise slow the PostgreSQL runs after them on this machine.
    phase('SQLite synchronous=normal, then full (issue 14: the cost of durability on power loss)');
    // Each in a fresh Stint, back to back: cold at c16 (the group commit shares an fsync) and c1 (one fsync a call).
    const syncRuns = { normal: { c16: NOT_YET_RUN, c1: NOT_YET_RUN }, full: { c16: NOT_YET_RUN, c1: NOT_YET_RUN } };
    for (const mode of ['normal', 'full'] as const) {
      const ports = await stintPorts();
      const d = stintDir(base, `sync-${mode}`, writeTrust, ports, `{ kind: sqlite, path: ./stint.db, synchronous: ${mode} }`);
      const s = await startStint(d.dir, d.config, ports);
      children.push(s);
      await loader.run([ports.http], 'cold', 16, WARMUP, { reset: true });
      syncRuns[mode] = { c16: await loader.run([ports.http], 'cold', 16, CALLS.c16), c1: await loader.run([ports.http], 'cold', 1, CALLS.c1) };
      await stopChild(s);
    }

    // The table.
    const echo16 = { perSecond: (echoBefore.c16.perSecond + echoAfter.c16.perSecond) / 2, p99Ms: (echoBefore.c16.p99Ms + echoAfter.c16.p99Ms) / 2 };
    const echo1p50 = (echoBefore.c1.p50Ms + echoAfter.c1.p50Ms) / 2;
    const composite = compositeLimit(echo16.perSecond, crypto);
    const cold16 = sqliteResults['cold c16']!;
    const rep16 = sqliteResults['repeated c16']!;
    const cold1 = sqliteResults['cold c1']!;
    row(`Stint HTTP benchmark (${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores; load from a separate process)`);
    row('');
    row(`raw node:crypto RS256 verify               ${crypto.verifyUs.toFixed(1)} µs`);
    row(`raw node:crypto ES256 sign                 ${crypto.signUs.toFixed(1)} µs`);
    row(`bare node:http echo (${bodySize} B) c16        ${fmtLoad(echoBefore.c16)}`);
    row(`bare node:http echo (${bodySize} B) c1         ${fmtLoad(echoBefore.c1)}`);
    for (const [name, r] of Object.entries(sqliteResults)) row(`stint http ${name.padEnd(14)} (SQLite)  ${fmtLoad(r)}`);
    row(`bare node:http echo (${bodySize} B) c16 again  ${fmtLoad(echoAfter.c16)}`);
    row(`bare node:http echo (${bodySize} B) c1 again   ${fmtLoad(echoAfter.c1)}`);
    row(`stint http cold c16 (PostgreSQL, 1 replica)   ${fmtLoad(pgOne)}`);
    row(`stint http cold c16 (PostgreSQL, 2 replicas)  ${fmtLoad(pgTwo)}`);
    row(`stint http cold c16 (SQLite, ${RSS_CALLS} calls)  ${fmtLoad(rssLoad)}`);
    row(`service RSS over ${RSS_CALLS} cold exchanges: start ${idleRss.toFixed(0)} MiB, plateau ${plateau.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, end ${endRss.toFixed(0)} MiB (${samples.length} samples)`);
    row('');
    row(`composite limit at c16 (mean echo ${echo16.perSecond.toFixed(0)}/s + verify + sign): ${composite.toFixed(0)}/s`);
    row(goalRow('HTTP cold c16 / composite limit', (cold16.perSecond / composite).toFixed(2), '>= 0.60', cold16.perSecond / composite >= 0.6));
    row(goalRow('HTTP repeated c16 / bare HTTP echo c16', (rep16.perSecond / echo16.perSecond).toFixed(2), '>= 0.50', rep16.perSecond / echo16.perSecond >= 0.5));
    row(goalRow('HTTP cold c1 p50 (echo c1 p50)', `${cold1.p50Ms.toFixed(2)} (${echo1p50.toFixed(2)}) ms`, `<= echo + 0.5 ms`, cold1.p50Ms <= echo1p50 + 0.5));
    row(goalRow('HTTP cold c16 p99 (echo c16 p99)', `${cold16.p99Ms.toFixed(1)} (${echo16.p99Ms.toFixed(1)}) ms`, '<= 2 × echo p99', cold16.p99Ms <= 2 * echo16.p99Ms));
    row(goalRow('service RSS idle', `${idleRss.toFixed(0)} MiB`, '<= 90 MiB', idleRss <= 90));
    row(goalRow(`service RSS plateau (${RSS_CALLS} cold)`, `${plateau.toFixed(0)} MiB`, '<= 160 MiB', plateau <= 160));
    row(goalRow('PostgreSQL cold c16 / SQLite cold c16', (pgOne.perSecond / cold16.perSecond).toFixed(2), '>= 0.50', pgOne.perSecond / cold16.perSecond >= 0.5));
    row(`${'PostgreSQL 2 replicas / SQLite (one machine)'.padEnd(52)} ${(pgTwo.perSecond / cold16.perSecond).toFixed(2).padStart(22)}  (2 replicas / 1 replica: ${(pgTwo.perSecond / pgOne.perSecond).toFixed(2)}; both share these ${cpus().length} cores)`);
    row('(embedded PostgreSQL runs with fsync off, as in the tests; SQLite with synchronous=normal)');
    row('');
    row(`stint http cold c16 (SQLite synchronous=normal)  ${fmtLoad(syncRuns.normal.c16)}`);
    row(`stint http cold c16 (SQLite synchronous=full)    ${fmtLoad(syncRuns.full.c16)}`);
    row(`stint http cold c1  (SQLite synchronous=normal)  ${fmtLoad(syncRuns.normal.c1)}`);
    row(`stint http cold c1  (SQLite synchronous=full)    ${fmtLoad(syncRuns.full.c1)}`);
    const syncRatio = syncRuns.full.c16.perSecond / syncRuns.normal.c16.perSecond;
    row(`${'SQLite synchronous=full / normal, cold c16 rate'.padEnd(52)} ${syncRatio.toFixed(2).padStart(22)}  (c1 p50 ${syncRuns.full.c1.p50Ms.toFixed(2)} against ${syncRuns.normal.c1.p50Ms.toFixed(2)} ms; full: an fsync per group commit)`);
    process.stdout.write(`\n${out.join('\n')}\n`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await loader?.stop();
    await pgStop?.();
    rmSync(base, { recursive: true, force: true });
  }
}

if (benchSelected('http')) main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
