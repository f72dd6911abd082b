/**
 * `npm run bench`, sidecar fleet section (issue 12 §6): a simulated fleet of sidecars (fleet.ts,
 * a separate process: the sidecar's own client and schedule, clock compressed) renewing against
 * one Stint replica on SQLite. It prints the renewals per second the replica absorbed against
 * the rate the fleet's schedule offered, and the p99 of a renewal in the steady state; then Stint
 * is restarted (SIGTERM, start again on the same database) and it prints what the fleet did:
 * renewals failed while Stint was down, the busiest 100 ms after it was back against the steady
 * rate and against the failed sidecars all arriving at once (no jitter, no backoff), failures
 * once it was ready, p99 after the restart, and the time until every sidecar had renewed again.
 * The fleet runs in real time with short credentials (6 s, renewed every ~3.8 s: a fleet of
 * 2,000 offers ~500 renewals/s), so the backoff after the restart is the sidecar's real one (1 s
 * doubling to 30 s, half of it random). STINT_BENCH_FLEET_SIDECARS (default 2,000),
 * STINT_BENCH_FLEET_TTL_SECONDS (default 6), STINT_BENCH_FLEET_SECONDS (default 40),
 * STINT_BENCH_FLEET_SCALE (default 1; above 1 compresses every wait of the schedule instead).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetOptions, FleetRecord } from './fleet.js';
import { ROOT, benchIssuer, goalRow, startStint, stintPorts, stopChild, writeStintConfig, writeTrustFiles } from './common.js';
import { benchSelected } from './sections.js';

const SIDECARS = Number(process.env.STINT_BENCH_FLEET_SIDECARS ?? 2000);
const SCALE = Number(process.env.STINT_BENCH_FLEET_SCALE ?? 1);
const SECONDS = Number(process.env.STINT_BENCH_FLEET_SECONDS ?? 40);
const TTL_MS = Number(process.env.STINT_BENCH_FLEET_TTL_SECONDS ?? 6) * 1000;
const BUCKET_MS = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** p-th quantile of `xs` (0 when empty). */
function quantile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-fleet-bench-'));
  let stint: ChildProcess | null = null;
  let fleet: ChildProcess | null = null;
  try {
    const issuer = benchIssuer();
    writeTrustFiles(dir, issuer);
    const ports = await stintPorts();
    // Every simulated pod connects from 127.0.0.1: the per-source connection limit is raised to
    // the fleet's size and the per-source rate limit is off (in a cluster each pod has its own
    // address); the per-identity rate limit stays as shipped (40 pods per ServiceAccount here).
    const config = writeStintConfig(dir, 'config.yaml', ports, '{ kind: sqlite, path: ./stint.db }', [`connections: { maxPerSource: ${SIDECARS + 100} }`], '{ perSource: null }');
    const firstStart = Date.now();
    stint = await startStint(dir, config, ports);
    const firstReady = Date.now() - firstStart;
    const tokensFile = join(dir, 'fleet-tokens.txt');
    // One pod token per sidecar, valid for the whole run.
    writeFileSync(tokensFile, Array.from({ length: SIDECARS }, (_, i) => issuer.mint(i, 7200)).join('\n'));

    const options: FleetOptions = { url: `http://127.0.0.1:${ports.http}`, tokensFile, sidecars: SIDECARS, scale: SCALE, ttlMs: TTL_MS };
    const child = fork(join(ROOT, 'dist/test/bench/fleet.js'), [JSON.stringify(options)], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    fleet = child;
    await new Promise<void>((res) => child.once('message', () => res()));
    const t0 = Date.now();
    // Steady state for the first half (from the second renewal period on), then a restart.
    const period = (TTL_MS * 2) / 3 / SCALE;
    const restartAt = t0 + Math.max(period * 4, (SECONDS * 1000) / 2);
    await sleep(restartAt - Date.now());
    const down = Date.now();
    await stopChild(stint);
    const stopped = Date.now();
    stint = await startStint(dir, config, ports);
    const up = Date.now();
    await sleep(Math.max(0, t0 + SECONDS * 1000 - Date.now()));
    const record = await new Promise<FleetRecord>((res) => {
      child.once('message', (m: FleetRecord) => res(m));
      child.send('stop');
    });
    const end = Date.now();

    const attempts = record.started.map((started, i) => ({ started, latencyMs: record.latencyMs[i]!, ok: record.ok[i]!, sidecar: record.sidecar[i]!, error: record.error[i]! }));
    const steadyFrom = t0 + 2 * period;
    const steady = attempts.filter((a) => a.started >= steadyFrom && a.started < down);
    const steadySeconds = (down - steadyFrom) / 1000;
    const offered = SIDECARS / ((period * (1 - 0.1 / 2)) / 1000);
    const absorbed = steady.filter((a) => a.ok).length / steadySeconds;
    const okLatencies = (xs: typeof attempts): number[] => xs.filter((a) => a.ok).map((a) => a.latencyMs);
    const steadyP99 = quantile(okLatencies(steady), 0.99);
    const errors = (xs: typeof attempts): string => {
      const byCode = new Map<string, number>();
      for (const a of xs) if (!a.ok) byCode.set(a.error, (byCode.get(a.error) ?? 0) + 1);
      return [...byCode].map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
    };
    // Sidecars whose renewal failed while Stint was away: they come back by backoff.
    const around = attempts.filter((a) => a.started < up && a.started + a.latencyMs >= down);
    const waiting = new Set(around.filter((a) => !a.ok).map((a) => a.sidecar));
    const after = attempts.filter((a) => a.started >= up && a.started < up + 5000);
    const buckets = new Map<number, number>();
    for (const a of after) {
      const b = Math.floor((a.started - up) / BUCKET_MS);
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
    }
    const peak = Math.max(0, ...buckets.values()) * (1000 / BUCKET_MS);
    const failedAfter = attempts.filter((a) => a.started >= up && !a.ok);
    const afterP99 = quantile(okLatencies(after), 0.99);
    const renewedAgain = new Map<number, number>();
    for (const a of attempts) if (a.ok && a.started >= up && waiting.has(a.sidecar) && !renewedAgain.has(a.sidecar)) renewedAgain.set(a.sidecar, a.started + a.latencyMs - up);
    const recovery = Math.max(0, ...renewedAgain.values());

    const out: string[] = [];
    out.push(`Stint sidecar fleet (${SIDECARS} sidecars, their own client and schedule${SCALE === 1 ? '' : `, clock ${SCALE}× faster`}: a ${TTL_MS / 1000} s credential renewed every ~${(period / 1000).toFixed(1)} s; ${((end - t0) / 1000).toFixed(0)} s run, one replica on SQLite)`);
    out.push('');
    out.push(`renewals offered by the schedule (nominal: sidecars / mean wait) ${offered.toFixed(0)}/s`);
    out.push(`renewals absorbed (steady state)        ${absorbed.toFixed(0)}/s, p50 ${quantile(okLatencies(steady), 0.5).toFixed(2)} ms, p99 ${steadyP99.toFixed(2)} ms; failed: ${errors(steady)}`);
    out.push(`Stint restarted: SIGTERM to exit ${((stopped - down) / 1000).toFixed(2)} s, start to ready ${((up - stopped) / 1000).toFixed(2)} s (the first start, without the fleet: ${(firstReady / 1000).toFixed(2)} s)`);
    out.push(`  ${waiting.size} sidecars failed a renewal meanwhile (${around.filter((a) => !a.ok).length} failed attempts: ${errors(around)})`);
    out.push(`  the first 5 s after ready: busiest 100 ms ${peak.toFixed(0)}/s = ${(peak / Math.max(1, absorbed)).toFixed(2)} × steady; p99 ${afterP99.toFixed(2)} ms; failed once ready: ${errors(failedAfter)}`);
    out.push(`  ${renewedAgain.size} of the ${waiting.size} renewed again within ${(recovery / 1000).toFixed(2)} s (without jitter and backoff all ${waiting.size} would arrive in the same instant)`);
    out.push('');
    out.push(goalRow('fleet renewals absorbed / offered', (absorbed / offered).toFixed(2), '>= 0.95', absorbed / offered >= 0.95));
    out.push(goalRow('no thundering herd: busiest 100 ms / steady', (peak / Math.max(1, absorbed)).toFixed(2), '<= 2, none failed', peak / Math.max(1, absorbed) <= 2 && failedAfter.length === 0));
    process.stdout.write(`\n${out.join('\n')}\n`);
  } finally {
    fleet?.kill('SIGTERM');
    if (stint) await stopChild(stint);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (benchSelected('fleet')) main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
