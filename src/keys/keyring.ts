/**
 * Stint's signing keys and their rotation, persisted in the Store.
 *
 * A key is `next` (published in the JWKS, never signs), then `current` (signs), then `retired`
 * (published until `publishUntil` = retiredAt + maxTokenTtl + 60 s, so every token it signed can
 * still be verified, then deleted). The rule that matters: a key is published for at least
 * `prepublish` before it signs, so verifiers that cache the JWKS already hold it. The one
 * exception is a first start (no key at all), where a fresh key signs at once.
 *
 * The store is the source of truth, so replicas sharing a store converge: every tick re-reads it,
 * and so does freshJwks() (for the JWKS and introspection) once the last read is `reloadAfterMs`
 * old, so a replica publishes keys another replica created within seconds. A new key goes into
 * its rotation slot with Store.insertKey, which only one replica wins; the others adopt the
 * winner's key instead of publishing a competing one.
 */
import type { KeyObject } from 'node:crypto';
import { epochSeconds, type Clock } from '../clock.js';
import { ConfigError, StintError } from '../errors.js';
import type { Store, StoredKey } from '../store/store.js';
import { generateSigningKey, importPrivateJwk, isSigningAlgorithm, parsePublicJwk, type PublicJwk, type SigningAlgorithm } from './generate.js';

export type { PublicJwk, SigningAlgorithm } from './generate.js';

/** Clock skew allowed to verifiers, added to a retired key's publication window. */
export const VERIFIER_SKEW_SECONDS = 60;

/** Key lifecycle events, named as the audit event types. */
export type KeyEventType = 'key.created' | 'key.activated' | 'key.retired' | 'key.deleted';

/** Options of Keyring.open. */
export interface KeyringOptions {
  readonly store: Store;
  readonly clock: Clock;
  /** Algorithm of new keys; changing it rotates to a key of the new algorithm (prepublished as usual). */
  readonly algorithm: SigningAlgorithm;
  /** How long a key signs before its successor takes over. */
  readonly rotationPeriodSeconds: number;
  /** How long a key is published before it may sign. */
  readonly prepublishSeconds: number;
  /** Longest lifetime of a token signed by these keys (bounds how long a retired key stays published). */
  readonly maxTokenTtlSeconds: number;
  /** Called after each lifecycle change is stored; exceptions thrown by it are ignored. */
  readonly onEvent?: (type: KeyEventType, kid: string) => void;
  /** freshJwks() re-reads the store when its last read is at least this old (default 5000 ms). */
  readonly reloadAfterMs?: number;
}

/** Default of KeyringOptions.reloadAfterMs. */
export const DEFAULT_KEY_RELOAD_MS = 5000;

/** The key that signs now. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** The node:crypto private key, created once per key. */
  readonly privateKey: KeyObject;
}

/** Public facts about one key (no private material), for the Admin API and logs. */
export interface KeyInfo {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly state: StoredKey['state'];
  readonly createdAt: number;
  readonly activatedAt: number | null;
  readonly retiredAt: number | null;
  readonly publishUntil: number | null;
}

/** A JSON Web Key Set (frozen at runtime; typed mutable so jose's createLocalJWKSet takes it as is). */
export interface Jwks {
  readonly keys: PublicJwk[];
}

/** Outcome of rotateNow. */
export interface RotationResult {
  /** The kid that signs after the call. */
  readonly current: string;
  /** The published successor, if any. */
  readonly next: string | null;
  /** True when the call made a new key current. */
  readonly promoted: boolean;
  /** Epoch seconds from which the successor may be promoted (null when none waits). */
  readonly promotableAt: number | null;
}

/** Options of rotateNow. */
export interface RotateOptions {
  /**
   * UNSAFE: make a key current at once, even one published moments ago. Verifiers that cached the
   * JWKS reject its tokens until they refetch. Meant for a compromised current key.
   */
  readonly force?: boolean;
}

/** Signing keys, rotation and the published JWKS. */
export class Keyring {
  /** Longest lifetime of a token these keys may sign, in seconds. */
  readonly maxTokenTtlSeconds: number;
  private readonly opts: KeyringOptions;
  private readonly keyObjects = new Map<string, KeyObject>();
  private keys: StoredKey[] = [];
  private signing: SigningKey | null = null;
  private published: Jwks = { keys: [] };
  private rotationRequested = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** Clock time (ms) of the last read of the stored keys. */
  private loadedAt = Number.NEGATIVE_INFINITY;
  private reloading: Promise<void> | null = null;

  private constructor(opts: KeyringOptions) {
    validate(opts);
    this.opts = opts;
    this.maxTokenTtlSeconds = opts.maxTokenTtlSeconds;
  }

  /** Load the keys from the store and bring them up to date (creating the first key if none). */
  static async open(opts: KeyringOptions): Promise<Keyring> {
    const keyring = new Keyring(opts);
    await keyring.tick();
    return keyring;
  }

  /** Apply every due transition: create, prepublish, promote, retire, delete. Call it on an interval. */
  tick(): Promise<void> {
    return this.serial(async () => {
      await this.advance(false);
    });
  }

  /**
   * Rotate now (operator request): publish a successor if none is waiting and promote it as soon
   * as it has been published for `prepublish` (at a later tick, unless it already has). With
   * `force`, promote at once (unsafe: see RotateOptions). A pending request lives in this process:
   * after a restart the waiting successor is promoted on the regular schedule.
   */
  rotateNow(options: RotateOptions = {}): Promise<RotationResult> {
    return this.serial(async () => {
      this.rotationRequested = true;
      const promoted = await this.advance(options.force === true);
      const current = this.currentKey()!;
      const next = this.nextKey();
      return {
        current: current.kid,
        next: next?.kid ?? null,
        promoted,
        promotableAt: next ? next.createdAt + this.opts.prepublishSeconds : null,
      };
    });
  }

  /** The key that signs now. Throws ERR_UNAVAILABLE before the first successful tick. */
  signer(): SigningKey {
    if (!this.signing) throw new StintError('ERR_UNAVAILABLE', 'no signing key loaded');
    return this.signing;
  }

  /** Unix seconds at which the current key is due to be replaced (null before the first key): the rotation gauge. */
  rotationDueAt(): number | null {
    const current = this.currentKey();
    return current && current.activatedAt !== null ? current.activatedAt + this.opts.rotationPeriodSeconds : null;
  }

  /** True once a signing key is loaded (for /readyz). */
  ready(): boolean {
    return this.signing !== null;
  }

  /** The public JWKS: next, current and retired keys. The same object until the keys change. */
  jwks(): Jwks {
    return this.published;
  }

  /**
   * The JWKS after re-reading the stored keys if the last read is `reloadAfterMs` old (keys another
   * replica created); concurrent callers share one read. Never fails: while the store cannot be
   * read, the keys last loaded (retried once the interval has passed again).
   */
  async freshJwks(): Promise<Jwks> {
    if (this.stale()) {
      this.reloading ??= this.serial(() => this.reload())
        .catch(() => undefined)
        .finally(() => {
          this.reloading = null;
        });
      await this.reloading;
    }
    return this.published;
  }

  /** Every key without private material, oldest first. */
  status(): KeyInfo[] {
    return this.keys.map((k) => ({
      kid: k.kid,
      alg: k.alg as SigningAlgorithm,
      state: k.state,
      createdAt: k.createdAt,
      activatedAt: k.activatedAt,
      retiredAt: k.retiredAt,
      publishUntil: k.publishUntil,
    }));
  }

  /** Run one operation at a time (interval ticks and operator rotations may overlap). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private stale(): boolean {
    return this.opts.clock.now() - this.loadedAt >= (this.opts.reloadAfterMs ?? DEFAULT_KEY_RELOAD_MS);
  }

  /** Read the stored keys (and when), refusing an algorithm this build cannot sign with. */
  private async load(): Promise<StoredKey[]> {
    this.loadedAt = this.opts.clock.now();
    const keys = await this.opts.store.listKeys();
    for (const k of keys) {
      if (!isSigningAlgorithm(k.alg)) throw new StintError('ERR_INTERNAL', `stored key ${k.kid} has unsupported algorithm ${k.alg}`, { kid: k.kid });
    }
    return keys;
  }

  /** Adopt the stored keys without changing any (another replica's changes); a tick may have just done it. */
  private async reload(): Promise<void> {
    if (!this.stale()) return;
    const keys = await this.load();
    if (!keys.some((k) => k.state === 'current')) return;
    this.keys = keys;
    this.refresh();
  }

  /** Bring the stored keys up to date; returns true when a key was promoted. */
  private async advance(force: boolean): Promise<boolean> {
    const { store, clock, algorithm, rotationPeriodSeconds, prepublishSeconds } = this.opts;
    const now = epochSeconds(clock);
    this.keys = await this.load();
    let promoted = false;

    // Several current keys (a crash between promote and retire, or two replicas): the latest activated signs.
    const currents = this.keys.filter((k) => k.state === 'current').sort(byActivation);
    for (const stale of currents.slice(0, -1)) await this.retire(stale, now);

    // No current key: promote a published successor, else (first start) create one that signs at once.
    if (!this.currentKey()) {
      const next = this.nextKey();
      if (next) await this.activate(next, now);
      else await this.create('current', now);
    }

    // Retired keys past their publication window.
    for (const k of this.keys.filter((k) => k.state === 'retired' && k.publishUntil !== null && now >= k.publishUntil)) {
      await store.deleteKey(k.kid);
      this.forget(k.kid);
      this.emit('key.deleted', k.kid);
    }

    // A waiting successor of an algorithm no longer configured never signed: drop it.
    for (const k of this.keys.filter((k) => k.state === 'next' && k.alg !== algorithm)) {
      await store.deleteKey(k.kid);
      this.forget(k.kid);
      this.emit('key.deleted', k.kid);
    }

    // Publish the successor once the current key nears its end, and promote it when both the
    // current key is due and the successor has been published long enough. A second pass lets a
    // just-promoted key get its own successor at once when prepublish >= rotationPeriod.
    for (let pass = 0; pass < 2; pass++) {
      const current = this.currentKey()!;
      const due = this.rotationRequested || current.alg !== algorithm || now >= current.activatedAt! + rotationPeriodSeconds;
      let next = this.nextKey();
      if (!next && (due || now >= current.activatedAt! + rotationPeriodSeconds - prepublishSeconds)) {
        next = await this.create('next', now);
      }
      if (promoted || !next || !due || !(force || now >= next.createdAt + prepublishSeconds)) continue;
      // Promote before retiring: a crash in between leaves two current keys, which the next tick resolves.
      await this.activate(next, now);
      await this.retire(current, now);
      this.rotationRequested = false;
      promoted = true;
    }

    this.refresh();
    return promoted;
  }

  /** The key that signs: the latest activated current key (two exist only mid-promotion). */
  private currentKey(): StoredKey | undefined {
    return this.keys.filter((k) => k.state === 'current').sort(byActivation).at(-1);
  }

  /** The oldest waiting successor of the configured algorithm. */
  private nextKey(): StoredKey | undefined {
    return this.keys.find((k) => k.state === 'next' && k.alg === this.opts.algorithm);
  }

  /** Create a key in the `current` or `next` slot; when another replica filled the slot first, adopt its key. */
  private async create(state: 'next' | 'current', now: number): Promise<StoredKey> {
    const generated = await generateSigningKey(this.opts.algorithm);
    const key: StoredKey = {
      kid: generated.kid,
      alg: generated.alg,
      privateJwk: JSON.stringify(generated.privateJwk),
      publicJwk: JSON.stringify(generated.publicJwk),
      state,
      createdAt: now,
      activatedAt: state === 'current' ? now : null,
      retiredAt: null,
      publishUntil: null,
    };
    if (!(await this.opts.store.insertKey(key))) {
      this.keys = await this.load();
      const winner = state === 'current' ? this.currentKey() : this.nextKey();
      if (!winner) throw new StintError('ERR_UNAVAILABLE', `the ${state} signing key changed concurrently; retrying at the next tick`);
      return winner;
    }
    this.keyObjects.set(key.kid, generated.privateKey);
    this.keys.push(key);
    this.emit('key.created', key.kid);
    if (state === 'current') this.emit('key.activated', key.kid);
    return key;
  }

  private async activate(key: StoredKey, now: number): Promise<void> {
    await this.replace({ ...key, state: 'current', activatedAt: now });
    this.emit('key.activated', key.kid);
  }

  private async retire(key: StoredKey, now: number): Promise<void> {
    const publishUntil = now + this.opts.maxTokenTtlSeconds + VERIFIER_SKEW_SECONDS;
    await this.replace({ ...key, state: 'retired', retiredAt: now, publishUntil });
    this.emit('key.retired', key.kid);
  }

  private async replace(key: StoredKey): Promise<void> {
    await this.opts.store.putKey(key);
    this.keys = this.keys.map((k) => (k.kid === key.kid ? key : k));
  }

  private forget(kid: string): void {
    this.keys = this.keys.filter((k) => k.kid !== kid);
    this.keyObjects.delete(kid);
  }

  /** Rebuild the signer and the JWKS from `keys`. */
  private refresh(): void {
    const current = this.currentKey()!;
    const alg = current.alg as SigningAlgorithm;
    let privateKey = this.keyObjects.get(current.kid);
    if (!privateKey) {
      privateKey = importPrivateJwk(current.privateJwk, alg, current.kid);
      this.keyObjects.set(current.kid, privateKey);
    }
    if (this.signing?.kid !== current.kid) this.signing = { kid: current.kid, alg, privateKey };
    const order = { current: 0, next: 1, retired: 2 } as const;
    const published = [...this.keys].sort((a, b) => order[a.state] - order[b.state]).map((k) => parsePublicJwk(k.publicJwk, k.alg as SigningAlgorithm, k.kid));
    if (!sameKids(published, this.published.keys)) this.published = Object.freeze({ keys: Object.freeze(published) as PublicJwk[] });
    for (const kid of this.keyObjects.keys()) if (!this.keys.some((k) => k.kid === kid)) this.keyObjects.delete(kid);
  }

  private emit(type: KeyEventType, kid: string): void {
    if (this.opts.onEvent) emit(this.opts.onEvent, type, kid);
  }
}

function emit(onEvent: NonNullable<KeyringOptions['onEvent']>, type: KeyEventType, kid: string): void {
  try {
    onEvent(type, kid);
  } catch {
    // An observer's failure must not leave the keyring half-updated.
  }
}

function byActivation(a: StoredKey, b: StoredKey): number {
  return (a.activatedAt ?? 0) - (b.activatedAt ?? 0) || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);
}

function sameKids(a: readonly PublicJwk[], b: readonly PublicJwk[]): boolean {
  return a.length === b.length && a.every((k, i) => k.kid === b[i]!.kid);
}

function validate(opts: KeyringOptions): void {
  const bad = (field: string, reason: string): never => {
    throw new ConfigError('ERR_CONFIG_INVALID', `signing.${field}`, reason);
  };
  if (!isSigningAlgorithm(opts.algorithm)) bad('algorithm', `unsupported algorithm ${String(opts.algorithm)}`);
  if (!Number.isInteger(opts.rotationPeriodSeconds) || opts.rotationPeriodSeconds <= 0) bad('rotationPeriod', 'must be a positive whole number of seconds');
  if (!Number.isInteger(opts.prepublishSeconds) || opts.prepublishSeconds < 0) bad('prepublish', 'must be a non-negative whole number of seconds');
  if (!Number.isInteger(opts.maxTokenTtlSeconds) || opts.maxTokenTtlSeconds <= 0) bad('maxTokenTtl', 'must be a positive whole number of seconds');
}
