/**
 * The verified-identity cache, as a decorator on the verifier: a sidecar presents the same subject
 * token many times (exchange, renew, revoke) and it is verified once, then reused until its expiry,
 * at most SUBJECT_CACHE_MAX_SECONDS, and never past a live check's `recheckAt`. Keyed by the token
 * type and the SHA-256 of the token, so a proof presented under another type is verified again.
 *
 * Memory (issue 12): an entry holds the identity the attestor built and its time bound, nothing
 * else (no token, no copy of the claims; attestors build claims compactly: attestation/claims.ts).
 */
import { LRUCache } from 'lru-cache';
import type { WorkloadIdentity } from '../attestation/attestor.js';
import type { Clock } from '../clock.js';
import { sha256Hex } from '../fingerprint.js';
import type { StintMetrics } from '../telemetry/metrics.js';
import type { IdentityVerifier } from './contracts.js';

/** Longest time a verified subject token is reused from the cache, whatever its expiry. */
export const SUBJECT_CACHE_MAX_SECONDS = 300;

/** One cached identity and the time (epoch ms) it stops being reused. */
interface CachedIdentity {
  readonly identity: WorkloadIdentity;
  readonly until: number;
}

/** Options of {@link cacheVerifiedIdentities}. */
export interface VerifiedCacheOptions {
  /** Entries kept (0 disables the cache: the verifier is returned as it is). */
  readonly size: number;
  readonly clock: Clock;
  readonly metrics: Pick<StintMetrics, 'subjectTokenCache'>;
}

/** Wrap `verifier` with the verified-identity cache. */
export function cacheVerifiedIdentities(verifier: IdentityVerifier, options: VerifiedCacheOptions): IdentityVerifier {
  if (options.size <= 0) return verifier;
  const cache = new LRUCache<string, CachedIdentity>({ max: options.size });
  const { clock, metrics } = options;
  return {
    accepts: (type) => verifier.accepts(type),
    ready: () => verifier.ready(),
    close: () => {
      cache.clear();
      verifier.close();
    },
    ...(verifier.explainDenials ? { explainDenials: verifier.explainDenials.bind(verifier) } : {}),
    async attest(token) {
      const key = `${token.type}\n${token.sha256 ?? sha256Hex(token.value)}`;
      const now = clock.now();
      const hit = cache.get(key);
      if (hit && hit.until > now) {
        metrics.subjectTokenCache.inc({ result: 'hit' });
        return hit.identity;
      }
      metrics.subjectTokenCache.inc({ result: 'miss' });
      const identity = await verifier.attest(token);
      if (identity.expiresAt > 0 && identity.noCache !== true) {
        // An identity confirmed with a live system (a TokenReview) is kept no longer than that answer.
        const until = Math.min(identity.expiresAt * 1000, now + SUBJECT_CACHE_MAX_SECONDS * 1000, identity.recheckAt !== undefined ? identity.recheckAt * 1000 : Infinity);
        if (until > now) cache.set(key, { identity, until });
      }
      return identity;
    },
  };
}

