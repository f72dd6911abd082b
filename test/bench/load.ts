/** Closed-loop load generation: `concurrency` callers, `total` calls, latency percentiles. */

/** Throughput and latency of one load run. */
export interface LoadResult {
  readonly calls: number;
  readonly errors: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Run `call(i)` `total` times with `concurrency` in flight. */
export async function runLoad(call: (i: number) => Promise<unknown>, concurrency: number, total: number): Promise<LoadResult> {
  const latencies = new Float64Array(total);
  let next = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const t0 = process.hrtime.bigint();
      try {
        await call(i);
      } catch {
        errors++;
      }
      latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return { calls: total, errors, perSecond: total / seconds, p50Ms: pct(0.5), p99Ms: pct(0.99) };
}
