/**
 * V8 heap settings of the Stint process (issue 12, the resident memory goals), applied when this
 * module loads: `cli/main.ts` imports it alone, then the rest of the program.
 * - The young generation keeps its initial size while the program loads
 *   (`--semi-space-growth-factor=1`, read by V8 each time it would grow): loading the service
 *   otherwise grows it to 16 MiB per semi-space before the first request (measured: 11 MiB more
 *   resident at idle when the program is imported before this module, 20 MiB in all). Once the
 *   service listens and is under load (`serviceListening`), V8 grows it as it would.
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
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';

/** The old generation's growth after a full collection with STINT_V8_HEAP=compact, in percent of what it left. */
export const COMPACT_HEAP_GROWING_PERCENT = 25;

const mode = process.env['STINT_V8_HEAP'];
const enabled = mode !== 'default';
const compact = mode === 'compact';
/** False while the program loads and idles, true once the service is under load. */
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

/** Young-generation collections within one second that mean load (idle housekeeping makes a few a minute). */
const LOAD_COLLECTIONS_PER_SECOND = 5;

/**
 * The service listens: once it is under load (LOAD_COLLECTIONS_PER_SECOND young-generation
 * collections within a second), V8 grows the young generation as it would (to 16 MiB per
 * semi-space); until then, probes, scrapes and the periodic work keep it at its start size.
 * Held smaller under load (4 or 8 MiB, measured) it would save 8 to 24 MiB of the plateau but
 * cost CPU per exchange: more scavenges, and more request data promoted to the old generation.
 */
export function serviceListening(): void {
  if (!enabled || youngMayGrow) return;
  const recent: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MINOR) continue;
      recent.push(entry.startTime);
      while (recent.length > 0 && recent[0]! < entry.startTime - 1000) recent.shift();
      if (recent.length < LOAD_COLLECTIONS_PER_SECOND) continue;
      youngMayGrow = true;
      applyFlags();
      observer.disconnect();
      return;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}

if (enabled) {
  applyFlags();
  // Node publishes each new worker on this channel; its flags are reset by the time it is online.
  subscribe('worker_threads', (message) => {
    (message as { worker?: Worker }).worker?.once('online', applyFlags);
  });
}
