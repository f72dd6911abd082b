/**
 * Clock skew between replicas. Replicas on one PostgreSQL store each read their own clock, so a
 * replica whose clock runs ahead would expire and reap grants another replica issued before they
 * end. The database server's clock is the one reference they share: each replica measures its
 * clock against it (at start, then every CHECK_EVERY_SECONDS), exports the difference as the
 * gauge `stint_clock_skew_seconds`, logs a warning while it exceeds CLOCK_SKEW_WARN_SECONDS, and
 * the reaper holds back by as much as the replica is ahead (aheadSeconds), so no grant is expired,
 * reaped or reconciled away before its expiry by the database's clock. A replica that is behind
 * needs no correction: it can only act late. SQLite has no such reference (one host, one clock):
 * nothing is measured there. docs/operations.md "Clock skew between replicas".
 */
import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import { toStintError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';

/** Beyond this many seconds between a replica's clock and the database's, the replica warns. */
export const CLOCK_SKEW_WARN_SECONDS = 30;
/** How often the skew is measured again, by the replica's clock. */
export const CHECK_EVERY_SECONDS = 60;
/** Name of the gauge: this replica's clock minus the database's, in seconds. */
export const CLOCK_SKEW_METRIC = 'stint_clock_skew_seconds';

/** Measures a replica's clock against the store database's clock. */
export class ClockSkew {
  /** Created at the first measurement: a store without a clock (SQLite) exports no skew. */
  #gauge: Gauge | null = null;
  /** Seconds this replica's clock is ahead of the database's (negative: behind); null before the first measurement. */
  #skew: number | null = null;
  #checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly deps: {
      store: Pick<Store, 'databaseTime'>;
      clock: Clock;
      logger: Logger;
      /** The registry of the replica's metrics (StintMetrics.registry). */
      registry: Registry;
      warnAboveSeconds?: number;
      checkEverySeconds?: number;
    },
  ) {}

  /** True when the store has a clock to measure against. */
  get measurable(): boolean {
    return typeof this.deps.store.databaseTime === 'function';
  }

  /** The last measured skew in seconds (positive: this replica is ahead), or null when never measured. */
  skewSeconds(): number | null {
    return this.#skew;
  }

  /** How many seconds this replica must hold back so as never to act before the database's clock says (0 when behind or unknown). */
  aheadSeconds(): number {
    return this.#skew === null ? 0 : Math.max(0, Math.ceil(this.#skew));
  }

  /** A warning for health output while the skew exceeds the threshold, else null. */
  warning(): string | null {
    const skew = this.#skew;
    if (skew === null || Math.abs(skew) <= this.threshold()) return null;
    return `clock ${skew > 0 ? 'ahead of' : 'behind'} the database by ${Math.abs(Math.round(skew))} s (more than ${this.threshold()} s)`;
  }

  /** Measure now: set the gauge, warn when beyond the threshold. A store error keeps the last measurement. */
  async check(): Promise<number | null> {
    const databaseTime = this.deps.store.databaseTime;
    if (!databaseTime) return null;
    const before = this.deps.clock.now();
    this.#checkedAt = before / 1000;
    let db: number;
    try {
      db = await databaseTime.call(this.deps.store);
    } catch (err) {
      this.deps.logger.debug({ error: toStintError(err).code }, 'clock skew not measured');
      return this.#skew;
    }
    const after = this.deps.clock.now();
    if (!Number.isFinite(db)) return this.#skew;
    // The database read its clock somewhere within the round trip: compare with its middle.
    const skew = ((before + after) / 2 - db) / 1000;
    this.#skew = skew;
    this.gauge().set(Math.round(skew * 1000) / 1000);
    const warning = this.warning();
    if (warning) this.deps.logger.warn({ skewSeconds: Math.round(skew), thresholdSeconds: this.threshold() }, `replica ${warning}: expiry and token times disagree between replicas; fix the host's time sync (NTP)`);
    return skew;
  }

  /** Measure again when CHECK_EVERY_SECONDS have passed since the last measurement. */
  async refresh(): Promise<void> {
    if (!this.measurable) return;
    // Either way: a clock set back (by an operator, or NTP stepping it) is measured again too.
    if (Math.abs(this.deps.clock.now() / 1000 - this.#checkedAt) >= (this.deps.checkEverySeconds ?? CHECK_EVERY_SECONDS)) await this.check();
  }

  private gauge(): Gauge {
    if (!this.#gauge) {
      const existing = this.deps.registry.getSingleMetric(CLOCK_SKEW_METRIC);
      this.#gauge =
        existing instanceof Gauge
          ? existing
          : new Gauge({ name: CLOCK_SKEW_METRIC, help: "This replica's clock minus the store database's clock, in seconds (PostgreSQL stores only).", registers: [this.deps.registry] });
    }
    return this.#gauge;
  }

  private threshold(): number {
    return this.deps.warnAboveSeconds ?? CLOCK_SKEW_WARN_SECONDS;
  }
}
