/** When to renew and when to retry: pure functions of time and a random source. */

/** Renewal settings (milliseconds). */
export interface RenewalPolicy {
  /** Fraction (0..0.5) of the wait taken off at random. */
  readonly jitter: number;
  readonly minInterval: number;
  readonly maxInterval?: number;
  readonly initialBackoff: number;
  readonly maxBackoff: number;
}

/**
 * Delay until the next renewal of a credential issued at `issuedAt` with the service's suggested
 * `renewAfter`: renew_after (or issuedAt + maxInterval when sooner), minus a random part of the
 * wait so that many pods started together spread out, never less than minInterval.
 */
export function renewalDelay(issuedAt: number, renewAfter: number, now: number, p: RenewalPolicy, random: () => number): number {
  let target = renewAfter;
  if (p.maxInterval !== undefined) target = Math.min(target, issuedAt + p.maxInterval);
  const wait = Math.max(0, target - now);
  return Math.max(p.minInterval, wait - random() * p.jitter * wait);
}

/** Delay before retry number `failures` (1 = first retry): capped exponential, half of it random. */
export function backoffDelay(failures: number, p: RenewalPolicy, random: () => number): number {
  const base = Math.min(p.maxBackoff, p.initialBackoff * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return base / 2 + random() * (base / 2);
}

/** setTimeout without the 24.8-day overflow. */
export function longTimeout(fn: () => void, ms: number): { cancel(): void } {
  const MAX = 2 ** 31 - 1;
  let timer: NodeJS.Timeout;
  const arm = (left: number): void => {
    timer = setTimeout(() => (left > MAX ? arm(left - MAX) : fn()), Math.min(left, MAX));
  };
  arm(Math.max(0, ms));
  return { cancel: () => clearTimeout(timer) };
}
