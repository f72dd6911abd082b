/**
 * The service's periodic work and background watchers: key rotation, the reaper and the gauges
 * on one interval; the quarantine view's refresh; the policy reloader (file watch and SIGHUP).
 * Each one, once started, is on the disposal stack, so a failed start or a stop ends it.
 */
import type { Keyring } from '../keys/keyring.js';
import type { Reaper } from '../lifecycle/reaper.js';
import type { PolicyReloader } from '../pipeline/policy_source.js';
import type { QuarantineView } from '../pipeline/quarantine.js';
import type { Store } from '../store/store.js';
import type { ServiceContext } from './context.js';
import type { Disposer } from './disposer.js';

/** The active-grant and signing-key gauges: counted from the store, bumped on each issue in between. */
export class ServiceGauges {
  readonly #ctx: ServiceContext;
  readonly #store: Store;
  readonly #keyring: Keyring;
  #activeGrants = 0;

  constructor(ctx: ServiceContext, store: Store, keyring: Keyring) {
    this.#ctx = ctx;
    this.#store = store;
    this.#keyring = keyring;
  }

  /** Count the active grants in the store. */
  async countGrants(): Promise<void> {
    this.#activeGrants = await this.#store.countActiveGrants(Math.floor(this.#ctx.clock.now() / 1000));
    this.#ctx.metrics.activeGrants.set(this.#activeGrants);
  }

  /** `count` grants were just issued here. */
  issued(count: number): void {
    this.#activeGrants += count;
    this.#ctx.metrics.activeGrants.set(this.#activeGrants);
  }

  /** Re-read every gauge from the store and the keyring. */
  async refresh(): Promise<void> {
    const { metrics } = this.#ctx;
    await this.countGrants();
    const keys = await this.#store.listKeys();
    for (const state of ['next', 'current', 'retired'] as const) metrics.signingKeys.set({ state }, keys.filter((k) => k.state === state).length);
    const due = this.#keyring.rotationDueAt();
    if (due !== null) metrics.signingKeyRotation.set(due);
  }
}

/** One round of periodic work: key transitions, then the reaper, then the gauges. */
export function periodicWork(deps: { readonly keyring: Keyring; readonly reaper: Reaper; readonly gauges: ServiceGauges }): () => Promise<void> {
  return async () => {
    await deps.keyring.tick();
    await deps.reaper.run();
    await deps.gauges.refresh();
  };
}

/**
 * Run `tick` every `intervalMs` (default: the reaper interval, at most 15 s); 0 runs no timer
 * (tests call tick()). A failed round is logged and the next one runs as usual.
 */
export function startPeriodicWork(ctx: ServiceContext, tick: () => Promise<void>, intervalMs: number | undefined, disposer: Disposer): void {
  const interval = intervalMs ?? Math.min(15, ctx.config.reaper.interval) * 1000;
  if (interval <= 0) return;
  const timer = setInterval(() => void tick().catch((e) => ctx.logger.error({ err: String(e) }, 'periodic work failed')), interval);
  timer.unref();
  disposer.defer('periodic work', () => clearInterval(timer));
}

/** Read the quarantines in force now, then keep refreshing them from the store. */
export async function startQuarantineRefresh(quarantines: QuarantineView, disposer: Disposer): Promise<void> {
  disposer.defer('quarantine refresh', () => quarantines.close());
  await quarantines.start();
}

/** Start reloading the policy on file change and SIGHUP. */
export function startPolicyReload(reloader: PolicyReloader, disposer: Disposer): void {
  disposer.defer('policy reload', () => reloader.close());
  reloader.start();
}
