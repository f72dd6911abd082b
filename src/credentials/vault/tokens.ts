/**
 * Vault client tokens, cached per login (role and Stint identity) in memory only. Vault revokes
 * every lease a token created when the token ends, so a cached token is reused for a grant only
 * when it outlives that grant by a margin; otherwise Stint logs in again. Concurrent requests
 * for the same login share one login call.
 */
import type { Clock } from '../../clock.js';
import { epochSeconds } from '../../clock.js';
import type { VaultAuth } from './client.js';

/** A cached client token (secret: never logged). */
export interface CachedToken {
  readonly token: string;
  readonly accessor: string;
  /** Epoch seconds after which Vault no longer honours the token (Infinity: no TTL). */
  readonly validUntil: number;
}

/** A token and whether it came from the cache (a fresh one is not worth a retry on 403). */
export interface TokenLookup {
  readonly token: CachedToken;
  readonly cached: boolean;
}

/** Seconds a cached token must outlive what it is used for. */
export const TOKEN_MARGIN_SECONDS = 60;

/** Cached Vault tokens by login key. */
export class VaultTokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly clock: Clock,
    private readonly maxEntries = 1024,
  ) {}

  /** A token valid until at least `neededUntil` (epoch seconds) plus the margin, logging in when needed. */
  async get(key: string, neededUntil: number, login: () => Promise<VaultAuth>): Promise<TokenLookup> {
    const hit = this.tokens.get(key);
    if (hit && hit.validUntil - TOKEN_MARGIN_SECONDS >= neededUntil) {
      this.tokens.delete(key);
      this.tokens.set(key, hit);
      return { token: hit, cached: true };
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      const started = epochSeconds(this.clock);
      pending = login()
        .then((auth) => {
          const token: CachedToken = { token: auth.token, accessor: auth.accessor, validUntil: auth.leaseDuration > 0 ? started + auth.leaseDuration : Number.POSITIVE_INFINITY };
          this.put(key, token);
          return token;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return { token: await pending, cached: false };
  }

  /** Forget `token` under `key` (Vault refused it); a newer token under the key is kept. */
  drop(key: string, token: CachedToken): void {
    if (this.tokens.get(key) === token) this.tokens.delete(key);
  }

  /** Forget every token. */
  clear(): void {
    this.tokens.clear();
  }

  private put(key: string, token: CachedToken): void {
    this.tokens.delete(key);
    this.tokens.set(key, token);
    while (this.tokens.size > this.maxEntries) {
      const oldest = this.tokens.keys().next().value;
      if (oldest === undefined) break;
      this.tokens.delete(oldest);
    }
  }
}
