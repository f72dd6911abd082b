/**
 * Holds the enforced policy snapshot (and the shadow candidate beside it); a reload swaps both
 * atomically and each request reads the snapshot once. PolicyReloader reloads on file change and
 * on SIGHUP: an invalid file keeps the last good policy serving, and is logged, audited, counted
 * and shown as stale by /readyz.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Auditor } from '../audit/auditor.js';
import type { Clock } from '../clock.js';
import type { PolicyEngine } from '../policy/decision.js';
import type { Logger } from '../telemetry/logger.js';
import type { StintMetrics } from '../telemetry/metrics.js';
import type { PolicySnapshot, PolicySource } from './contracts.js';

/** What the Admin API shows of the loaded policy. */
export interface PolicyInfo {
  readonly digest: string;
  readonly rules: readonly string[];
  readonly source: string;
  readonly loadedAt: number;
  /** Digest of the shadow candidate, when one is evaluated. */
  readonly shadowDigest?: string;
}

/** Why the policy on disk is not the one serving. */
export interface PolicyStaleness {
  /** Epoch ms of the failed reload. */
  readonly since: number;
  readonly error: string;
}

interface Snapshot extends PolicySnapshot {
  readonly info: PolicyInfo;
}

/** The current policy and its source. */
export class PolicyHolder implements PolicySource {
  #snapshot: Snapshot;
  #stale: PolicyStaleness | null = null;

  constructor(engine: PolicyEngine, source: string, loadedAt: number, shadow?: PolicyEngine) {
    this.#snapshot = PolicyHolder.#make(engine, source, loadedAt, shadow);
  }

  static #make(engine: PolicyEngine, source: string, loadedAt: number, shadow: PolicyEngine | undefined): Snapshot {
    const info: PolicyInfo = { digest: engine.digest, rules: engine.ruleNames, source, loadedAt, ...(shadow ? { shadowDigest: shadow.digest } : {}) };
    return Object.freeze({ enforced: engine, ...(shadow ? { shadow } : {}), info });
  }

  /** The enforced policy. */
  current(): PolicyEngine {
    return this.#snapshot.enforced;
  }

  /** The enforced policy and the shadow candidate, from one load. */
  snapshot(): PolicySnapshot {
    return this.#snapshot;
  }

  /** Replace both policies at once (atomic for readers); clears staleness. */
  replace(engine: PolicyEngine, source: string, loadedAt: number, shadow?: PolicyEngine): void {
    this.#snapshot = PolicyHolder.#make(engine, source, loadedAt, shadow);
    this.#stale = null;
  }

  /** Digest, rule names, source and load time. */
  info(): PolicyInfo {
    return this.#snapshot.info;
  }

  /** Record that the file on disk failed to load (the current snapshot keeps serving). */
  markStale(staleness: PolicyStaleness | null): void {
    this.#stale = staleness;
  }

  /** Set while the last reload failed. */
  staleness(): PolicyStaleness | null {
    return this.#stale;
  }
}

/** A freshly loaded policy pair. */
export interface LoadedPolicy {
  readonly enforced: PolicyEngine;
  readonly shadow?: PolicyEngine;
  readonly source: string;
  /** Files the policy came from (for the audit event). */
  readonly files: readonly string[];
}

/** Dependencies of the reloader. */
export interface PolicyReloaderDeps {
  readonly holder: PolicyHolder;
  /** Read, compile and check the policy files; throws (ConfigError) when they are invalid. */
  readonly load: () => LoadedPolicy;
  readonly files: readonly string[];
  readonly auditor: Auditor;
  readonly metrics: StintMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Watch the files' folders for changes (default true). */
  readonly watch: boolean;
  /** Quiet time after the last change event before reloading, in ms (default 150). */
  readonly debounceMs?: number;
}

/** The result of one reload. */
export type ReloadResult = { readonly result: 'ok' | 'unchanged' } | { readonly result: 'error'; readonly error: string };

/** Reloads the policy on file change and SIGHUP, one reload at a time. */
export class PolicyReloader {
  readonly #deps: PolicyReloaderDeps;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #onSighup = (): void => void this.reload('sighup');

  constructor(deps: PolicyReloaderDeps) {
    this.#deps = deps;
    // Every result exists from the start, so the first reload shows up in increase() and the stale gauge reads 0.
    for (const result of ['ok', 'error', 'unchanged'] as const) deps.metrics.policyReloads.inc({ result }, 0);
  }

  /** Start watching (when configured) and listening for SIGHUP. */
  start(): void {
    process.on('SIGHUP', this.#onSighup);
    if (!this.#deps.watch) return;
    const names = new Map<string, Set<string>>();
    for (const f of this.#deps.files) {
      const dir = dirname(resolve(f));
      const set = names.get(dir) ?? new Set<string>();
      set.add(basename(f));
      names.set(dir, set);
    }
    for (const [dir, files] of names) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          // Kubernetes ConfigMaps swap a `..data` symlink: any change in the folder may be ours.
          if (name === null || files.has(String(name)) || String(name).startsWith('..')) this.#schedule();
        });
        w.on('error', (e) => this.#deps.logger.warn({ err: String(e), dir }, 'policy watch failed'));
        this.#watchers.push(w);
      } catch (e) {
        this.#deps.logger.warn({ err: String(e), dir }, 'cannot watch the policy folder; reload with SIGHUP');
      }
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.reload('watch');
    }, this.#deps.debounceMs ?? 150);
    this.#timer.unref();
  }

  /** Reload now; resolves once this reload (after any running one) is done. */
  reload(trigger: 'watch' | 'sighup' | 'admin' = 'admin'): Promise<ReloadResult> {
    const next = this.#chain.then(() => this.#reloadOnce(trigger));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #reloadOnce(trigger: string): Promise<ReloadResult> {
    const { holder, metrics, logger, auditor, clock } = this.#deps;
    if (this.#closed) return { result: 'unchanged' };
    let loaded: LoadedPolicy;
    try {
      loaded = this.#deps.load();
    } catch (e) {
      const error = (e as Error).message ?? String(e);
      const details = (e as { details?: unknown }).details;
      holder.markStale({ since: clock.now(), error });
      metrics.policyReloads.inc({ result: 'error' });
      metrics.policyStale.set(1);
      logger.error({ trigger, err: error, serving: holder.info().digest }, 'policy reload failed; the last good policy keeps serving');
      await auditor
        .record({ type: 'policy.reload_failed', requestId: null, identity: null, rule: null, outcome: 'error', reason: 'ERR_POLICY_INVALID', grantIds: [], data: { trigger, error, details: details ?? null, files: this.#deps.files, serving: holder.info().digest } })
        .catch(() => undefined);
      return { result: 'error', error };
    }
    const current = holder.snapshot();
    if (loaded.enforced.digest === current.enforced.digest && loaded.shadow?.digest === current.shadow?.digest) {
      if (holder.staleness()) {
        holder.markStale(null);
        metrics.policyStale.set(0);
      }
      metrics.policyReloads.inc({ result: 'unchanged' });
      return { result: 'unchanged' };
    }
    holder.replace(loaded.enforced, loaded.source, clock.now(), loaded.shadow);
    metrics.policyReloads.inc({ result: 'ok' });
    metrics.policyStale.set(0);
    logger.info({ trigger, digest: loaded.enforced.digest, shadow: loaded.shadow?.digest ?? null, rules: loaded.enforced.ruleNames.length }, 'policy reloaded');
    await auditor
      .record({ type: 'policy.loaded', requestId: null, identity: null, rule: null, outcome: 'info', reason: null, grantIds: [], data: { trigger, digest: loaded.enforced.digest, shadowDigest: loaded.shadow?.digest ?? null, rules: loaded.enforced.ruleNames.length, files: loaded.files } })
      .catch(() => undefined);
    return { result: 'ok' };
  }

  /** Stop watching and listening; waits for a running reload. */
  async close(): Promise<void> {
    this.#closed = true;
    process.off('SIGHUP', this.#onSighup);
    if (this.#timer) clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    await this.#chain;
  }
}
