/**
 * Wires one Stint service instance: store, keyring, policy, attestors, providers, the pipeline
 * and its transports. `startStint` is what `stint serve` runs and what end-to-end tests start.
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import { createStoreNonces, nonceKindsOf } from './attestation/nonces.js';
import { createAttestorSet } from './attestation/registry.js';
import { Auditor } from './audit/auditor.js';
import { systemClock, type Clock } from './clock.js';
import { readTls } from './config/tls.js';
import { splitHostPort } from './net/host_port.js';
import { readSecretRef } from './config/fields.js';
import { ConfigError } from './errors.js';
import type { StintConfig } from './config/schema.js';
import { builtinProviders, createProviderRegistry } from './credentials/registry.js';
import { Keyring } from './keys/keyring.js';
import { AdminService } from './pipeline/admin.js';
import { Reaper } from './lifecycle/reaper.js';
import { ExchangePipeline } from './pipeline/exchange.js';
import { Introspector } from './pipeline/introspect.js';
import { WorkloadGrants } from './pipeline/workload_grants.js';
import { QuarantineView } from './pipeline/quarantine.js';
import { PolicyHolder, PolicyReloader } from './pipeline/policy_source.js';
import { loadPolicyFiles } from './policy/load.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { certificateExpirySeconds, instrumentStore, StintMetrics } from './telemetry/metrics.js';
import { Limits } from './limits/rate_limiter.js';
import { BreakGlassService } from './pipeline/break_glass.js';
import { BearerAuthenticator } from './transport/admin_auth.js';
import { createGrpcServers, listenGrpc, serverCredentials, type GrpcListener } from './transport/grpc/server.js';
import { createHttpServer } from './transport/http/server.js';
import { createNonceEndpoint } from './transport/http/nonce.js';
import { injectorSettings } from './webhook/settings.js';
import { createWebhookServer, type WebhookServer } from './webhook/server.js';

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
  /** Stop listeners and timers, close the store. */
  close(): Promise<void>;
}

/** Options beyond the config file. */
export interface StartOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Interval of periodic work in ms (default 15 s); 0 disables the timer (tests call tick()). */
  readonly tickIntervalMs?: number;
}

/** Every allow entry's provider `options` are checked when the policy loads, not at the first request. */
function validateProviderOptions(policy: { rules: readonly { name: string; allow: readonly { kind: string; options: Readonly<Record<string, unknown>> }[] }[] }, providers: { has(k: string): boolean; get(k: string): { validateOptions?(o: Readonly<Record<string, unknown>>, rule: string): void } }): void {
  for (const rule of policy.rules) {
    for (const entry of rule.allow) if (providers.has(entry.kind)) providers.get(entry.kind).validateOptions?.(entry.options, rule.name);
  }
}

/** Graceful gRPC shutdown: in-flight calls get 2 s, then the server is forced down. */
function shutdownGrpc(server: { tryShutdown(cb: () => void): void; forceShutdown(): void }): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The /readyz check of the policy: stale while the file on disk failed to load. */
function policyReadiness(policy: PolicyHolder): true | string {
  const stale = policy.staleness();
  if (stale) return `stale: the policy file failed to load at ${new Date(stale.since).toISOString()} (${stale.error.slice(0, 300)}); serving ${policy.info().digest.slice(0, 12)}`;
  return policy.current().ruleNames.length > 0 ? true : 'policy has no rules';
}

/** Start a Stint service from a validated configuration. */
export async function startStint(config: StintConfig, options: StartOptions = {}): Promise<RunningStint> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.log.level);
  const metrics = new StintMetrics();
  const audience = config.audience ?? config.issuer;

  // Read everything that can fail on bad input before opening anything.
  const policyFiles = { file: config.policy.file, ...(config.policy.shadowFile ? { shadowFile: config.policy.shadowFile } : {}), maxTtlSeconds: config.credentials.maxTtl };
  const loadedPolicy = loadPolicyFiles(policyFiles);
  const compiled = loadedPolicy.enforced;
  const policy = new PolicyHolder(compiled, loadedPolicy.source, clock.now(), loadedPolicy.shadow);
  const workloadTls = config.tls ? readTls(config.tls, 'tls') : undefined;
  const adminTls = config.admin.tls ? readTls(config.admin.tls, 'admin.tls') : undefined;
  if (config.admin.clientNames.length > 0 && !adminTls?.ca) {
    throw new ConfigError('ERR_CONFIG_INVALID', 'admin.clientNames', 'client certificate names need admin.tls.clientCaFile (mTLS on the admin listener)');
  }
  const webhookTls = config.webhook ? readTls(config.webhook.tls, 'webhook.tls') : undefined;
  const adminTokens = config.admin.tokens.map((t, i) => ({ name: t.name, secret: readSecretRef(t.secret, `admin.tokens[${i}].secret`) }));
  const introspectionClients = config.introspection.clients.map((c, i) => ({ name: c.name, secret: readSecretRef(c.secret, `introspection.clients[${i}].secret`) }));
  // A secret that is both would open the admin surface to a resource server (and be refused on /introspect).
  const shared = introspectionClients.findIndex((c) => adminTokens.some((t) => t.secret === c.secret));
  if (shared >= 0) throw new ConfigError('ERR_CONFIG_INVALID', `introspection.clients[${shared}].secret`, 'must differ from every admin token');
  // Attestors reach the Store (opened below) only while attesting, after start: replay state and nonces.
  const bindings = { bindAttestation: (input: Parameters<Store['bindAttestation']>[0]) => store.bindAttestation(input) };
  const nonces = createStoreNonces(bindings, clock);
  const attestors = createAttestorSet(config.attestors, {
    clock,
    audience,
    trustDomain: config.trustDomain,
    bindings,
    nonces,
    onJwksFetch: (name, outcome, seconds) => {
      metrics.jwksFetches.inc({ attestor: name, outcome });
      metrics.jwksFetchDuration.observe({ attestor: name }, seconds);
    },
  });

  let store: Store;
  try {
    store = instrumentStore(await openStore(config.store), metrics);
  } catch (e) {
    attestors.close();
    throw e;
  }
  const auditor = new Auditor(store, logger, clock, metrics);
  let keyring: Keyring;
  try {
    keyring = await Keyring.open({
      store,
      clock,
      algorithm: config.signing.algorithm,
      rotationPeriodSeconds: config.signing.rotationPeriod,
      prepublishSeconds: config.signing.prepublish,
      maxTokenTtlSeconds: config.credentials.maxTtl,
      onEvent: (type, kid) => {
        void auditor.record({ type, requestId: null, identity: null, rule: null, outcome: 'info', reason: null, grantIds: [], data: { kid } }).catch(() => undefined);
      },
    });
    await keyring.tick();
  } catch (e) {
    attestors.close();
    await store.close();
    throw e;
  }

  let providers;
  try {
    providers = createProviderRegistry(
      builtinProviders({
        issuer: config.issuer,
        keyring,
        clock,
        maxTtlSeconds: config.credentials.maxTtl,
        jwtTyp: config.credentials.jwtTyp,
        upstream: config.providers,
        onUpstreamCall: (provider, operation, outcome, seconds, code) => {
          metrics.upstreamDuration.observe({ provider, operation, outcome }, seconds);
          if (outcome === 'error') metrics.upstreamErrors.inc({ provider, code: code ?? 'unknown' });
        },
      }),
    );
  } catch (e) {
    await store.close();
    throw e;
  }
  const unserved = [...new Set([...compiled.credentialKinds, ...(loadedPolicy.shadow?.credentialKinds ?? [])])].filter((k) => !providers.has(k));
  if (unserved.length > 0) {
    await store.close();
    throw new ConfigError('ERR_POLICY_INVALID', 'rules', `credential kind ${unserved.join(', ')} has no provider (known: ${providers.kinds().join(', ')}) in ${config.policy.file}`);
  }
  for (const w of compiled.warnings) logger.warn({ policyWarning: w }, 'policy warning');
  try {
    validateProviderOptions(compiled, providers);
    if (loadedPolicy.shadow) validateProviderOptions(loadedPolicy.shadow, providers);
  } catch (e) {
    await store.close();
    throw e;
  }

  let activeGrants = await store.countActiveGrants(Math.floor(clock.now() / 1000));
  metrics.activeGrants.set(activeGrants);
  const limits = new Limits(config.limits, (scope, provider) => metrics.rateLimited.inc({ scope, provider: provider ?? 'none' }));
  const explainByAttestor = new Map(config.attestors.map((a) => [a.name ?? a.kind, a.explainDenials]));
  // Quarantined identities, read from the store every second (every replica) and at once on a change here.
  const quarantines = new QuarantineView({ store, clock, logger });
  await quarantines.start();
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
    maxTtlSeconds: config.credentials.maxTtl,
    subjectTokenCacheSize: config.subjectTokenCache.size,
    limits,
    quarantines,
    onIssued: (grants) => {
      activeGrants += grants.length;
      metrics.activeGrants.set(activeGrants);
    },
  });
  const refreshGauges = async (): Promise<void> => {
    const now = Math.floor(clock.now() / 1000);
    activeGrants = await store.countActiveGrants(now);
    metrics.activeGrants.set(activeGrants);
    const keys = await store.listKeys();
    for (const state of ['next', 'current', 'retired'] as const) metrics.signingKeys.set({ state }, keys.filter((k) => k.state === state).length);
    const due = keyring.rotationDueAt();
    if (due !== null) metrics.signingKeyRotation.set(due);
  };
  const reaper = new Reaper({ store, providers, auditor, metrics, clock, logger, settings: config.reaper });
  const admin = new AdminService({ store, auditor, reaper, clock, policy, quarantines, onRevoked: () => void refreshGauges().catch(() => undefined) });
  // Sealed emergency credentials, released only with two distinct admin approvals (breakGlass:).
  const breakGlass = config.breakGlass
    ? new BreakGlassService({ config: config.breakGlass, store, auditor, providers, clock, logger, metrics, trustDomain: config.trustDomain, maxTtlSeconds: config.credentials.maxTtl })
    : null;
  // Re-read when stale: with replicas on one store, keys another replica created are published here too.
  const publicJwks = async (): Promise<JSONWebKeySet> => (await keyring.freshJwks()) as unknown as JSONWebKeySet;
  const introspector = new Introspector({ issuer: config.issuer, jwks: publicJwks, store, clock });

  const connectionLimits = config.connections;
  const refusedOn = (listener: string) => (source: string): void => logger.warn({ listener, source, maxPerSource: connectionLimits.maxPerSource }, 'connection refused: too many from one source');
  const http: HttpServer = createHttpServer({
    issuer: config.issuer,
    attestationNonces: createNonceEndpoint(nonces, nonceKindsOf(config.attestors), clock),
    pipeline,
    introspector,
    introspectionAuth: new BearerAuthenticator(introspectionClients, 'an introspection credential'),
    adminAuth: new BearerAuthenticator(adminTokens),
    workloadGrants: new WorkloadGrants({ attest: (token) => pipeline.verifier.attest(token), store, admin, policy, providers, auditor, metrics, clock, maxTtlSeconds: config.credentials.maxTtl, limits, quarantines }),
    jwks: publicJwks,
    signingAlgorithms: () => [config.signing.algorithm],
    metrics: metrics.registry,
    readiness: async () => ({
      keys: keyring.ready() ? true : 'no signing key',
      store: (await store.countActiveGrants(0).then(() => true, () => false)) ? true : 'store unavailable',
      policy: policyReadiness(policy),
    }),
    logger,
  }, workloadTls, connectionLimits);
  const reloader = new PolicyReloader({
    holder: policy,
    load: () => {
      const next = loadPolicyFiles({ ...policyFiles, knownKinds: (k) => providers.has(k) });
      validateProviderOptions(next.enforced, providers);
      if (next.shadow) validateProviderOptions(next.shadow, providers);
      return next;
    },
    files: loadedPolicy.files,
    auditor,
    metrics,
    logger,
    clock,
    watch: config.policy.watch ?? true,
  });
  const grpcServers = createGrpcServers({ pipeline, admin, adminAuth: new BearerAuthenticator(adminTokens), adminClientNames: config.admin.clientNames, policy, reloadPolicy: () => reloader.reload('admin'), stuckAfterAttempts: config.reaper.stuckAfterAttempts, logger, connections: config.connections.grpc, breakGlass });

  const httpAddr = splitHostPort(config.listen.http);
  const listenError = (key: string, addr: string) => (e: unknown) => {
    const reason = (e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'address already in use' : String((e as Error).message ?? e);
    return new ConfigError('ERR_CONFIG_INVALID', key, `cannot listen on ${addr}: ${reason}`);
  };
  let httpPort: number, grpcPort: number, adminPort: number;
  let webhookPort: number | null = null;
  let webhook: WebhookServer | null = null;
  const grpcListeners: GrpcListener[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', (e) => reject(listenError('listen.http', config.listen.http)(e)));
      http.listen(httpAddr.port, httpAddr.host, () => resolve());
    });
    httpPort = (http.address() as AddressInfo).port;
    const workloadListener = await listenGrpc(grpcServers.workload, config.listen.grpc, serverCredentials(workloadTls), connectionLimits, refusedOn('grpc')).catch((e) => Promise.reject(listenError('listen.grpc', config.listen.grpc)(e)));
    grpcListeners.push(workloadListener);
    grpcPort = workloadListener.port;
    const adminListener = await listenGrpc(grpcServers.admin, config.listen.admin, serverCredentials(adminTls), connectionLimits, refusedOn('admin')).catch((e) => Promise.reject(listenError('listen.admin', config.listen.admin)(e)));
    grpcListeners.push(adminListener);
    adminPort = adminListener.port;
    if (config.webhook) {
      const webhookConfig = config.webhook;
      webhook = createWebhookServer({ settings: injectorSettings(webhookConfig.sidecar, audience), logger, tls: webhookConfig.tls, limits: connectionLimits, onCertificate: (cert) => metrics.webhookCertificateExpiry.set(certificateExpirySeconds(cert)), ...(webhookTls ? { initialTls: webhookTls } : {}) });
      const server = webhook.server;
      const addr = splitHostPort(webhookConfig.listen);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(listenError('webhook.listen', webhookConfig.listen)(e)));
        server.listen(addr.port, addr.host, () => resolve());
      });
      webhookPort = (server.address() as AddressInfo).port;
    }
  } catch (e) {
    http.close();
    await webhook?.close();
    grpcServers.workload.forceShutdown();
    grpcServers.admin.forceShutdown();
    await Promise.all(grpcListeners.map((l) => l.close()));
    quarantines.close();
    attestors.close();
    await store.close();
    throw e;
  }

  await refreshGauges();
  const tick = async (): Promise<void> => {
    await keyring.tick();
    await reaper.run();
    await refreshGauges();
  };
  const interval = options.tickIntervalMs ?? Math.min(15, config.reaper.interval) * 1000;
  const timer = interval > 0 ? setInterval(() => void tick().catch((e) => logger.error({ err: String(e) }, 'periodic work failed')), interval) : null;
  timer?.unref();

  await auditor.record({
    type: 'policy.loaded',
    requestId: null,
    identity: null,
    rule: null,
    outcome: 'info',
    reason: null,
    grantIds: [],
    data: { digest: policy.info().digest, shadowDigest: policy.info().shadowDigest ?? null, rules: policy.info().rules.length, file: config.policy.file, files: loadedPolicy.files },
  });
  reloader.start();
  logger.info({ http: httpPort, grpc: grpcPort, admin: adminPort, ...(webhookPort !== null ? { webhook: webhookPort } : {}), issuer: config.issuer }, 'stint listening');

  let closed = false;
  return {
    httpPort,
    grpcPort,
    adminPort,
    webhookPort,
    issuer: config.issuer,
    store,
    keyring,
    metrics,
    tick,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      quarantines.close();
      await reloader.close();
      await Promise.all([
        shutdownGrpc(grpcServers.workload),
        shutdownGrpc(grpcServers.admin),
        new Promise<void>((r) => {
          http.close(() => r());
          http.closeAllConnections();
        }),
        webhook?.close(),
      ]);
      await Promise.all(grpcListeners.map((l) => l.close()));
      attestors.close();
      for (const p of providers.all()) await p.close?.().catch(() => undefined);
      await store.close();
    },
  };
}
