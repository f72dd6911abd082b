/**
 * Token-bucket rate limits keyed by identity, source address or upstream provider: one noisy
 * workload cannot starve the others or spend a shared upstream quota (AWS STS, Vault) for
 * everyone. Buckets live in a bounded LRU, so a flood of distinct keys costs bounded memory.
 */
import { LRUCache } from 'lru-cache';
import { StintError } from '../errors.js';

/** One limit: `rate` tokens a second, bursts up to `burst`. */
export interface RateLimit {
  readonly rate: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Where a refusal came from (metric label; a closed set). */
export type LimitScope = 'identity' | 'source' | 'upstream';

/** A set of token buckets sharing one limit. */
export class RateLimiter {
  readonly #buckets: LRUCache<string, Bucket>;

  constructor(
    readonly scope: LimitScope,
    private readonly limit: RateLimit,
    maxKeys = 50_000,
  ) {
    this.#buckets = new LRUCache({ max: maxKeys });
  }

  /** Take one token for `key` at `nowMs`; 0 when allowed, else the seconds to wait before a retry. */
  take(key: string, nowMs: number): number {
    const { rate, burst } = this.limit;
    const b = this.#buckets.get(key);
    const tokens = b ? Math.min(burst, b.tokens + ((nowMs - b.at) / 1000) * rate) : burst;
    if (tokens >= 1) {
      this.#buckets.set(key, { tokens: tokens - 1, at: nowMs });
      return 0;
    }
    this.#buckets.set(key, { tokens, at: nowMs });
    return Math.max(1, Math.ceil((1 - tokens) / rate));
  }

  /** Take one token or throw ERR_RATE_LIMITED with `retryAfterSeconds`. */
  enforce(key: string, nowMs: number, what: string): void {
    const wait = this.take(key, nowMs);
    if (wait > 0) {
      throw new StintError('ERR_RATE_LIMITED', `too many requests ${what}: retry in ${wait} s`, { reason: `rate_limited_${this.scope}`, retryAfterSeconds: wait });
    }
  }
}

/** Limits of one service (configuration `limits`); absent entries are not limited. */
export interface ServiceLimits {
  readonly perIdentity?: RateLimit | null;
  readonly perSource?: RateLimit | null;
  readonly upstream?: Readonly<Record<string, RateLimit>>;
}

/** The limiters of a service, built once from its configuration. */
export class Limits {
  readonly identity: RateLimiter | null;
  readonly source: RateLimiter | null;
  readonly #upstream = new Map<string, RateLimiter>();

  constructor(limits: ServiceLimits, private readonly onRefused?: (scope: LimitScope, provider: string | null) => void) {
    this.identity = limits.perIdentity ? new RateLimiter('identity', limits.perIdentity) : null;
    this.source = limits.perSource ? new RateLimiter('source', limits.perSource) : null;
    for (const [kind, limit] of Object.entries(limits.upstream ?? {})) this.#upstream.set(kind, new RateLimiter('upstream', limit, 1));
  }

  /** Refuse a source address over its limit (before any verification work). */
  checkSource(source: string | undefined, nowMs: number): void {
    if (this.source && source) this.#run(this.source, source, nowMs, 'from this address', null);
  }

  /** Refuse an identity over its limit (after attestation, before any issuance). */
  checkIdentity(identity: string, nowMs: number): void {
    if (this.identity) this.#run(this.identity, identity, nowMs, 'for this identity', null);
  }

  /** Spend one unit of a provider kind's upstream budget, or refuse. */
  checkUpstream(kind: string, nowMs: number): void {
    const limiter = this.#upstream.get(kind);
    if (limiter) this.#run(limiter, kind, nowMs, `to the ${kind} upstream`, kind);
  }

  #run(limiter: RateLimiter, key: string, nowMs: number, what: string, provider: string | null): void {
    try {
      limiter.enforce(key, nowMs, what);
    } catch (err) {
      this.onRefused?.(limiter.scope, provider);
      throw err;
    }
  }
}
