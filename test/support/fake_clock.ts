/** A manually driven Clock for tests: time moves only when the test says so. */
import type { Clock } from '../../src/clock.js';

/** Default start: 2030-01-01T00:00:00Z, a round epoch-second value. */
export const FAKE_CLOCK_START_MS = Date.UTC(2030, 0, 1);

/** A Clock whose time is set and advanced explicitly. */
export class FakeClock implements Clock {
  private ms: number;

  constructor(startMs: number = FAKE_CLOCK_START_MS) {
    this.ms = startMs;
  }

  /** Milliseconds since the epoch. */
  now(): number {
    return this.ms;
  }

  /** Move time forward by `ms` milliseconds (negative values are refused). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance: ${ms} is not a non-negative number`);
    this.ms += ms;
  }

  /** Jump to an absolute time in epoch milliseconds (may move backwards, to test skew). */
  set(ms: number): void {
    this.ms = ms;
  }
}
