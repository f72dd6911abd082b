/**
 * Verification keys for one issuer, from a static JWKS file, a direct JWKS URL, or OIDC
 * discovery. Keys are refreshed in the background, refetched on an unknown `kid` at most once per
 * cooldown, and served stale for a bounded time while the issuer is down. jose's
 * createLocalJWKSet selects the key (by `kid` and `alg`) within each fetched set.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../clock.js';
import { ConfigError, StintError } from '../../errors.js';
import { endpointUrlProblem } from '../../net/endpoint_url.js';
import { fetchJson, IssuerFetchError } from './fetch_json.js';

/** Outcome reported to the fetch observer. */
export type KeyFetchOutcome = 'ok' | 'error';

/** Largest discovery document or JWKS accepted (1 MiB). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Options of {@link createKeySource}. Durations are in seconds. */
export interface KeySourceOptions {
  /** Attestor name, for error details. */
  readonly attestorName: string;
  /** The configured issuer; a discovery document must name it byte-exact. */
  readonly issuer: string;
  /** A static JWKS file (takes no network). */
  readonly jwksFile?: string | undefined;
  /** A JWKS URL used directly, skipping discovery. */
  readonly jwksUrl?: string | undefined;
  /** Discovery base URL (default: the issuer). */
  readonly discoveryUrl?: string | undefined;
  /** Timeout of one fetch. */
  readonly fetchTimeout: number;
  /** Minimum time between two fetches (unknown kid, failure retries). */
  readonly refetchCooldown: number;
  /** How long keys stay usable after their last successful fetch. */
  readonly staleKeysFor: number;
  /** Age after which keys are refreshed in the background (default min(300, staleKeysFor / 2)). */
  readonly refreshAfter?: number;
  /** Response size cap in bytes (default 1 MiB). */
  readonly maxResponseBytes?: number;
  /** Time source for cooldown and staleness. */
  readonly clock: Clock;
  /** Observer of every key fetch (for metrics); must not throw. */
  readonly onFetch?: ((outcome: KeyFetchOutcome, seconds: number) => void) | undefined;
  /** Config key path of the attestor, for configuration errors (e.g. `attestors.0`). */
  readonly configPath?: string;
}

/** Verification keys of one issuer. */
export interface KeySource {
  /** jose key resolver: selects the key for a token header, refetching on an unknown kid. */
  readonly getKey: JWTVerifyGetKey;
  /** Fetch keys now unless the cooldown forbids it; resolves to ready(). Never rejects. */
  load(): Promise<boolean>;
  /** True once keys were loaded at least once; when not, starts a (cooldown-bounded) load. */
  ready(): boolean;
  /** Resolves when no fetch is in flight. */
  idle(): Promise<void>;
  /** Abort fetches and drop keys; getKey then fails with ERR_ISSUER_UNAVAILABLE. */
  close(): void;
}

interface KeySetEntry {
  readonly keySet: ReturnType<typeof createLocalJWKSet>;
  readonly fetchedAt: number;
}

/** Thrown internally when a fetch is not allowed yet. */
class CooldownActive extends Error {}

const SLOT = 'keys';

/** Create the key source of one issuer; validates URLs and loads a static file now (ConfigError). */
export function createKeySource(options: KeySourceOptions): KeySource {
  const path = options.configPath ?? '';
  const at = (key: string): string => (path ? `${path}.${key}` : key);
  const sources = [options.jwksFile, options.jwksUrl, options.discoveryUrl].filter((v) => v !== undefined);
  if (sources.length > 1) {
    throw new ConfigError('ERR_CONFIG_INVALID', path, 'set at most one of jwksFile, jwksUrl and discoveryUrl');
  }
  let load: (signal: AbortSignal) => Promise<unknown>;
  let initial: KeySetEntry['keySet'] | undefined;
  const fetchOptions = (signal: AbortSignal) => ({
    timeoutMs: options.fetchTimeout * 1000,
    maxBytes: options.maxResponseBytes ?? MAX_RESPONSE_BYTES,
    signal,
  });

  if (options.jwksFile !== undefined) {
    const file = options.jwksFile;
    try {
      initial = toKeySet(JSON.parse(readFileSync(file, 'utf8')));
    } catch (err) {
      const why = err instanceof IssuerFetchError ? err.message : 'cannot read a JSON Web Key Set from it';
      throw new ConfigError('ERR_CONFIG_INVALID', at('jwksFile'), `${file}: ${why}`);
    }
    load = async () => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (cause) {
        throw new IssuerFetchError('file_unreadable', 'JWKS file unreadable', undefined, { cause });
      }
      try {
        return JSON.parse(text) as unknown;
      } catch (cause) {
        throw new IssuerFetchError('invalid_json', 'JWKS file is not JSON', undefined, { cause });
      }
    };
  } else if (options.jwksUrl !== undefined) {
    const url = options.jwksUrl;
    const problem = endpointUrlProblem(url);
    if (problem) throw new ConfigError('ERR_CONFIG_INVALID', at('jwksUrl'), `${url}: ${problem}`);
    load = (signal) => fetchJson(url, fetchOptions(signal));
  } else {
    const base = options.discoveryUrl ?? options.issuer;
    const problem = endpointUrlProblem(base);
    if (problem) {
      throw new ConfigError('ERR_CONFIG_INVALID', at(options.discoveryUrl !== undefined ? 'discoveryUrl' : 'issuer'), `discovery at ${base}: ${problem}`);
    }
    const discoveryDocument = `${base.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    load = async (signal) => {
      const doc = await fetchJson(discoveryDocument, fetchOptions(signal));
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
        throw new IssuerFetchError('discovery_invalid', 'discovery document is not a JSON object');
      }
      const record = doc as Record<string, unknown>;
      if (record['issuer'] !== options.issuer) {
        throw new IssuerFetchError('discovery_issuer_mismatch', 'discovery document names a different issuer');
      }
      const jwksUri = record['jwks_uri'];
      if (typeof jwksUri !== 'string') throw new IssuerFetchError('discovery_invalid', 'discovery document has no jwks_uri');
      if (endpointUrlProblem(jwksUri) !== null) throw new IssuerFetchError('jwks_uri_insecure', 'discovery jwks_uri is not an acceptable URL');
      return fetchJson(jwksUri, fetchOptions(signal));
    };
  }
  return new IssuerKeySource(options, load, initial);
}

/** Build a jose local key set from a fetched JWKS, keeping only public asymmetric keys. */
function toKeySet(json: unknown): KeySetEntry['keySet'] {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { keys?: unknown }).keys)) {
    throw new IssuerFetchError('jwks_invalid', 'not a JSON Web Key Set');
  }
  const keys = ((json as { keys: unknown[] }).keys).filter(
    (k): k is JWK => typeof k === 'object' && k !== null && !Array.isArray(k) && (k as JWK).kty !== 'oct' && !('d' in k) && !('k' in k),
  );
  if (keys.length === 0) throw new IssuerFetchError('jwks_empty', 'JSON Web Key Set holds no usable public key');
  try {
    return createLocalJWKSet({ keys } as JSONWebKeySet);
  } catch (cause) {
    throw new IssuerFetchError('jwks_invalid', 'malformed JSON Web Key Set', undefined, { cause });
  }
}

class IssuerKeySource implements KeySource {
  readonly #options: KeySourceOptions;
  readonly #load: (signal: AbortSignal) => Promise<unknown>;
  readonly #cache: LRUCache<string, KeySetEntry>;
  readonly #abort = new AbortController();
  readonly #refreshAfterMs: number;
  readonly #cooldownMs: number;
  #inflight: Promise<KeySetEntry> | null = null;
  #lastAttemptAt: number | null = null;
  #lastFailure: string | null = null;
  #everLoaded = false;
  #closed = false;

  constructor(options: KeySourceOptions, load: (signal: AbortSignal) => Promise<unknown>, initial: KeySetEntry['keySet'] | undefined) {
    this.#options = options;
    this.#load = load;
    this.#cooldownMs = options.refetchCooldown * 1000;
    this.#refreshAfterMs = (options.refreshAfter ?? Math.min(300, Math.floor(options.staleKeysFor / 2))) * 1000;
    this.#cache = new LRUCache<string, KeySetEntry>({
      max: 1,
      ttl: Math.max(1, options.staleKeysFor * 1000),
      ttlResolution: 0,
      perf: { now: () => options.clock.now() },
    });
    if (initial !== undefined) {
      const now = options.clock.now();
      this.#cache.set(SLOT, { keySet: initial, fetchedAt: now });
      this.#lastAttemptAt = now;
      this.#everLoaded = true;
    }
  }

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.#closed) throw this.#unavailable('closed');
    let entry = this.#cache.get(SLOT);
    if (entry === undefined) {
      entry = await this.#refreshOrExplain();
    } else if (this.#options.clock.now() - entry.fetchedAt >= this.#refreshAfterMs) {
      this.#refresh().catch(() => undefined);
    }
    try {
      return await entry.keySet(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // Unknown kid: the issuer may have rotated. Join a fetch in flight, or start one if the
      // cooldown allows; otherwise the key is simply not found.
      let fresh: KeySetEntry;
      try {
        fresh = await this.#refresh();
      } catch (refreshErr) {
        // Within the cooldown after a fetch that failed, the issuer cannot be reached: the unknown
        // key may be a rotation we could not see, so the answer is retryable, never "not found".
        if (refreshErr instanceof CooldownActive && this.#lastFailure === null) throw err;
        throw this.#toUnavailable(refreshErr);
      }
      return fresh.keySet(header, token);
    }
  };

  async load(): Promise<boolean> {
    try {
      await this.#refresh();
    } catch {
      // ready() reports the outcome.
    }
    return this.#everLoaded;
  }

  ready(): boolean {
    if (!this.#everLoaded && !this.#closed) this.#refresh().catch(() => undefined);
    return this.#everLoaded;
  }

  async idle(): Promise<void> {
    while (this.#inflight) await this.#inflight.catch(() => undefined);
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#cache.clear();
  }

  async #refreshOrExplain(): Promise<KeySetEntry> {
    try {
      return await this.#refresh();
    } catch (err) {
      throw this.#toUnavailable(err);
    }
  }

  /** Start a fetch (or join the one in flight); CooldownActive when one ran too recently. */
  #refresh(): Promise<KeySetEntry> {
    if (this.#inflight) return this.#inflight;
    if (this.#closed) return Promise.reject(new IssuerFetchError('closed', 'key source closed'));
    const now = this.#options.clock.now();
    if (this.#lastAttemptAt !== null && now - this.#lastAttemptAt < this.#cooldownMs) {
      return Promise.reject(new CooldownActive());
    }
    this.#lastAttemptAt = now;
    const started = performance.now();
    const attempt = (async () => {
      const json = await this.#load(this.#abort.signal);
      return toKeySet(json);
    })();
    const inflight = attempt.then(
      (keySet) => {
        const entry: KeySetEntry = { keySet, fetchedAt: this.#options.clock.now() };
        if (!this.#closed) this.#cache.set(SLOT, entry);
        this.#everLoaded = true;
        this.#lastFailure = null;
        this.#observe('ok', started);
        return entry;
      },
      (err: unknown) => {
        this.#lastFailure = err instanceof IssuerFetchError ? err.reason : 'fetch_failed';
        this.#observe('error', started);
        throw err;
      },
    ).finally(() => {
      if (this.#inflight === inflight) this.#inflight = null;
    });
    this.#inflight = inflight;
    return inflight;
  }

  #observe(outcome: KeyFetchOutcome, started: number): void {
    try {
      this.#options.onFetch?.(outcome, (performance.now() - started) / 1000);
    } catch {
      // An observer must never break verification.
    }
  }

  #toUnavailable(err: unknown): StintError {
    if (err instanceof StintError) return err;
    if (err instanceof IssuerFetchError) return this.#unavailable(err.reason, err.status);
    if (err instanceof CooldownActive) return this.#unavailable(this.#lastFailure ?? 'cooldown');
    return this.#unavailable('fetch_failed');
  }

  #unavailable(reason: string, status?: number): StintError {
    const details: Record<string, unknown> = { reason, attestor: this.#options.attestorName };
    if (status !== undefined) details['status'] = status;
    return new StintError('ERR_ISSUER_UNAVAILABLE', `keys of issuer for attestor "${this.#options.attestorName}" are unavailable`, details);
  }
}
