/**
 * The service's listeners: workload HTTP, workload gRPC, admin gRPC and, when configured, the
 * admission webhook. They open one after another, each pushing its close onto the disposal stack
 * as soon as it listens; a listener that cannot listen fails the start with a ConfigError naming
 * its key (`listen.admin: cannot listen on 127.0.0.1:8082: address already in use`). On a stop,
 * in-flight requests get a graceful drain on every listener at once before the sockets close.
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { nonceKindsOf } from '../attestation/nonces.js';
import { ConfigError } from '../errors.js';
import { splitHostPort } from '../net/host_port.js';
import { certificateExpirySeconds } from '../telemetry/metrics.js';
import { BearerAuthenticator } from '../transport/admin_auth.js';
import { createGrpcServers, listenGrpc, serverCredentials, type GrpcServers } from '../transport/grpc/server.js';
import { createNonceEndpoint } from '../transport/http/nonce.js';
import { createHttpServer } from '../transport/http/server.js';
import { injectorSettings } from '../webhook/settings.js';
import { createWebhookServer } from '../webhook/server.js';
import type { ServiceContext } from './context.js';
import type { ServiceCore } from './core.js';
import type { Disposer } from './disposer.js';
import type { ServiceHandlers } from './handlers.js';
import type { StartupInputs } from './inputs.js';
import type { ReadinessChecks } from './readiness.js';

/** The ports the service listens on (the configured ones, or those picked for port 0). */
export interface ListenerPorts {
  readonly http: number;
  readonly grpc: number;
  readonly admin: number;
  /** The admission webhook's HTTPS port, when `webhook:` is configured. */
  readonly webhook: number | null;
}

/** What the listeners serve. */
export interface ListenerDeps {
  readonly inputs: StartupInputs;
  readonly core: ServiceCore;
  readonly handlers: ServiceHandlers;
  readonly readiness: () => Promise<ReadinessChecks>;
}

/** How long in-flight gRPC calls get on a stop before the server is forced down. */
const GRPC_DRAIN_MS = 2000;

/** Open every listener in turn; each is on `disposer` as soon as it listens. */
export async function openListeners(ctx: ServiceContext, deps: ListenerDeps, disposer: Disposer): Promise<ListenerPorts> {
  const { config } = ctx;
  const http = createWorkloadHttp(ctx, deps);
  const grpcServers = createServers(ctx, deps);
  disposer.defer('gRPC servers', () => {
    grpcServers.workload.forceShutdown();
    grpcServers.admin.forceShutdown();
  });
  const refusedOn = (listener: string) => (source: string): void => ctx.logger.warn({ listener, source, maxPerSource: config.connections.maxPerSource }, 'connection refused: too many from one source');
  const listenOn = async (key: string, addr: string, server: GrpcServers['workload'], tls: StartupInputs['workloadTls'], listener: string): Promise<number> => {
    const opened = await listenGrpc(server, addr, serverCredentials(tls), config.connections, refusedOn(listener)).catch((e: unknown) => Promise.reject(listenError(key, addr, e)));
    disposer.defer(`${listener} listener`, () => opened.close());
    return opened.port;
  };

  const httpPort = await listenHttp(http, 'listen.http', config.listen.http);
  disposer.defer('http listener', () => closeHttp(http));
  const grpcPort = await listenOn('listen.grpc', config.listen.grpc, grpcServers.workload, deps.inputs.workloadTls, 'grpc');
  const adminPort = await listenOn('listen.admin', config.listen.admin, grpcServers.admin, deps.inputs.adminTls, 'admin');
  const webhook = await openWebhook(ctx, deps.inputs, disposer);
  // Pushed last, so a stop drains every listener together before the entries above close the sockets.
  disposer.defer('listener drain', async () => {
    await Promise.all([shutdownGrpc(grpcServers.workload), shutdownGrpc(grpcServers.admin), closeHttp(http), webhook?.close()]);
  });
  return { http: httpPort, grpc: grpcPort, admin: adminPort, webhook: webhook?.port ?? null };
}

/** The workload HTTP server (token exchange, introspection, grants, JWKS, health), not yet listening. */
function createWorkloadHttp(ctx: ServiceContext, deps: ListenerDeps): HttpServer {
  const { config, clock, logger, metrics } = ctx;
  const { core, handlers, inputs } = deps;
  return createHttpServer({
    issuer: config.issuer,
    attestationNonces: createNonceEndpoint(core.nonces, nonceKindsOf(config.attestors), clock),
    pipeline: handlers.pipeline,
    introspector: handlers.introspector,
    introspectionAuth: new BearerAuthenticator(inputs.introspectionClients, 'an introspection credential'),
    adminAuth: new BearerAuthenticator(inputs.adminTokens),
    workloadGrants: handlers.workloadGrants,
    jwks: handlers.publicJwks,
    signingAlgorithms: () => [config.signing.algorithm],
    metrics: metrics.registry,
    readiness: deps.readiness,
    logger,
  }, inputs.workloadTls, config.connections);
}

/** The workload and admin gRPC servers, not yet listening. */
function createServers(ctx: ServiceContext, deps: ListenerDeps): GrpcServers {
  const { config, logger } = ctx;
  const { handlers } = deps;
  return createGrpcServers({
    pipeline: handlers.pipeline,
    admin: handlers.admin,
    adminAuth: new BearerAuthenticator(deps.inputs.adminTokens),
    adminClientNames: config.admin.clientNames,
    policy: deps.inputs.policy,
    reloadPolicy: () => handlers.reloader.reload('admin'),
    stuckAfterAttempts: config.reaper.stuckAfterAttempts,
    logger,
    connections: config.connections.grpc,
    breakGlass: handlers.breakGlass,
  });
}

/** The admission webhook listening on `webhook.listen`, or null when not configured. */
async function openWebhook(ctx: ServiceContext, inputs: StartupInputs, disposer: Disposer): Promise<{ port: number; close(): Promise<void> } | null> {
  const { config, logger, metrics } = ctx;
  const webhookConfig = config.webhook;
  if (!webhookConfig) return null;
  const webhook = createWebhookServer({
    settings: injectorSettings(webhookConfig.sidecar, ctx.audience),
    logger,
    tls: webhookConfig.tls,
    limits: config.connections,
    onCertificate: (cert) => metrics.webhookCertificateExpiry.set(certificateExpirySeconds(cert)),
    ...(inputs.webhookTls ? { initialTls: inputs.webhookTls } : {}),
  });
  // Its certificate reload timer runs from creation: on the stack before it listens.
  disposer.defer('webhook listener', () => webhook.close());
  const port = await listenHttp(webhook.server, 'webhook.listen', webhookConfig.listen);
  return { port, close: () => webhook.close() };
}

/** Listen on host:port; the port actually bound, or a ConfigError naming `key`. */
function listenHttp(server: NetServer, key: string, addr: string): Promise<number> {
  const { host, port } = splitHostPort(addr);
  return new Promise<number>((resolve, reject) => {
    server.once('error', (e) => reject(listenError(key, addr, e)));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** The start failure of a listener: a ConfigError on its configuration key. */
function listenError(key: string, addr: string, e: unknown): ConfigError {
  const reason = (e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'address already in use' : String((e as Error).message ?? e);
  return new ConfigError('ERR_CONFIG_INVALID', key, `cannot listen on ${addr}: ${reason}`);
}

/** Close an HTTP(S) server and every connection it holds; resolves at once when it never listened. */
function closeHttp(server: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Graceful gRPC shutdown: in-flight calls get GRPC_DRAIN_MS, then the server is forced down. */
function shutdownGrpc(server: { tryShutdown(cb: () => void): void; forceShutdown(): void }): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, GRPC_DRAIN_MS);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
