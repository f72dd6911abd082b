/**
 * Wires one Stint service instance: store, keyring, policy, attestors, providers, the pipeline
 * and its transports. `startStint` is what `stint serve` runs and what end-to-end tests start.
 * The parts live in src/service/; this file only composes them over one disposal stack, which a
 * failed start and `close()` both unwind (newest part first).
 */
import { systemClock, type Clock } from './clock.js';
import type { StintConfig } from './config/schema.js';
import type { Keyring } from './keys/keyring.js';
import type { Store } from './store/store.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { StintMetrics } from './telemetry/metrics.js';
import type { ServiceContext } from './service/context.js';
import { openCore } from './service/core.js';
import { Disposer } from './service/disposer.js';
import { createHandlers } from './service/handlers.js';
import { readStartupInputs, type StartupInputs } from './service/inputs.js';
import { periodicWork, ServiceGauges, startPeriodicWork, startPolicyReload, startQuarantineRefresh } from './service/jobs.js';
import { openListeners } from './service/listeners.js';
import { checkPolicyAgainstProviders, recordPolicyLoaded } from './service/policy.js';
import { serviceReadiness } from './service/readiness.js';

/** What `RunningStint.close()` rejects with when a part failed to close (after closing every other part). */
export { DisposalError } from './service/disposer.js';

/** A running service. */
export interface RunningStint {
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly adminPort: number;
  /** The admission webhook's HTTPS port, when `webhook:` is configured. */
  readonly webhookPort: number | null;
  readonly issuer: string;
  readonly store: Store;
  readonly keyring: Keyring;
  readonly metrics: StintMetrics;
  /** Run the periodic work now (key rotation, grant expiry, gauges). */
  tick(): Promise<void>;
  /** Stop listeners and timers, close the store; rejects with DisposalError (after closing the rest) when a part failed to close. */
  close(): Promise<void>;
}

/** Options beyond the config file. */
export interface StartOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Interval of periodic work in ms (default 15 s); 0 disables the timer (tests call tick()). */
  readonly tickIntervalMs?: number;
}

/**
 * Start a Stint service from a validated configuration. Files are read before anything opens; a
 * part that fails to open (a listener's port taken, the store unreachable) closes every part
 * opened before it, and the start rejects with that part's error.
 */
export async function startStint(config: StintConfig, options: StartOptions = {}): Promise<RunningStint> {
  const logger = options.logger ?? createLogger(config.log.level);
  const ctx: ServiceContext = { config, clock: options.clock ?? systemClock, logger, metrics: new StintMetrics(), audience: config.audience ?? config.issuer };
  const inputs = readStartupInputs(config, ctx.clock);
  const disposer = new Disposer((part, error) => {
    if (error === undefined) logger.debug({ part }, 'closed');
    else logger.error({ part, err: String((error as Error)?.message ?? error) }, 'close failed');
  });
  try {
    return await compose(ctx, inputs, disposer, options.tickIntervalMs);
  } catch (e) {
    // The parts that failed to close are logged above; the start's own error is the one to report.
    await disposer.dispose().catch(() => undefined);
    throw e;
  }
}

/** Open the parts in order, each on `disposer`; the running service closes them all on `close()`. */
async function compose(ctx: ServiceContext, inputs: StartupInputs, disposer: Disposer, tickIntervalMs: number | undefined): Promise<RunningStint> {
  const { config, logger } = ctx;
  const core = await openCore(ctx, disposer);
  checkPolicyAgainstProviders(ctx, inputs, core.providers);
  const gauges = new ServiceGauges(ctx, core.store, core.keyring);
  await gauges.countGrants();
  const handlers = createHandlers(ctx, inputs, core, gauges);
  // Measured at start so a replica whose clock is off warns before it serves (PostgreSQL stores only).
  await handlers.clockSkew.check();
  await startQuarantineRefresh(handlers.quarantines, disposer);
  const readiness = serviceReadiness({ keyring: core.keyring, store: core.store, policy: inputs.policy });
  const ports = await openListeners(ctx, { inputs, core, handlers, readiness }, disposer);
  await gauges.refresh();
  const tick = periodicWork({ keyring: core.keyring, reaper: handlers.reaper, gauges });
  startPeriodicWork(ctx, tick, tickIntervalMs, disposer);
  await recordPolicyLoaded(ctx, inputs, core.auditor);
  startPolicyReload(handlers.reloader, disposer);
  logger.info({ http: ports.http, grpc: ports.grpc, admin: ports.admin, ...(ports.webhook !== null ? { webhook: ports.webhook } : {}), issuer: config.issuer }, 'stint listening');
  return {
    httpPort: ports.http,
    grpcPort: ports.grpc,
    adminPort: ports.admin,
    webhookPort: ports.webhook,
    issuer: config.issuer,
    store: core.store,
    keyring: core.keyring,
    metrics: ctx.metrics,
    tick,
    close: () => disposer.dispose(),
  };
}
