/**
 * V8 heap settings of the Stint process (issue 12, the resident memory goals), applied when this
 * module loads: `cli/main.ts` imports it alone, then the rest of the program.
 * - The young generation keeps its initial size while the program loads
 *   (`--semi-space-growth-factor=1`, read by V8 each time it would grow): loading the service
 *   otherwise grows it to 16 MiB per semi-space before the first request (measured: 11 MiB more
 *   resident at idle when the program is imported before this module, 20 MiB in all). Once the
 *   service listens (`serviceListening`), V8 grows it as it would.
 * - With `STINT_V8_HEAP=compact` only, the old generation grows by at most a quarter of what a
 *   full collection leaves (`--heap-growing-percent=25`): with V8's default factor (up to 4x) a
 *   service that promotes a few kilobytes of short-lived request data per exchange reaches ~100
 *   MiB of old space before its first full collection. Measured over 20,000 cold exchanges: the
 *   plateau 242 -> 200 MiB, but CPU per exchange +10 to +28% (more full collections), so it is an
 *   operator's choice for memory-bound deployments, not the default.
 * These are V8 runtime flags (node:v8 setFlagsFromString, as the sidecar's v8_flags.ts does). Node
 * resets V8's flags when it starts a worker thread (the SQLite store's checkpointer is one), so
 * they are applied again as each worker comes online. A V8 without one of them ignores it.
 * `STINT_V8_HEAP=default` leaves V8's defaults (e.g. to compare).
 */
import { subscribe } from 'node:diagnostics_channel';
import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';

/** The old generation's growth after a full collection with STINT_V8_HEAP=compact, in percent of what it left. */
export const COMPACT_HEAP_GROWING_PERCENT = 25;

const mode = process.env['STINT_V8_HEAP'];
const enabled = mode !== 'default';
const compact = mode === 'compact';
/** False while the program loads, true once the service listens. */
let youngMayGrow = false;

/** Set the service's flags for the current state. */
function applyFlags(): void {
  const flags = [`--semi-space-growth-factor=${youngMayGrow ? 2 : 1}`, ...(compact ? [`--heap-growing-percent=${COMPACT_HEAP_GROWING_PERCENT}`] : [])];
  for (const flag of flags) {
    try {
      setFlagsFromString(flag);
    } catch {
      // A V8 without this flag: nothing to change.
    }
  }
}

/**
 * The service listens: from now on V8 grows the young generation as it would (to 16 MiB per
 * semi-space under load; an idle service's few allocations leave it near its start size). Waiting
 * for load to be seen first (young collections counted) cost 3-5 % CPU per cold exchange in an
 * interleaved A/B here: the requests of the first second were promoted to the old generation.
 * Held smaller under load (4 or 8 MiB, measured) it would save 8 to 24 MiB of the plateau but
 * cost CPU per exchange: more scavenges, and more request data promoted to the old generation.
 */
export function serviceListening(): void {
  if (!enabled || youngMayGrow) return;
  youngMayGrow = true;
  applyFlags();
}

if (enabled) {
  applyFlags();
  // Node publishes each new worker on this channel; its flags are reset by the time it is online.
  subscribe('worker_threads', (message) => {
    (message as { worker?: Worker }).worker?.once('online', applyFlags);
  });
}
