/** Durations in the sidecar configuration: `250ms`, `30s`, `15m`, `1h`, or a number of seconds (fractions allowed). */

/** Parse a duration into milliseconds; throws RangeError with a readable reason. */
export function parseDurationMs(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new RangeError(`invalid duration ${input}`);
    return Math.round(input * 1000);
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(input.trim());
  if (!m) throw new RangeError(`invalid duration "${input}" (expected e.g. 500ms, 30s, 15m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}
