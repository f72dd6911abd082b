/**
 * `POST /attestation/nonce` (form `kind`): a one-time server nonce for proofs that embed one (the
 * Azure IMDS attested document). Unauthenticated — a VM asks before it can prove anything — so it
 * is bounded: only kinds a configured attestor asks nonces for, each nonce short-lived (the
 * attestor's TTL, at most 10 min, reaped with the Store's bindings), and rate-limited per source
 * address and overall, since each nonce is a Store write. Answer `{ "nonce": "...", "expires_in": N }`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AttestationNonces } from '../../attestation/attestor.js';
import type { Clock } from '../../clock.js';
import { StintError } from '../../errors.js';
import { readBody } from '../../http/body.js';

/** The nonce endpoint's state: which kinds it issues for (and their TTL, seconds) and its rate limits. */
export interface NonceEndpoint {
  readonly nonces: AttestationNonces;
  readonly kinds: ReadonlyMap<string, number>;
  /** Admit one request from `source` now, or false when over a rate limit. */
  admit(source: string): boolean;
}

/** Rate limits: tokens per second and burst, overall and per source address. */
export interface NonceRateLimits {
  readonly perSecond: number;
  readonly burst: number;
  readonly perSourcePerSecond: number;
  readonly perSourceBurst: number;
}

/** Default limits: 50/s overall (burst 100), 2/s per source (burst 10). */
export const DEFAULT_NONCE_RATE_LIMITS: NonceRateLimits = { perSecond: 50, burst: 100, perSourcePerSecond: 2, perSourceBurst: 10 };
const MAX_TRACKED_SOURCES = 10_000;

/** Build the endpoint's state. `kinds` maps each nonce kind to its TTL in seconds. */
export function createNonceEndpoint(nonces: AttestationNonces, kinds: ReadonlyMap<string, number>, clock: Clock, limits: NonceRateLimits = DEFAULT_NONCE_RATE_LIMITS): NonceEndpoint {
  const overall = bucket(limits.perSecond, limits.burst);
  const sources = new Map<string, ReturnType<typeof bucket>>();
  return {
    nonces,
    kinds,
    admit(source) {
      const now = clock.now();
      let b = sources.get(source);
      if (!b) {
        if (sources.size >= MAX_TRACKED_SOURCES) sources.clear();
        b = bucket(limits.perSourcePerSecond, limits.perSourceBurst);
        sources.set(source, b);
      }
      return b.take(now) && overall.take(now);
    },
  };
}

function bucket(perSecond: number, burst: number): { take(now: number): boolean } {
  let tokens = burst;
  let at = -Infinity;
  return {
    take(now) {
      tokens = Math.min(burst, tokens + (Number.isFinite(at) ? ((now - at) / 1000) * perSecond : burst));
      at = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

/** Handle `POST /attestation/nonce`; errors are thrown as StintError (the listener's guard answers them). */
export async function attestationNonce(endpoint: NonceEndpoint | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') {
    req.resume();
    res.writeHead(405, { 'content-type': 'application/json', allow: 'POST' });
    res.end(JSON.stringify({ error: 'invalid_request', error_description: 'method not allowed; use POST' }));
    return;
  }
  const form = new URLSearchParams((await readBody(req, { contentType: 'application/x-www-form-urlencoded', maxBytes: 1024, tooLargeCode: 'ERR_INVALID_REQUEST' })).toString('utf8'));
  const kinds = form.getAll('kind');
  if (kinds.length !== 1 || !kinds[0]) throw new StintError('ERR_INVALID_REQUEST', 'kind is required, once', { field: 'kind' });
  const kind = kinds[0];
  const ttl = endpoint?.kinds.get(kind);
  if (!endpoint || ttl === undefined) {
    throw new StintError('ERR_INVALID_REQUEST', `no attestor issues nonces for kind ${JSON.stringify(kind.slice(0, 40))}`, { field: 'kind', reason: 'nonce_kind_unknown' });
  }
  if (!endpoint.admit(req.socket.remoteAddress ?? 'unknown')) {
    throw new StintError('ERR_RATE_LIMITED', 'too many nonce requests; retry shortly', { reason: 'rate_limited', retryAfterSeconds: 1 });
  }
  const nonce = await endpoint.nonces.issue(kind, ttl);
  const text = JSON.stringify({ nonce, expires_in: ttl });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
