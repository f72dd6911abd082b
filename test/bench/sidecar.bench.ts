/**
 * `npm run bench` (second part): the footprint of `stint-sidecar`, which runs in every pod.
 * Against the real `stint` service on loopback, it reports, beside a bare `node` process measured
 * in the same run:
 * - time from start to the first credential written (file output), best and median of 5 starts;
 * - the same for the esbuild bundle the slim sidecar image runs (`npm run build:sidecar`), and
 *   the bundle's size (goals: ≤ 300 ms to the first credential, ≤ 3 MB);
 * - resident memory (VmRSS) after start, with a file output only and with every output kind;
 * - resident memory over 10,000 renewals (renewing back to back), sampled every 2,500: as
 *   shipped, and with V8's JIT tiers and young-generation growth kept (STINT_SIDECAR_V8_JIT=on)
 *   for comparison;
 * with the ratios the goals use (at most 1.4 times the bare process, and no growth: under 1 MiB
 * between the 2,500th and the 10,000th renewal, the noise of resident-memory sampling).
 * Every process measured (the sidecar and the bare one alike) gets the environment of a pod, not
 * this machine's NODE_EXTRA_CA_CERTS (set here for every process: Node.js parses that bundle before
 * it runs any code, ~80 ms of CPU per process here); the bundle's start is also timed with it, for
 * comparison with earlier runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, get, metricValue, spawnProgram, startSidecar, startStintServe, tempDir, API_AUDIENCE, ROOT, SIDECAR_BIN, type RunningSidecar, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';
import { NO_RATE_LIMITS } from './common.js';
import { benchSelected } from './sections.js';

const RENEWALS = 10_000;
/** The bundle the slim sidecar image runs: the program and its configuration check. */
const BUNDLE_DIR = join(ROOT, 'dist/sidecar-bundle');
const BUNDLE_BIN = join(BUNDLE_DIR, 'main.js');
const STARTS = 5;
/** Resident-memory sampling noise: growth below this is no growth. */
const GROWTH_NOISE_MIB = 1;

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** This process's environment as a pod has it: without NODE_EXTRA_CA_CERTS (see the header). */
const { NODE_EXTRA_CA_CERTS: HOST_EXTRA_CA_CERTS, ...POD_ENV } = process.env;
/** How every measured program is started (RunningProgram options). */
const POD = { env: POD_ENV, inheritEnv: false } as const;

async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore', env: POD_ENV });
  await sleep(1500);
  const rss = rssMiB(child.pid!);
  child.kill();
  return rss;
}

async function waitForFile(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} never written`);
    await sleep(2);
  }
}

const fmt = (n: number, d = 1): string => n.toFixed(d);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  // Rate limits off: 10,000 back-to-back renewals of one identity measure the sidecar, not the limiter.
  const stint = await startStintServe({ extraConfig: `limits: ${NO_RATE_LIMITS}\n` });
  // The chart mounts the sidecar's output folder as tmpfs; /dev/shm is tmpfs here.
  const tmp = existsSync('/dev/shm') ? tempDir('stint-sidecar-bench-', '/dev/shm') : tempDir('stint-sidecar-bench-');
  const subject = tmp.path('subject.jwt');
  await stint.writeSubjectToken(subject, { ttlSeconds: 7200 });
  const rows: string[] = [];
  try {
    const bare = await bareNodeRss();
    rows.push(`bare node process                          RSS ${fmt(bare)} MiB`);

    // Start to first credential written, file output only, ordinary renewal settings.
    const starts = await startToFirstCredential(stint, tmp, subject, SIDECAR_BIN, 'start');
    const { startTimes, setupTimes, exchangeTimes, startRss } = starts;
    rows.push(`start → first credential written          best ${fmt(Math.min(...startTimes), 0)} ms, median ${fmt(median(startTimes), 0)} ms (${STARTS} starts)`);
    rows.push(`  of which start → configured and running  median ${fmt(median(setupTimes), 0)} ms (node start, configuration check in a child process)`);
    rows.push(`  of which the first exchange + write      median ${fmt(median(exchangeTimes), 0)} ms`);
    rows.push(`sidecar after start, file output          RSS ${fmt(startRss)} MiB = ${fmt(startRss / bare, 2)} × bare`);

    // The bundle (slim image).
    // Every file of the bundle together (the image carries the whole folder: chunks, check-lib.cjs, check.cache).
    const size = readdirSync(BUNDLE_DIR, { recursive: true }).map(String).filter((f) => statSync(join(BUNDLE_DIR, f)).isFile()).reduce((n, f) => n + statSync(join(BUNDLE_DIR, f)).size, 0) / 1024 / 1024;
    const bundled = await startToFirstCredential(stint, tmp, subject, BUNDLE_BIN, 'bundle');
    const bundleMedian = median(bundled.startTimes);
    const hostEnv = HOST_EXTRA_CA_CERTS === undefined ? null : await startToFirstCredential(stint, tmp, subject, BUNDLE_BIN, 'bundle-host-env', { ...POD_ENV, NODE_EXTRA_CA_CERTS: HOST_EXTRA_CA_CERTS });
    rows.push(`bundle (dist/sidecar-bundle, every file)  ${fmt(size, 2)} MB            goal ≤ 3 MB      ${size <= 3 ? 'yes' : 'no'}`);
    rows.push(`bundle start → first credential written   best ${fmt(Math.min(...bundled.startTimes), 0)} ms, median ${fmt(bundleMedian, 0)} ms   goal ≤ 300 ms   ${bundleMedian <= 300 ? 'yes' : 'no'}`);
    rows.push(`  of which start → configured and running  median ${fmt(median(bundled.setupTimes), 0)} ms; the first exchange + write median ${fmt(median(bundled.exchangeTimes), 0)} ms`);
    rows.push(`bundle after start, file output           RSS ${fmt(bundled.startRss)} MiB = ${fmt(bundled.startRss / bare, 2)} × bare`);
    if (hostEnv) rows.push(`bundle start with this machine's NODE_EXTRA_CA_CERTS  best ${fmt(Math.min(...hostEnv.startTimes), 0)} ms, median ${fmt(median(hostEnv.startTimes), 0)} ms (not a pod's environment; earlier runs had it)`);

    // Every output kind loaded.
    {
      const ops = await freePort();
      const config = writeSidecarConfig(
        tmp.path('all.yaml'),
        baseConfig(stint.url, subject, ops, [
          {
            name: 'api',
            audience: API_AUDIENCE,
            ttl: '10m',
            outputs: [
              { type: 'file', path: tmp.path('all.jwt') },
              { type: 'file', path: tmp.path('all.json'), format: 'json' },
              { type: 'env-file', path: tmp.path('all.env'), variables: { TOKEN: 'token' } },
              { type: 'aws-container', listen: `127.0.0.1:${await freePort()}`, tokenFile: tmp.path('aws.token'), values: { AccessKeyId: 'grant_id', SecretAccessKey: 'token', Token: 'token' } },
              { type: 'gcp-metadata', listen: `127.0.0.1:${await freePort()}`, projectId: 'bench-project' },
            ],
          },
        ]),
      );
      const s = startSidecar(['--config', config], POD);
      await waitForFile(tmp.path('all.jwt'));
      await sleep(1500);
      const rss = rssMiB(s.child.pid!);
      rows.push(`sidecar after start, every output kind    RSS ${fmt(rss)} MiB = ${fmt(rss / bare, 2)} × bare`);
      await s.stop();
    }

    // 10,000 renewals back to back: as shipped (`node dist/sidecar/main.js`: V8 interpreter only, a
    // young generation that does not grow, heap trimming), and with the JIT tiers and young-generation
    // growth kept, for comparison.
    rows.push(...(await renewalRun(stint.url, subject, tmp, bare, {})));
    rows.push(...(await renewalRun(stint.url, subject, tmp, bare, { STINT_SIDECAR_V8_JIT: 'on' })));
  } finally {
    await stint.close();
    tmp.cleanup();
  }
  console.log('\nstint-sidecar footprint (goal: ≤ 1.4 × bare node, no growth)\n');
  for (const r of rows) console.log(r);
}

/** `STARTS` starts of `bin` (the sidecar as built by tsc, or the bundle) with `env` until the first credential is written; the RSS of the last one. */
async function startToFirstCredential(stint: StintUnderTest, tmp: ReturnType<typeof tempDir>, subject: string, bin: string, name: string, env: NodeJS.ProcessEnv = POD_ENV): Promise<{ startTimes: number[]; setupTimes: number[]; exchangeTimes: number[]; startRss: number }> {
  const startTimes: number[] = [];
  const setupTimes: number[] = [];
  const exchangeTimes: number[] = [];
  let startRss = 0;
  for (let i = 0; i < STARTS; i++) {
    const out = tmp.path(`${name}-${i}.jwt`);
    const config = writeSidecarConfig(tmp.path(`${name}-${i}.yaml`), baseConfig(stint.url, subject, await freePort(), [{ name: 'api', audience: API_AUDIENCE, ttl: '10m', outputs: [{ type: 'file', path: out }] }]));
    const t0 = performance.now();
    const wall0 = Date.now();
    const s = spawnProgram(bin, ['--config', config], { env, inheritEnv: false });
    await waitForFile(out);
    startTimes.push(performance.now() - t0);
    await s.waitFor(/credential issued/);
    const running = s.logs().find((l) => l.msg === 'stint-sidecar running');
    const issued = s.logs().find((l) => l.msg === 'credential issued');
    if (running && issued) {
      setupTimes.push(Date.parse(String(running.time)) - wall0);
      exchangeTimes.push(Date.parse(String(issued.time)) - Date.parse(String(running.time)));
    }
    if (i === STARTS - 1) {
      await sleep(1500);
      startRss = rssMiB(s.child.pid!);
    }
    await s.stop();
  }
  return { startTimes, setupTimes, exchangeTimes, startRss };
}

/** 10,000 back-to-back renewals with `env` added to the sidecar's environment; RSS sampled every 2,500. */
async function renewalRun(url: string, subject: string, tmp: ReturnType<typeof tempDir>, bare: number, env: Record<string, string>): Promise<string[]> {
  const rows: string[] = [];
  const ops = await freePort();
  const out = tmp.path(`renew-${Object.keys(env).join('-') || 'default'}.jwt`);
  const config = writeSidecarConfig(
    tmp.path('renew.yaml'),
    baseConfig(url, subject, ops, [{ name: 'api', audience: API_AUDIENCE, ttl: '10m', outputs: [{ type: 'file', path: out }] }], {
      renewal: { jitter: 0, minInterval: 0, maxInterval: 0, initialBackoff: '100ms', maxBackoff: '1s' },
    }),
  );
  const s: RunningSidecar = startSidecar(['--config', config], { env: { ...POD_ENV, ...env }, inheritEnv: false });
  await waitForFile(out);
  await sleep(1000);
  const samples: { renewals: number; rss: number }[] = [];
  const renewals = async (): Promise<number> => metricValue((await get(`http://127.0.0.1:${ops}/metrics`)).text, 'stint_sidecar_renewals_total');
  const first = await renewals();
  samples.push({ renewals: first, rss: rssMiB(s.child.pid!) });
  const t0 = performance.now();
  for (let target = 2500; target <= RENEWALS; target += 2500) {
    while ((await renewals()) - first < target) await sleep(100);
    samples.push({ renewals: (await renewals()) - first, rss: rssMiB(s.child.pid!) });
  }
  const seconds = (performance.now() - t0) / 1000;
  const failures = metricValue((await get(`http://127.0.0.1:${ops}/metrics`)).text, 'stint_sidecar_renewal_failures_total');
  await s.stop();
  const label = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ') || 'as shipped';
  rows.push(`renewals (${label}): ${RENEWALS} in ${fmt(seconds)} s (${fmt(RENEWALS / seconds, 0)}/s), ${failures} failures`);
  for (const x of samples) rows.push(`  after ${String(x.renewals).padStart(6)} renewals                    RSS ${fmt(x.rss)} MiB = ${fmt(x.rss / bare, 2)} × bare`);
  const growth = samples[samples.length - 1]!.rss - samples[1]!.rss;
  const peak = Math.max(...samples.map((x) => x.rss)) / bare;
  rows.push(`  growth from 2,500 to ${RENEWALS} renewals        ${growth >= 0 ? '+' : ''}${fmt(growth)} MiB`);
  rows.push(`  goal (peak ≤ 1.4 × bare, growth < 1 MiB)    ${peak <= 1.4 && growth < GROWTH_NOISE_MIB ? 'met' : 'NOT met'} (peak ${fmt(peak, 2)} ×)`);
  return rows;
}

if (benchSelected('sidecar')) main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
