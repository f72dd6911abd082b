/**
 * The request-handling parts a service builds over its core: the exchange pipeline, workload
 * grants, introspection, the Admin service, the reaper, break-glass, rate limits, the quarantine
 * view and the policy reloader. Building them opens nothing; the listeners and jobs start them.
 */
import type { JSONWebKeySet } from 'jose';
import { Reaper } from '../lifecycle/reaper.js';
import { ClockSkew } from '../lifecycle/clock_skew.js';
import { Limits } from '../limits/rate_limiter.js';
import { AdminService } from '../pipeline/admin.js';
import { BreakGlassService } from '../pipeline/break_glass.js';
import { ExchangePipeline } from '../pipeline/exchange.js';
import { Introspector } from '../pipeline/introspect.js';
import type { PolicyReloader } from '../pipeline/policy_source.js';
import { QuarantineView } from '../pipeline/quarantine.js';
import { WorkloadGrants } from '../pipeline/workload_grants.js';
import type { ServiceContext } from './context.js';
import type { ServiceCore } from './core.js';
import type { StartupInputs } from './inputs.js';
import type { ServiceGauges } from './jobs.js';
import { createPolicyReloader } from './policy.js';

/** The request-handling parts of one service. */
export interface ServiceHandlers {
  readonly pipeline: ExchangePipeline;
  readonly workloadGrants: WorkloadGrants;
  readonly introspector: Introspector;
  readonly admin: AdminService;
  readonly reaper: Reaper;
  /** This replica's clock against the store database's (PostgreSQL): a metric, a warning, the reaper's allowance. */
  readonly clockSkew: ClockSkew;
  /** Sealed emergency credentials (null when `breakGlass:` is not configured). */
  readonly breakGlass: BreakGlassService | null;
  /** Quarantined identities, refreshed from the store (started by jobs.ts). */
  readonly quarantines: QuarantineView;
  /** Reloads the policy files (started by jobs.ts once the service listens). */
  readonly reloader: PolicyReloader;
  /** The published signing keys, re-read when stale. */
  readonly publicJwks: () => Promise<JSONWebKeySet>;
}

/** Build the handlers over `core`; `gauges` hears of each issue and revocation. */
export function createHandlers(ctx: ServiceContext, inputs: StartupInputs, core: ServiceCore, gauges: ServiceGauges): ServiceHandlers {
  const { config, clock, logger, metrics } = ctx;
  const { attestors, store, auditor, keyring, providers } = core;
  const { policy } = inputs;
  const maxTtlSeconds = config.credentials.maxTtl;
  const limits = new Limits(config.limits, (scope, provider) => metrics.rateLimited.inc({ scope, provider: provider ?? 'none' }));
  const explainByAttestor = new Map(config.attestors.map((a) => [a.name ?? a.kind, a.explainDenials]));
  // Quarantined identities, read from the store every second (every replica) and at once on a change here.
  const quarantines = new QuarantineView({ store, clock, logger });
  const pipeline = new ExchangePipeline({
    verifier: {
      attest: (token) => attestors.attest(token),
      accepts: (type) => attestors.accepts(type),
      ready: () => attestors.ready(),
      close: () => attestors.close(),
      explainDenials: (identity) => explainByAttestor.get(identity.attestorName) ?? false,
    },
    policy,
    providers,
    auditor,
    metrics,
    clock,
    maxTtlSeconds,
    subjectTokenCacheSize: config.subjectTokenCache.size,
    limits,
    quarantines,
    onIssued: (grants) => gauges.issued(grants.length),
  });
  const clockSkew = new ClockSkew({ store, clock, logger, registry: metrics.registry });
  const reaper = new Reaper({ store, providers, auditor, metrics, clock, logger, settings: config.reaper, clockSkew });
  const admin = new AdminService({ store, auditor, reaper, clock, policy, quarantines, onRevoked: () => void gauges.refresh().catch(() => undefined) });
  // Sealed emergency credentials, released only with two distinct admin approvals (breakGlass:).
  const breakGlass = config.breakGlass
    ? new BreakGlassService({ config: config.breakGlass, store, auditor, providers, clock, logger, metrics, trustDomain: config.trustDomain, maxTtlSeconds })
    : null;
  // Re-read when stale: with replicas on one store, keys another replica created are published here too.
  const publicJwks = async (): Promise<JSONWebKeySet> => (await keyring.freshJwks()) as unknown as JSONWebKeySet;
  const introspector = new Introspector({ issuer: config.issuer, jwks: publicJwks, store, clock });
  const workloadGrants = new WorkloadGrants({ attest: (token) => pipeline.verifier.attest(token), store, admin, policy, providers, auditor, metrics, clock, maxTtlSeconds, limits, quarantines });
  const reloader = createPolicyReloader(ctx, inputs, providers, auditor);
  return { pipeline, workloadGrants, introspector, admin, reaper, clockSkew, breakGlass, quarantines, reloader, publicJwks };
}
