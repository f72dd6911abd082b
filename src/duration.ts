/**
 * Durations, in the two grammars Stint reads: the service's configuration and policy in whole
 * seconds (`90s`, `15m`, `1h`, `2d`), the sidecar's in milliseconds (`250ms`, `1.5s`). Dependency-free:
 * the sidecar imports it.
 */

/** Parse a duration such as `90s`, `15m`, `1h`, `2d` or a bare number of seconds into seconds. */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new RangeError(`invalid duration ${input}`);
    return Math.floor(input);
  }
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(input.trim());
  if (!m) throw new RangeError(`invalid duration "${input}" (expected e.g. 30s, 15m, 1h, 2d)`);
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms': return Math.floor(n / 1000);
    case undefined:
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    default: return n * 86400;
  }
}

/** Format seconds as a compact duration string (`1h30m`). */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const parts: string[] = [];
  const units: [string, number][] = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  let rest = seconds;
  for (const [u, n] of units) {
    if (rest >= n) {
      parts.push(`${Math.floor(rest / n)}${u}`);
      rest %= n;
    }
  }
  return parts.join('');
}

/**
 * The sidecar's grammar: `250ms`, `30s`, `15m`, `1h`, or a number of seconds (fractions allowed), in
 * milliseconds; throws RangeError with a readable reason.
 */
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
