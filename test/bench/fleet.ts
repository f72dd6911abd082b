/**
 * A simulated fleet of sidecars, a separate process forked by fleet.bench.ts: each simulated
 * sidecar is what `stint-sidecar` is on the wire and in time — the sidecar's own StintClient
 * (keep-alive connection, the same form) with its own pod's subject token, renewing when the
 * sidecar's own schedule (sidecar/schedule.ts: renewalDelay with jitter, backoffDelay after a
 * failure) says, with the sidecar's default renewal settings. Only the clock is compressed: every
 * delay the schedule gives can be waited `scale` times shorter (default 1: real time; the
 * benchmark asks short-lived credentials instead, so the backoff after a Stint restart is the
 * sidecar's real one).
 *
 * argv[2] is a JSON FleetOptions; on the message 'stop' it stops renewing and answers with every
 * attempt (start time epoch ms, latency ms, ok).
 */
import { readFileSync } from 'node:fs';
import { StintClient } from '../../src/client/stint_client.js';
import { backoffDelay, renewalDelay, type RenewalPolicy } from '../../sidecar/schedule.js';
import { API_AUDIENCE } from './common.js';

/** What the fleet process is told. */
export interface FleetOptions {
  readonly url: string;
  readonly tokensFile: string;
  readonly sidecars: number;
  /** Time compression: a delay of d ms is waited d / scale ms. */
  readonly scale: number;
  /** Requested credential lifetime, ms (simulated). */
  readonly ttlMs: number;
}

/** Every attempt of the fleet, as parallel arrays. */
export interface FleetRecord {
  readonly started: number[];
  readonly latencyMs: number[];
  readonly ok: boolean[];
  /** Which sidecar made the attempt. */
  readonly sidecar: number[];
  /** Stint error code and reason of a failed attempt ('' when it succeeded). */
  readonly error: string[];
}

/** The sidecar's defaults (sidecar/config/schema.ts `renewal`). */
const POLICY: RenewalPolicy = { jitter: 0.1, minInterval: 1000, initialBackoff: 1000, maxBackoff: 30_000 };
const SUBJECT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

const options = JSON.parse(process.argv[2]!) as FleetOptions;
const tokens = readFileSync(options.tokensFile, 'utf8').split('\n').filter(Boolean);
const record: FleetRecord = { started: [], latencyMs: [], ok: [], sidecar: [], error: [] };
let stopped = false;
const timers = new Set<NodeJS.Timeout>();
const clients: StintClient[] = [];

async function sidecar(i: number): Promise<void> {
  const client = await StintClient.create({ url: options.url, timeout: 10_000 });
  clients.push(client);
  const subject = { type: SUBJECT_TYPE, value: tokens[i % tokens.length]! };
  let failures = 0;
  const schedule = (simulatedMs: number): void => {
    if (stopped) return;
    const t = setTimeout(() => {
      timers.delete(t);
      void attempt();
    }, simulatedMs / options.scale);
    timers.add(t);
  };
  const attempt = async (): Promise<void> => {
    const started = Date.now();
    const t0 = performance.now();
    try {
      const cred = await client.exchange(subject, { kind: 'stint-jwt', audience: API_AUDIENCE, ttl: options.ttlMs });
      record.started.push(started);
      record.latencyMs.push(performance.now() - t0);
      record.ok.push(true);
      record.sidecar.push(i);
      record.error.push('');
      failures = 0;
      // The server's times are real; the schedule's answer is the wait a real sidecar would have.
      schedule(renewalDelay(cred.issuedAt, cred.renewAfter, Date.now(), POLICY, Math.random));
    } catch (e) {
      record.started.push(started);
      record.latencyMs.push(performance.now() - t0);
      record.ok.push(false);
      record.sidecar.push(i);
      const err = e as { code?: string; message?: string; details?: { reason?: string } };
      // An unreachable Stint's message ends with the socket error's code (ECONNREFUSED, ECONNRESET).
      const cause = err.details?.reason === 'unreachable' ? ` ${err.message?.split(': ').pop() ?? ''}` : '';
      record.error.push(`${err.code ?? 'error'}${err.details?.reason ? ` ${err.details.reason}` : ''}${cause}`);
      failures++;
      schedule(backoffDelay(failures, POLICY, Math.random));
    }
  };
  // Pods started at random over one renewal period: the fleet is in its steady state from the start.
  schedule(Math.random() * (options.ttlMs * 2) / 3);
}

process.on('message', (m: string) => {
  if (m !== 'stop') return;
  stopped = true;
  for (const t of timers) clearTimeout(t);
  // Attempts in flight are left out: the answer goes now.
  process.send!(record, () => {
    for (const c of clients) c.close();
    process.exit(0);
  });
});

for (let i = 0; i < options.sidecars; i++) void sidecar(i);
process.send!('ready');
