/**
 * Keeps one credential fresh: exchanges at start, renews at the suggested time (with jitter),
 * retries failures with capped exponential backoff (with jitter), serves the last good credential
 * until its expiry and never past it: at expiry it is withdrawn from every output until a fresh
 * one arrives. Every few seconds (jittered) it asks Stint whether the served grant was revoked
 * (POST /grants/status); a revoked credential is withdrawn at once, as at expiry, and an exchange
 * is tried again (refused while the identity is quarantined: it backs off and keeps trying).
 */
import { StintError, toStintError } from '../src/errors.js';
import { isRetryable } from '../src/client/retryable.js';
import type { ExchangeRequest, StintClient, TokenAnswer } from '../src/client/stint_client.js';
import { fingerprint } from '../src/fingerprint.js';
import type { HeldCredential } from './credential.js';
import type { Logger } from './log.js';
import type { SidecarMetrics } from './metrics.js';
import type { Output } from './outputs/output.js';
import { backoffDelay, longTimeout, renewalDelay, type RenewalPolicy } from './schedule.js';
import type { SubjectProof, SubjectTokenSource } from '../src/client/subject_token/source.js';

/**
 * What changed: a first credential, a replacement, the same credential extended in place (same
 * secret, later expiry), or an expiry without replacement.
 */
export type CredentialChange = 'issued' | 'rotated' | 'extended' | 'expired' | 'revoked';

/** One credential the sidecar keeps: what it asks Stint for, under its configured name. */
export interface SidecarCredentialRequest extends ExchangeRequest {
  readonly name: string;
  /** Extend renewable grants in place rather than exchanging again (default true). */
  readonly renewInPlace?: boolean;
}

/** The credential held from Stint's answer to the request named `name`. */
function heldFrom(name: string, answer: TokenAnswer): HeldCredential {
  const { kind, token, grantId, fields, issuedAt, expiresAt, renewAfter, renewable } = answer;
  return { name, kind, token, grantId, fields, issuedAt, expiresAt, renewAfter, renewable, lifetime: expiresAt - issuedAt };
}

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
  /** How often to ask Stint whether the served grant was revoked (ms, jittered down by up to a fifth); 0 or absent: never. */
  readonly revocationCheck?: number;
}

/** One credential, its outputs and its timers. */
export class CredentialKeeper {
  readonly request: SidecarCredentialRequest;
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
  #checkTimer: { cancel(): void } | null = null;
  /** The service has no POST /grants/status: no more revocation checks. */
  #statusUnsupported = false;
  /** The grant last withdrawn because Stint revoked it, until a fresh credential is served. */
  #revokedGrant: string | null = null;

  constructor(request: SidecarCredentialRequest, required: boolean, outputs: readonly Output[], deps: KeeperDeps) {
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

  /** The grant withdrawn because it was revoked, while no fresh credential replaced it; else null. */
  get revokedGrant(): string | null {
    return this.#revokedGrant;
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
    this.#scheduleCheck();
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
    this.#checkTimer?.cancel();
  }

  /**
   * Ask Stint whether the served grant was revoked; if so withdraw it from every output now and
   * try to exchange again. Never throws: a failed check is tried again at the next interval.
   */
  async checkRevocation(): Promise<void> {
    const cred = this.#current;
    const { client, subjectToken, log } = this.#deps;
    if (!cred?.grantId || this.#stopped || this.#statusUnsupported) return;
    let status: { state: string; quarantined: boolean };
    try {
      status = await client.grantStatus(await subjectToken.read(), cred.grantId);
    } catch (e) {
      const err = toStintError(e);
      if (err.details.reason === 'status_unsupported') {
        this.#statusUnsupported = true;
        log.log('warn', 'revocation checks off: this Stint has no POST /grants/status; a revoked credential is served until it is renewed or expires', { credential: this.request.name });
      } else {
        log.log('debug', 'revocation check failed', { credential: this.request.name, grant_id: cred.grantId, code: err.code, reason: err.details.reason });
      }
      return;
    }
    if (status.state !== 'revoked' || this.#current !== cred || this.#stopped) return;
    await this.#withdraw(cred, 'revoked', status.quarantined);
    // A revocation without quarantine gets a fresh grant at once; a quarantined identity is refused and backs off.
    this.#schedule(0);
  }

  #scheduleCheck(): void {
    this.#checkTimer?.cancel();
    const every = this.#deps.revocationCheck ?? 0;
    if (this.#stopped || every <= 0 || this.#statusUnsupported) return;
    // Jittered, so that sidecars started together do not poll together.
    this.#checkTimer = longTimeout(() => void this.checkRevocation().finally(() => this.#scheduleCheck()), every * (1 - 0.2 * this.#deps.random()));
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
      cred = extended ?? heldFrom(name, await client.exchange(subject, this.request));
      change = extended ? 'extended' : this.#current ? 'rotated' : 'issued';
      if (cred.expiresAt <= now()) throw new StintError('ERR_UNAVAILABLE', 'Stint issued an already expired credential (clock skew?)', { reason: 'expired_on_arrival' });
    } catch (e) {
      const err = toStintError(e);
      if (this.#stopped) return false;
      this.#failures++;
      this.#lastError = err;
      metrics.failed(name, err.code);
      // A quarantine is an operator's decision, not a fault: a warning, retried with backoff.
      log.log(this.#current || err.code === 'ERR_IDENTITY_QUARANTINED' ? 'warn' : 'error', err.code === 'ERR_IDENTITY_QUARANTINED' ? 'exchange refused: identity quarantined' : 'exchange failed', {
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
    this.#revokedGrant = null;
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
      if (isRetryable(err)) throw err;
      if (err.details.reason === 'renew_unsupported') this.#inPlaceUnsupported = true;
      log.log('info', 'renewal in place refused; exchanging for a new credential', { credential: this.request.name, grant_id: cur.grantId, code: err.code, reason: err.details.reason });
      return null;
    }
  }

  async #expire(cred: HeldCredential): Promise<void> {
    if (this.#current !== cred || this.#stopped) return;
    await this.#withdraw(cred, 'expired', false);
  }

  /** Stop serving `cred`: out of every output (files deleted, endpoints answer 503), readiness red. */
  async #withdraw(cred: HeldCredential, why: 'expired' | 'revoked', quarantined: boolean): Promise<void> {
    this.#current = null;
    this.#expiryTimer?.cancel();
    const name = this.request.name;
    if (why === 'expired') {
      this.#deps.metrics.expired(name);
      this.#deps.log.log('error', 'credential expired without a replacement; withdrawn from every output', { credential: name, grant_id: cred.grantId, last_error: this.#lastError?.code ?? null });
    } else {
      this.#revokedGrant = cred.grantId;
      this.#deps.metrics.revoked(name);
      this.#deps.log.log('warn', 'credential revoked; withdrawn from every output', { credential: name, grant_id: cred.grantId, fingerprint: fingerprint(cred.token), identity_quarantined: quarantined });
    }
    for (const output of this.#outputs) {
      try {
        await output.withdraw();
      } catch (e) {
        this.#deps.metrics.outputFailed(name, output.type);
        this.#deps.log.log('error', `${why} credential not removed`, { credential: name, output: output.type, where: output.where, error: (e as Error).message });
      }
    }
    for (const l of this.#listeners) l(why, null);
  }
}
