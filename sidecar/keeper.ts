/**
 * Keeps one credential fresh: exchanges at start, renews at the suggested time (with jitter),
 * retries failures with capped exponential backoff (with jitter), serves the last good credential
 * until its expiry and never past it: at expiry it is withdrawn from every output until a fresh
 * one arrives.
 */
import { StintError, isRetryable, toStintError } from '../src/errors.js';
import { fingerprint } from '../src/fingerprint.js';
import type { HeldCredential } from './credential.js';
import type { CredentialRequest, StintClient } from './exchange_client.js';
import type { Logger } from './log.js';
import type { SidecarMetrics } from './metrics.js';
import type { Output } from './outputs/output.js';
import { backoffDelay, longTimeout, renewalDelay, type RenewalPolicy } from './schedule.js';
import type { SubjectProof, SubjectTokenSource } from './subject_token/source.js';

/**
 * What changed: a first credential, a replacement, the same credential extended in place (same
 * secret, later expiry), or an expiry without replacement.
 */
export type CredentialChange = 'issued' | 'rotated' | 'extended' | 'expired';

/** What a keeper needs. */
export interface KeeperDeps {
  readonly client: StintClient;
  readonly subjectToken: SubjectTokenSource;
  readonly policy: RenewalPolicy;
  readonly log: Logger;
  readonly metrics: SidecarMetrics;
  /** Epoch milliseconds. */
  readonly now: () => number;
  readonly random: () => number;
}

/** One credential, its outputs and its timers. */
export class CredentialKeeper {
  readonly request: CredentialRequest;
  readonly required: boolean;
  readonly #outputs: readonly Output[];
  readonly #deps: KeeperDeps;
  readonly #listeners: ((change: CredentialChange, cred: HeldCredential | null) => void)[] = [];
  #current: HeldCredential | null = null;
  #failures = 0;
  #lastError: StintError | null = null;
  #renewTimer: { cancel(): void } | null = null;
  #expiryTimer: { cancel(): void } | null = null;
  #inFlight: Promise<boolean> | null = null;
  #stopped = false;
  /** What the last publication could not update (`type where: code`), or empty. */
  #outputFailures: string[] = [];
  /** The service has no POST /renew: exchange from now on. */
  #inPlaceUnsupported = false;

  constructor(request: CredentialRequest, required: boolean, outputs: readonly Output[], deps: KeeperDeps) {
    this.request = request;
    this.required = required;
    this.#outputs = outputs;
    this.#deps = deps;
    deps.metrics.register(request.name);
  }

  /** The credential being served, or null. */
  get current(): HeldCredential | null {
    return this.#current;
  }

  /** The last failure (cleared by a success). */
  get lastError(): StintError | null {
    return this.#lastError;
  }

  /** True while an unexpired credential is served. */
  serving(): boolean {
    return this.#current !== null && this.#current.expiresAt > this.#deps.now();
  }

  /** The outputs the last credential did not reach (`type where: code`); readiness waits for them. */
  get outputFailures(): readonly string[] {
    return this.#outputFailures;
  }

  /** Be told of every change. */
  onChange(listener: (change: CredentialChange, cred: HeldCredential | null) => void): void {
    this.#listeners.push(listener);
  }

  /** Start the renewal loop: the first exchange now, or the next renewal of a credential already held. */
  start(): void {
    const cur = this.#current;
    const { policy, random, now } = this.#deps;
    this.#schedule(cur ? renewalDelay(cur.issuedAt, cur.renewAfter, now(), policy, random) : 0);
  }

  /** One exchange and publication; true on success. Never throws. */
  attempt(): Promise<boolean> {
    this.#inFlight ??= this.#attempt().finally(() => (this.#inFlight = null));
    return this.#inFlight;
  }

  /** Stop timers; an exchange in flight is discarded. */
  stop(): void {
    this.#stopped = true;
    this.#renewTimer?.cancel();
    this.#expiryTimer?.cancel();
  }

  /** Wait for an exchange in flight, if any. */
  async settle(): Promise<void> {
    await this.#inFlight;
  }

  #schedule(ms: number): void {
    this.#renewTimer?.cancel();
    if (this.#stopped) return;
    this.#renewTimer = longTimeout(() => {
      void this.attempt().then((ok) => {
        if (this.#stopped) return;
        const { policy, random, now } = this.#deps;
        if (ok && this.#current) this.#schedule(renewalDelay(this.#current.issuedAt, this.#current.renewAfter, now(), policy, random));
        else this.#schedule(backoffDelay(this.#failures, policy, random));
      });
    }, ms);
  }

  async #attempt(): Promise<boolean> {
    const { client, subjectToken, log, metrics, now } = this.#deps;
    const name = this.request.name;
    let cred: HeldCredential;
    let change: CredentialChange;
    try {
      const subject = await subjectToken.read();
      const extended = await this.#renewInPlace(subject);
      cred = extended ?? (await client.exchange(subject, this.request));
      change = extended ? 'extended' : this.#current ? 'rotated' : 'issued';
      if (cred.expiresAt <= now()) throw new StintError('ERR_UNAVAILABLE', 'Stint issued an already expired credential (clock skew?)', { reason: 'expired_on_arrival' });
    } catch (e) {
      const err = toStintError(e);
      if (this.#stopped) return false;
      this.#failures++;
      this.#lastError = err;
      metrics.failed(name, err.code);
      log.log(this.#current ? 'warn' : 'error', 'exchange failed', {
        credential: name,
        code: err.code,
        reason: err.details.reason,
        error: err.code === 'ERR_INTERNAL' ? String((err.cause as Error | undefined)?.message ?? err.message) : err.message,
        consecutive_failures: this.#failures,
        serving_until: this.#current ? new Date(this.#current.expiresAt).toISOString() : null,
      });
      return false;
    }
    if (this.#stopped) return false;
    const outputFailures: string[] = [];
    for (const output of this.#outputs) {
      try {
        await output.publish(cred);
      } catch (e) {
        metrics.outputFailed(name, output.type);
        const raw = (e as NodeJS.ErrnoException).code;
        const code = typeof raw === 'string' ? raw : 'OUTPUT_FAILED';
        outputFailures.push(`${output.type} ${output.where}: ${code}`);
        log.log('error', 'output not updated', { credential: name, output: output.type, where: output.where, code, error: (e as Error).message });
      }
    }
    this.#outputFailures = outputFailures;
    this.#current = cred;
    this.#failures = 0;
    this.#lastError = null;
    metrics.renewed(name, cred.expiresAt, change === 'extended');
    this.#expiryTimer?.cancel();
    this.#expiryTimer = longTimeout(() => void this.#expire(cred), cred.expiresAt - now());
    log.log(change === 'issued' ? 'info' : 'debug', change === 'issued' ? 'credential issued' : change === 'extended' ? 'credential renewed in place' : 'credential renewed', {
      credential: name,
      kind: cred.kind,
      grant_id: cred.grantId,
      fingerprint: fingerprint(cred.token),
      expires_at: new Date(cred.expiresAt).toISOString(),
      renew_after: new Date(cred.renewAfter).toISOString(),
    });
    for (const l of this.#listeners) l(change, cred);
    return true;
  }

  /**
   * Extend the held grant in place when Stint said it can (a Vault lease, a PostgreSQL role): the
   * application keeps its secret (and its connections). Null means exchange instead: nothing held,
   * not renewable, refused (revoked, gone, a policy change), or extended to less than half the
   * lifetime first granted (an upstream maximum, such as a Vault lease's max_ttl, is near).
   * Stint unreachable or unavailable throws, like the exchange would.
   */
  async #renewInPlace(subject: SubjectProof): Promise<HeldCredential | null> {
    const cur = this.#current;
    const { client, log, now } = this.#deps;
    if (!cur?.renewable || !cur.grantId || this.request.renewInPlace === false || this.#inPlaceUnsupported || cur.expiresAt <= now()) return null;
    const lifetime = cur.lifetime ?? cur.expiresAt - cur.issuedAt;
    const sentAt = now();
    try {
      const renewed = await client.renew(subject, cur.grantId, this.request.ttl);
      if (renewed.expiresAt - sentAt < lifetime / 2) {
        log.log('info', 'grant cannot be extended much further; exchanging for a new credential', { credential: this.request.name, grant_id: cur.grantId, extended_to: new Date(renewed.expiresAt).toISOString() });
        return null;
      }
      return { ...cur, issuedAt: sentAt, expiresAt: renewed.expiresAt, renewAfter: renewed.renewAfter, lifetime };
    } catch (e) {
      const err = toStintError(e);
      if (isRetryable(err.code)) throw err;
      if (err.details.reason === 'renew_unsupported') this.#inPlaceUnsupported = true;
      log.log('info', 'renewal in place refused; exchanging for a new credential', { credential: this.request.name, grant_id: cur.grantId, code: err.code, reason: err.details.reason });
      return null;
    }
  }

  async #expire(cred: HeldCredential): Promise<void> {
    if (this.#current !== cred || this.#stopped) return;
    this.#current = null;
    this.#deps.metrics.expired(this.request.name);
    this.#deps.log.log('error', 'credential expired without a replacement; withdrawn from every output', {
      credential: this.request.name,
      grant_id: cred.grantId,
      last_error: this.#lastError?.code ?? null,
    });
    for (const output of this.#outputs) {
      try {
        await output.withdraw();
      } catch (e) {
        this.#deps.metrics.outputFailed(this.request.name, output.type);
        this.#deps.log.log('error', 'expired credential not removed', { credential: this.request.name, output: output.type, where: output.where, error: (e as Error).message });
      }
    }
    for (const l of this.#listeners) l('expired', null);
  }
}
