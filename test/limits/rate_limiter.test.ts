/** Token buckets (issue 14, rate limits): bursts, refill, Retry-After, bounded keys, per-scope refusals counted. */
import { describe, expect, it } from 'vitest';
import { Limits, RateLimiter } from '../../src/limits/rate_limiter.js';
import { StintError } from '../../src/errors.js';
import { FakeClock } from '../support/fake_clock.js';

describe('RateLimiter', () => {
  it('allows a burst, then refuses with the seconds until a token is back, then refills at the rate', () => {
    const clock = new FakeClock();
    const l = new RateLimiter('identity', { rate: 2, burst: 3 });
    for (let i = 0; i < 3; i++) expect(l.take('a', clock.now())).toBe(0);
    expect(l.take('a', clock.now())).toBe(1);
    expect(l.take('b', clock.now()), 'another key has its own bucket').toBe(0);
    clock.advance(500);
    expect(l.take('a', clock.now())).toBe(0);
    expect(l.take('a', clock.now())).toBeGreaterThan(0);
  });

  it('a slow rate gives a longer Retry-After, carried by ERR_RATE_LIMITED', () => {
    const l = new RateLimiter('upstream', { rate: 0.1, burst: 1 });
    l.enforce('vault', 0, 'to vault');
    const e = (() => {
      try {
        l.enforce('vault', 0, 'to vault');
      } catch (err) {
        return err as StintError;
      }
      return null;
    })();
    expect(e?.code).toBe('ERR_RATE_LIMITED');
    expect(e?.details).toMatchObject({ retryAfterSeconds: 10, reason: 'rate_limited_upstream' });
  });

  it('keeps at most maxKeys buckets: a flood of distinct sources costs bounded memory', () => {
    const l = new RateLimiter('source', { rate: 1, burst: 1 }, 100);
    for (let i = 0; i < 10_000; i++) l.take(`10.0.${i >> 8}.${i & 255}`, 0);
    // The oldest keys were evicted: the first source has a full bucket again.
    expect(l.take('10.0.0.0', 0)).toBe(0);
  });
});

describe('Limits', () => {
  it('reports each refusal with its scope and provider, and leaves unconfigured scopes open', () => {
    const refused: string[] = [];
    const limits = new Limits({ perIdentity: { rate: 1, burst: 1 }, perSource: null, upstream: { 'aws-sts': { rate: 1, burst: 1 } } }, (scope, provider) => refused.push(`${scope}:${provider ?? 'none'}`));
    limits.checkIdentity('id', 0);
    expect(() => limits.checkIdentity('id', 0)).toThrow(StintError);
    for (let i = 0; i < 100; i++) limits.checkSource('127.0.0.1', 0);
    limits.checkUpstream('aws-sts', 0);
    expect(() => limits.checkUpstream('aws-sts', 0)).toThrow(/aws-sts/);
    limits.checkUpstream('vault', 0);
    limits.checkUpstream('vault', 0);
    expect(refused).toEqual(['identity:none', 'upstream:aws-sts']);
  });
});
