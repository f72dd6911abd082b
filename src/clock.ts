/** Time source. Everything time-based takes a Clock so tests can drive it without sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** Seconds since the epoch (floored) from a clock. */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
