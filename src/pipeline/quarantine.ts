/**
 * Identity quarantine on the hot path. An operator's quarantine (`stint revoke --identity`) lives
 * in the Store, shared by every replica; reading it on every exchange would add a store round trip
 * to each one. Instead each replica keeps an in-memory view of the quarantines in force, refreshed
 * from the store every second (and at once after a change made through this replica), and the
 * exchange and renewal paths consult it after attestation: a map lookup. An end time is checked
 * against the clock on each lookup, so a quarantine ends on time between refreshes; a quarantine
 * made on another replica is seen here within one refresh interval.
 */
import type { Clock } from '../clock.js';
import { StintError } from '../errors.js';
import type { Quarantine, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';

/** Default refresh interval of the view, in milliseconds. */
export const QUARANTINE_REFRESH_MS = 1000;

/** What the view needs. */
export interface QuarantineViewDeps {
  readonly store: Pick<Store, 'listQuarantines'>;
  readonly clock: Clock;
  /** Refresh interval in ms (default 1 s); 0: no timer (tests call refresh()). */
  readonly refreshMs?: number;
  readonly logger?: Logger;
}

/** The quarantines in force, as this replica last read them from the store. */
export class QuarantineView {
  readonly #deps: QuarantineViewDeps;
  #byIdentity = new Map<string, Quarantine>();
  #timer: NodeJS.Timeout | null = null;
  #refreshing: Promise<void> | null = null;
  #again = false;
  #failing = false;

  constructor(deps: QuarantineViewDeps) {
    this.#deps = deps;
  }

  /** Read the store once, then keep refreshing on the interval. */
  async start(): Promise<void> {
    await this.refresh();
    const every = this.#deps.refreshMs ?? QUARANTINE_REFRESH_MS;
    if (every > 0 && !this.#timer) {
      this.#timer = setInterval(() => void this.refresh(), every);
      this.#timer.unref();
    }
  }

  /**
   * Re-read the quarantines in force. Never throws: while the store cannot be read the last view
   * stays (a store outage fails exchanges anyway, at the grant write). A refresh asked for while
   * one runs runs again after it, so a change just written is never missed.
   */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = this.#load().finally(() => {
      this.#refreshing = null;
      if (this.#again) {
        this.#again = false;
        void this.refresh();
      }
    });
    return this.#refreshing;
  }

  /** The identity's quarantine in force now, or null. */
  get(identity: string): Quarantine | null {
    const q = this.#byIdentity.get(identity);
    if (!q) return null;
    return q.until === null || this.#deps.clock.now() < q.until ? q : null;
  }

  /** Throw ERR_IDENTITY_QUARANTINED when the identity is quarantined now. */
  check(identity: string): void {
    const q = this.get(identity);
    if (!q) return;
    const until = q.until === null ? 'until an operator lifts it (stint unrevoke)' : `until ${new Date(q.until).toISOString()}`;
    throw new StintError('ERR_IDENTITY_QUARANTINED', `identity is quarantined ${until}: no exchange or renewal`, { reason: 'identity_quarantined', quarantinedAt: new Date(q.at).toISOString(), ...(q.until !== null ? { until: new Date(q.until).toISOString() } : {}) });
  }

  /** Record a change made through this replica at once (the store holds it already), then re-read. */
  apply(identity: string, quarantine: Quarantine | null): void {
    if (quarantine) this.#byIdentity.set(identity, quarantine);
    else this.#byIdentity.delete(identity);
    void this.refresh();
  }

  /** Stop the refresh timer. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #load(): Promise<void> {
    try {
      const list = await this.#deps.store.listQuarantines(this.#deps.clock.now());
      this.#byIdentity = new Map(list.map((q) => [q.identity, q]));
      if (this.#failing) this.#deps.logger?.info({}, 'quarantine view refreshed again');
      this.#failing = false;
    } catch (e) {
      if (!this.#failing) this.#deps.logger?.warn({ err: String((e as Error)?.message ?? e) }, 'quarantine view not refreshed; keeping the last one');
      this.#failing = true;
    }
  }
}
