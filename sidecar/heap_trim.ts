/**
 * Keeps the sidecar's heap at its live size. V8 runs a full (mark-compact) collection only when
 * the old generation reaches a limit sized for servers, so a process that promotes a little
 * garbage on every renewal and every metrics scrape grows by megabytes before V8 ever compacts;
 * in every pod of a fleet. Every `interval` the trimmer compares the heap in use with what it was
 * after the last full collection and, past `slack` bytes of growth, runs one (a few milliseconds
 * for a heap this small), after which V8 returns the freed pages.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Options of the trimmer. */
export interface HeapTrimOptions {
  /** Milliseconds between checks. */
  readonly interval: number;
  /** Bytes of heap growth since the last full collection that trigger the next. */
  readonly slack: number;
}

/** Defaults: check every 10 s, collect past 1 MiB of growth. */
export const HEAP_TRIM_DEFAULTS: HeapTrimOptions = { interval: 10_000, slack: 1 << 20 };

/** What the trimmer reads and does (V8's by default). */
export interface HeapProbe {
  /** Bytes of heap in use. */
  used(): number;
  /** Run a full collection. */
  collect(): void;
}

/** A function that runs a full collection, without exposing `gc` to the program's global scope. */
export function fullCollection(): () => void {
  setFlagsFromString('--expose-gc');
  // A new context gets `gc` as a global; the main context (created before the flag) does not.
  const gc = runInNewContext('gc') as (() => void) | undefined;
  if (typeof gc !== 'function') throw new Error('V8 did not expose gc');
  return gc;
}

/** Start the trimmer; returns a function that stops it. Never keeps the process alive. */
export function startHeapTrim(options: HeapTrimOptions = HEAP_TRIM_DEFAULTS, onTrim?: (before: number, after: number) => void, probe?: HeapProbe): () => void {
  let gc: () => void;
  let used: () => number;
  if (probe) {
    gc = () => probe.collect();
    used = () => probe.used();
  } else {
    try {
      gc = fullCollection();
    } catch {
      return () => {};
    }
    used = () => getHeapStatistics().used_heap_size;
  }
  let baseline = used();
  const timer = setInterval(() => {
    const before = used();
    if (before - baseline < options.slack) return;
    gc();
    baseline = used();
    onTrim?.(before, baseline);
  }, options.interval);
  timer.unref();
  return () => clearInterval(timer);
}
