/** Renewal timing and retry backoff: pure functions of time and a random source. */
import { describe, expect, it } from 'vitest';
import { backoffDelay, renewalDelay, type RenewalPolicy } from '../../sidecar/schedule.js';

const policy: RenewalPolicy = { jitter: 0.1, minInterval: 1000, initialBackoff: 1000, maxBackoff: 30_000 };

describe('renewalDelay', () => {
  it('renews at renew_after when jitter draws 0', () => {
    expect(renewalDelay(0, 400_000, 0, policy, () => 0)).toBe(400_000);
  });

  it('takes at most `jitter` of the wait off, never renewing after renew_after', () => {
    expect(renewalDelay(0, 400_000, 0, policy, () => 0.999_999)).toBeCloseTo(360_000, -1);
    for (let i = 0; i < 1000; i++) {
      const d = renewalDelay(0, 400_000, 0, policy, Math.random);
      expect(d).toBeGreaterThanOrEqual(360_000);
      expect(d).toBeLessThanOrEqual(400_000);
    }
  });

  it('spreads a thousand pods started in the same second over the jitter window', () => {
    const delays = Array.from({ length: 1000 }, () => Math.floor(renewalDelay(0, 600_000, 0, policy, Math.random) / 1000));
    // 60 s of window: no second holds more than a few percent of the pods.
    const perSecond = new Map<number, number>();
    for (const d of delays) perSecond.set(d, (perSecond.get(d) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThan(60);
    expect(perSecond.size).toBeGreaterThan(40);
  });

  it('never renews more often than minInterval, even when renew_after has passed', () => {
    expect(renewalDelay(0, 1000, 5000, policy, () => 0)).toBe(1000);
  });

  it('maxInterval renews sooner than renew_after', () => {
    expect(renewalDelay(10_000, 400_000, 10_000, { ...policy, maxInterval: 5000 }, () => 0)).toBe(5000);
  });
});

describe('backoffDelay', () => {
  it('doubles from initialBackoff, with half of each step random', () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(500);
    expect(backoffDelay(1, policy, () => 1)).toBe(1000);
    expect(backoffDelay(2, policy, () => 1)).toBe(2000);
    expect(backoffDelay(4, policy, () => 1)).toBe(8000);
  });

  it('is capped at maxBackoff however many failures', () => {
    expect(backoffDelay(6, policy, () => 1)).toBe(30_000);
    expect(backoffDelay(10_000, policy, () => 1)).toBe(30_000);
    expect(backoffDelay(10_000, policy, () => 0)).toBe(15_000);
  });
});
