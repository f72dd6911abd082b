/**
 * The reaper: nothing is left standing. On every run it marks grants past expiry as expired,
 * cleans up upstream what expired or revoked grants left behind (retrying failures with capped
 * exponential backoff and jitter, never giving up), and on its own interval reconciles each
 * provider's upstream objects against live grants. State lives in the store, so a restart
 * resumes exactly where the last run stopped. Every cleanup writes an audit event and a metric.
 *
 * Replicas sharing a store each run a reaper: expiry is one atomic state transition per grant, and
 * due cleanups are claimed (Store.claimCleanups) for a lease before they run, so two reapers never
 * clean up the same grant at once; a claimer that dies leaves its claims to the next after the lease.
 * With `clockSkew` (a PostgreSQL store) the reaper's time is held back by as much as this replica's
 * clock runs ahead of the database's, so a replica with a fast clock never expires, reaps or
 * reconciles away a grant another replica issued before it ends (clock_skew.ts).
 */
import type { Auditor } from '../audit/auditor.js';
import { grantCleanupEvent } from '../audit/events.js';
import type { Clock } from '../clock.js';
import type { RevokeCause } from '../credentials/provider.js';
import type { ProviderRegistry } from '../credentials/registry.js';
import { toStintError } from '../errors.js';
import { grantRef } from '../grants/grant_ref.js';
import type { Grant, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { StintMetrics } from '../telemetry/metrics.js';
import type { ClockSkew } from './clock_skew.js';

/** Reaper settings (configuration `reaper`), in seconds. */
export interface ReaperSettings {
  readonly initialBackoff: number;
  readonly maxBackoff: number;
  readonly stuckAfterAttempts: number;
  readonly reconcileInterval: number;
}

/** The reaper's view of the provider registry (the one interface: credentials/registry.ts ProviderRegistry). */
export type ReaperProviders = Pick<ProviderRegistry, 'get' | 'has' | 'all'>;

/** The result of one cleanup attempt. */
export interface CleanupResult {
  readonly ok: boolean;
  /** Whether the upstream credential stopped working (false: valid until expiry). */
  readonly effective: boolean;
  readonly note?: string;
  readonly error?: string;
}

/** Grants claimed at a time, and most cleaned up in one run (the rest wait for the next run). */
const BATCH = 50;
const MAX_PER_RUN = 2000;
/** How long a claim keeps other reapers off a grant: longer than a batch of slow upstream calls takes. */
export const CLAIM_LEASE_SECONDS = 600;


/** Expiry, reaping, retried revocation and reconciliation. */
export class Reaper {
  private running: Promise<void> | null = null;
  private lastReconcile = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly deps: {
      store: Store;
      providers: ReaperProviders;
      auditor: Auditor;
      metrics: StintMetrics;
      clock: Clock;
      logger: Logger;
      settings: ReaperSettings;
      random?: () => number;
      /** This replica's clock against the database's; measured again at the start of each pass. */
      clockSkew?: ClockSkew;
    },
  ) {
    // Known label sets exist from the start: error and latency panels read 0 rather than "no data".
    for (const provider of deps.providers.all()) {
      for (const result of ['ok', 'error'] as const) deps.metrics.revocations.inc({ provider: provider.kind, result }, 0);
      if (provider.reconcile) {
        deps.metrics.reconcileErrors.inc({ provider: provider.kind }, 0);
        deps.metrics.reconcileRemoved.inc({ provider: provider.kind }, 0);
      }
    }
  }

  /** One pass: expire, clean up what is due, reconcile when its interval has passed. Never overlaps itself. */
  run(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Revoke or reap one grant upstream now and record the outcome (used inline by Admin revoke). */
  async cleanup(grant: Grant, actor: string, cause: RevokeCause = 'operator'): Promise<CleanupResult> {
    const { deps } = this;
    const now = this.now();
    const started = process.hrtime.bigint();
    const reaping = grant.state === 'expired';
    const provider = deps.providers.has(grant.kind) ? deps.providers.get(grant.kind) : null;
    let result: CleanupResult;
    try {
      if (!provider) throw Object.assign(new Error('provider not configured'), { code: 'ERR_CONFIG_INVALID' });
      if (reaping && !provider.reapOnExpiry) {
        result = { ok: true, effective: true };
      } else {
        const r = reaping && provider.reap ? await provider.reap(grantRef(grant)) : await provider.revoke(grantRef(grant), cause);
        result = { ok: true, effective: r.effective, note: r.note };
      }
    } catch (err) {
      const code = err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('ERR_') ? err.code : toStintError(err).code;
      result = { ok: false, effective: false, error: code };
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const attempt = grant.cleanupAttempts + 1;
    if (result.ok) {
      await deps.store.recordCleanup(grant.id, { ok: true, at: now });
    } else {
      const nextAt = now + this.backoff(grant.cleanupAttempts);
      await deps.store.recordCleanup(grant.id, { ok: false, at: now, error: result.error!, nextAt });
      if (attempt >= deps.settings.stuckAfterAttempts) {
        deps.logger.warn({ grantId: grant.id, kind: grant.kind, attempts: attempt, error: result.error }, 'grant cleanup is stuck');
      }
    }
    const resultLabel = result.ok ? 'ok' : 'error';
    if (reaping) {
      deps.metrics.reaps.inc({ provider: grant.kind, result: provider?.reapOnExpiry === false && result.ok ? 'noop' : resultLabel });
    } else {
      deps.metrics.revocations.inc({ provider: grant.kind, result: resultLabel });
      deps.metrics.revocationDuration.observe({ provider: grant.kind }, seconds);
      // Command to enforced: from the revoke (store first) to this successful upstream revocation, retries included.
      if (result.ok && grant.revokedAt !== null) deps.metrics.revocationLatency.observe({ provider: grant.kind }, Math.max(0, now - grant.revokedAt) + seconds);
    }
    // Reaping a credential that leaves nothing upstream is a state change, not an event worth a row.
    if (!(reaping && result.ok && provider?.reapOnExpiry === false)) {
      await deps.auditor.record(grantCleanupEvent({ grant, actor, reaping, attempt, result, seconds }));
    }
    return result;
  }

  private async pass(): Promise<void> {
    const { deps } = this;
    await deps.clockSkew?.refresh();
    const now = this.now();
    await deps.store.expireGrants(now);
    let done = 0;
    while (done < MAX_PER_RUN) {
      const due = await deps.store.claimCleanups(this.now(), BATCH, CLAIM_LEASE_SECONDS);
      if (due.length === 0) break;
      for (const grant of due) await this.cleanup(grant, 'reaper');
      done += due.length;
      if (due.length < BATCH) break;
    }
    deps.metrics.stuckGrants.set(await deps.store.countStuckGrants(deps.settings.stuckAfterAttempts));
    if (now - this.lastReconcile >= deps.settings.reconcileInterval) {
      this.lastReconcile = now;
      await this.reconcile(now);
    }
  }

  /** Ask every provider that can list upstream objects to remove those no live grant accounts for. */
  private async reconcile(now: number): Promise<void> {
    const { deps } = this;
    const isLive = async (grantId: string): Promise<boolean> => {
      const g = await deps.store.getGrant(grantId);
      if (!g) return false;
      return (g.state === 'active' && g.expiresAt > this.now()) || g.cleanup === 'pending';
    };
    for (const provider of deps.providers.all()) {
      if (!provider.reconcile) continue;
      try {
        const report = await provider.reconcile(isLive, now, async () => new Set(await deps.store.liveRevocationHandles(provider.kind, this.now())));
        deps.metrics.reconcileRemoved.inc({ provider: provider.kind }, report.removed.length);
        if (report.removed.length > 0 || report.failed.length > 0) {
          await deps.auditor.record({
            type: 'reconcile.removed',
            requestId: null,
            identity: null,
            rule: null,
            outcome: report.failed.length > 0 ? 'error' : 'info',
            reason: 'no live grant',
            grantIds: [],
            data: { kind: provider.kind, found: report.found, removed: report.removed, failed: report.failed },
          });
        }
      } catch (err) {
        const code = toStintError(err).code;
        deps.metrics.reconcileErrors.inc({ provider: provider.kind });
        deps.logger.warn({ kind: provider.kind, error: code }, 'reconciliation failed');
      }
    }
  }

  /** Capped exponential backoff with ±20 % jitter, in seconds. */
  private backoff(failedSoFar: number): number {
    const { initialBackoff, maxBackoff } = this.deps.settings;
    const base = Math.min(maxBackoff, initialBackoff * 2 ** Math.min(failedSoFar, 30));
    const jitter = 0.8 + 0.4 * (this.deps.random ?? Math.random)();
    return Math.max(1, Math.round(base * jitter));
  }

  /** The reaper's time, epoch seconds: this replica's clock, held back by as much as it runs ahead of the database's. */
  private now(): number {
    return Math.floor(this.deps.clock.now() / 1000) - (this.deps.clockSkew?.aheadSeconds() ?? 0);
  }
}
