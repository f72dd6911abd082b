/**
 * The gRPC transport: `stint.v1.TokenExchange` on the workload listener, `stint.v1.Admin` on the
 * admin listener, each with `grpc.health.v1.Health` and server reflection listing only the
 * services of that listener. Thin adapters over the
 * pipeline and the admin service.
 */
import type { BreakGlassService, BreakGlassStatus } from '../../pipeline/break_glass.js';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { AdminService, AuditEvent, AuditType, Grant, GrantState, Quarantine, QuarantineRequest, RevocationResult } from '../../pipeline/admin.js';
import type { ExchangePipeline } from '../../pipeline/exchange.js';
import type { PolicySource } from '../../pipeline/contracts.js';
import { StintError, toStintError } from '../../errors.js';
import type { BearerAuthenticator } from '../admin_auth.js';
import { toGrpcError } from '../errors.js';
import { loadStintProto, protoRoot } from '../../grpc/stint_proto.js';
import { logInternal } from '../../net/guard.js';
import { DEFAULT_GRPC_LIMITS, limitConnections, type GrpcConnectionLimits, type SocketLimits } from '../../net/connections.js';
import type { Logger } from '../../telemetry/logger.js';
import { grpcServerOptions } from './options.js';
import { decodeExchangeRequest, encodeExchangeResponse, type ExchangeRequestFields } from './exchange_codec.js';



type UnaryHandler = grpc.handleUnaryCall<Record<string, unknown>, unknown>;

/** Dependencies of the gRPC servers. */
export interface GrpcDeps {
  readonly pipeline: ExchangePipeline;
  readonly admin: AdminService;
  readonly adminAuth: BearerAuthenticator;
  /** Common names of client certificates accepted as admins on an mTLS admin listener. */
  readonly adminClientNames: readonly string[];
  /** Failed cleanup attempts after which a grant counts as stuck. */
  readonly stuckAfterAttempts: number;
  readonly policy: PolicySource & { info(): { digest: string; rules: readonly string[]; source: string; loadedAt: number; shadowDigest?: string } };
  /** Reload the policy files now (Admin ReloadPolicy). */
  readonly reloadPolicy?: () => Promise<{ result: string; error?: string }>;
  /** Break-glass requests (absent when `breakGlass:` is not configured). */
  readonly breakGlass?: BreakGlassService | null;
  /** Where unexpected handler failures are logged. */
  readonly logger?: Logger;
  /** Keepalive and connection idle/age limits of both servers. */
  readonly connections?: GrpcConnectionLimits;
}

export { DEFAULT_GRPC_LIMITS, type GrpcConnectionLimits } from '../../net/connections.js';

/** The two gRPC servers of the service, with their health services. */
export interface GrpcServers {
  readonly workload: grpc.Server;
  readonly admin: grpc.Server;
  readonly health: HealthImplementation[];
}

const iso = (s: number | null): string => (s ? new Date(s * 1000).toISOString() : '');

function grantMessage(g: Grant): unknown {
  return {
    id: g.id,
    identity: g.identity,
    attestor: g.attestor,
    issuer: g.issuer,
    rule: g.rule,
    kind: g.kind,
    audience: g.audience ?? '',
    target: g.target ?? '',
    issued_at: iso(g.issuedAt),
    expires_at: iso(g.expiresAt),
    state: g.state,
    revoked_at: iso(g.revokedAt),
    revoked_reason: g.revokedReason ?? '',
    credential_fingerprint: g.credentialFingerprint,
    cleanup: g.cleanup,
    cleanup_attempts: g.cleanupAttempts,
    cleanup_error: g.cleanupError ?? '',
    cleanup_next_at: iso(g.cleanupNextAt),
  };
}

function auditMessage(e: AuditEvent): unknown {
  return {
    id: e.id,
    time: new Date(e.time).toISOString(),
    type: e.type,
    request_id: e.requestId ?? '',
    identity: e.identity ?? '',
    rule: e.rule ?? '',
    outcome: e.outcome,
    reason: e.reason ?? '',
    grant_ids: e.grantIds,
    data_json: JSON.stringify(e.data),
  };
}

type Unary = <Req = Record<string, unknown>>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, unknown>) => Promise<unknown>) => grpc.handleUnaryCall<Req, unknown>;

/**
 * The guard of every gRPC handler: a throw or rejection goes through the single mapping (an
 * unexpected one is INTERNAL `ERR_INTERNAL`, logged without the request); should the mapping
 * itself fail, a bare INTERNAL with the code is sent. No call can end the process.
 */
function guardedUnary(logger: Logger | undefined, listener: string): Unary {
  return <Req>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, unknown>) => Promise<unknown>): grpc.handleUnaryCall<Req, unknown> => (call, callback) => {
    const fail = (err: unknown): void => {
      const error = toStintError(err);
      logInternal(logger, listener, error);
      let answer: Partial<grpc.ServiceError>;
      try {
        answer = toGrpcError(error);
      } catch {
        const metadata = new grpc.Metadata();
        metadata.set('stint-error-code', 'ERR_INTERNAL');
        answer = { code: grpc.status.INTERNAL, details: 'ERR_INTERNAL: internal error', metadata };
      }
      callback(answer as grpc.ServiceError);
    };
    try {
      fn(call.request, call).then((res) => callback(null, res), fail);
    } catch (err) {
      fail(err);
    }
  };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function quarantineMessage(q: Quarantine): unknown {
  return { identity: q.identity, reason: q.reason, actor: q.actor, at: new Date(q.at).toISOString(), until: q.until === null ? '' : new Date(q.until).toISOString() };
}

function revokeMessage(r: RevocationResult): unknown {
  return { grants: r.grants.map(grantMessage), notes: r.notes, ...(r.quarantine ? { quarantine: quarantineMessage(r.quarantine) } : {}) };
}

/** The quarantine a revoke request asks for: none, for quarantine_seconds, or (0) until lifted. */
function quarantineOf(req: Record<string, unknown>): QuarantineRequest | undefined {
  if (req.quarantine !== true) return undefined;
  const seconds = typeof req.quarantine_seconds === 'number' ? req.quarantine_seconds : 0;
  return { seconds: seconds > 0 ? seconds : null };
}

/**
 * TokenExchange with Exchange's own codec (exchange_codec.ts): the request arrives decoded into
 * the pipeline's fields, and the handler answers with the encoded ExchangeResponse (encoded in
 * the guarded handler, so that a failure there is mapped like any other).
 */
function exchangeService(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const exchange = service.Exchange!;
  return {
    ...service,
    Exchange: { ...exchange, requestDeserialize: decodeExchangeRequest, responseSerialize: (encoded: Buffer) => encoded },
  };
}

const REQUEST_ID = /^[\w.-]{1,64}$/;

/** The Exchange handler: the decoded request into the pipeline, its result encoded. */
function exchangeHandler(pipeline: ExchangePipeline, unary: Unary): grpc.handleUnaryCall<ExchangeRequestFields, unknown> {
  return unary<ExchangeRequestFields>((req, call) => {
    const requestId = call.metadata.get('x-request-id')[0];
    return pipeline
      .exchange({
        subjectToken: req.subjectToken,
        subjectTokenType: req.subjectTokenType,
        credentials: req.credentials,
        context: req.context,
        requestId: typeof requestId === 'string' && REQUEST_ID.test(requestId) ? requestId : undefined,
        transport: 'grpc',
        source: peerHost(call.getPeer()),
      })
      .then(encodeExchangeResponse);
  });
}

/** Create both gRPC servers (not yet bound). */
export function createGrpcServers(deps: GrpcDeps): GrpcServers {
  const definition = loadStintProto();
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    stint: { v1: { TokenExchange: grpc.ServiceClientConstructor; Admin: grpc.ServiceClientConstructor } };
  };
  // Reflection on each listener lists only what that listener serves (its Stint service and health).
  const reflected = protoLoader.loadSync(['stint/v1/stint.proto', healthProtoPath], { includeDirs: [protoRoot()], keepCase: true });
  const limits = deps.connections ?? DEFAULT_GRPC_LIMITS;
  const options = grpcServerOptions(limits);

  const unary = guardedUnary(deps.logger, 'grpc');
  const adminUnary = guardedUnary(deps.logger, 'admin');

  const workload = new grpc.Server(options);
  workload.addService(exchangeService(proto.stint.v1.TokenExchange.service), {
    Exchange: exchangeHandler(deps.pipeline, unary),
  });

  const admin = new grpc.Server(options);
  const authed = (
    fn: (req: Record<string, unknown>, actor: string) => Promise<unknown>,
  ): UnaryHandler =>
    adminUnary(async (req, call) => {
      // A verified client certificate (mTLS admin listener) whose CN is an admin name, or else a bearer token.
      const cn = call.getAuthContext?.()?.sslPeerCertificate?.subject?.CN;
      const certName = typeof cn === 'string' && deps.adminClientNames.includes(cn) ? `cert:${cn}` : null;
      const header = call.metadata.get('authorization')[0];
      const actor = certName ?? deps.adminAuth.authenticate(typeof header === 'string' ? header : undefined);
      return fn(req, actor);
    });
  admin.addService(proto.stint.v1.Admin.service, {
    RevokeGrant: authed(async (req, actor) => revokeMessage(await deps.admin.revokeGrant(str(req.grant_id), str(req.reason), actor, quarantineOf(req)))),
    RevokeIdentity: authed(async (req, actor) => revokeMessage(await deps.admin.revokeIdentity(str(req.identity), str(req.reason), actor, quarantineOf(req)))),
    LiftQuarantine: authed(async (req, actor) => {
      const r = await deps.admin.liftQuarantine(str(req.identity), str(req.reason), actor);
      return { lifted: r.lifted, ...(r.quarantine ? { quarantine: quarantineMessage(r.quarantine) } : {}) };
    }),
    ListQuarantines: authed(async () => ({ quarantines: (await deps.admin.listQuarantines()).map(quarantineMessage) })),
    ListGrants: authed(async (req) => {
      const state = str(req.state);
      if (state && !['active', 'revoked', 'expired', 'reaped'].includes(state)) {
        throw new StintError('ERR_INVALID_REQUEST', 'state must be active, revoked, expired or reaped', { field: 'state' });
      }
      const grants = await deps.admin.listGrants({
        identity: str(req.identity) || undefined,
        state: (state || undefined) as GrantState | undefined,
        limit: typeof req.limit === 'number' ? req.limit : undefined,
        stuckAfterAttempts: req.stuck === true ? deps.stuckAfterAttempts : undefined,
      });
      return { grants: grants.map(grantMessage) };
    }),
    QueryAudit: authed(async (req) => {
      const events = await deps.admin.queryAudit({
        since: deps.admin.since(str(req.since)),
        identity: str(req.identity) || undefined,
        type: (str(req.type) || undefined) as AuditType | undefined,
        grantId: str(req.grant_id) || undefined,
        limit: typeof req.limit === 'number' ? req.limit : undefined,
      });
      return { events: events.map(auditMessage) };
    }),
    ResolveGrant: authed(async (req, actor) => {
      const g = await deps.admin.resolveGrant(str(req.grant_id), str(req.note), actor);
      return { grants: [grantMessage(g)], notes: [] };
    }),
    GetPolicy: authed(async () => {
      const info = deps.policy.info();
      return { digest: info.digest, rules: info.rules, source: info.source, loaded_at: new Date(info.loadedAt).toISOString() };
    }),
    ShadowReport: authed(async (req) => {
      const r = await deps.admin.shadowReport(str(req.since), typeof req.limit === 'number' ? req.limit : undefined);
      return { report_json: JSON.stringify(r.report), events: r.events, enforced_digest: r.enforcedDigest, shadow_digest: r.shadowDigest };
    }),
    ExplainDecision: authed(async (req) => {
      const r = await deps.admin.explainDecision({ requestId: str(req.request_id) || undefined, eventId: str(req.event_id) || undefined, grantId: str(req.grant_id) || undefined });
      return { event: auditMessage(r.event), recorded_json: JSON.stringify(r.recorded), current_json: JSON.stringify(r.current) };
    }),
    ReloadPolicy: authed(async () => {
      if (!deps.reloadPolicy) throw new StintError('ERR_INVALID_REQUEST', 'policy reload is not available');
      const r = await deps.reloadPolicy();
      return { result: r.result, error: r.error ?? '', digest: deps.policy.info().digest };
    }),
    BreakGlassRequest: authed(async (req, actor) => breakGlassMessage(await breakGlassOf(deps).request(str(req.credential), str(req.reason), str(req.ticket) || undefined, actor))),
    BreakGlassApprove: authed(async (req, actor) => breakGlassMessage(await (str(req.ticket) ? breakGlassOf(deps).approveWithTicket(str(req.id), str(req.ticket), actor) : breakGlassOf(deps).approve(str(req.id), actor)))),
    GetBreakGlass: authed(async (req) => breakGlassMessage(await breakGlassOf(deps).status(str(req.id)))),
    BreakGlassRelease: authed(async (req, actor) => {
      const r = await breakGlassOf(deps).release(str(req.id), actor);
      return {
        status: breakGlassMessage(r.status),
        credential: {
          grant_id: r.grant.id,
          kind: r.credential.kind,
          token: r.credential.token,
          token_type: r.credential.tokenType,
          fields: r.credential.fields,
          expires_at: iso(r.credential.expiresAt),
          renew_after: iso(r.credential.renewAfter),
          ttl_seconds: r.grant.expiresAt - r.grant.issuedAt,
          ttl_capped: false,
          audience: r.grant.audience ?? '',
          target: r.grant.target ?? '',
          renewable: false,
        },
      };
    }),
  });

  const health: HealthImplementation[] = [];
  for (const [server, name] of [[workload, 'stint.v1.TokenExchange'], [admin, 'stint.v1.Admin']] as const) {
    const h = new HealthImplementation({ '': 'SERVING', [name]: 'SERVING' });
    h.addToServer(server);
    new ReflectionService(reflected, { services: [name, 'grpc.health.v1.Health'] }).addToServer(server);
    health.push(h);
  }
  return { workload, admin, health };
}

/** Server credentials: plaintext, TLS, or mTLS when a client CA is given. */
export function serverCredentials(tls?: { cert: Buffer; key: Buffer; ca: Buffer | null }): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== null);
}

/** A gRPC listener: its TCP server feeding connections to the gRPC server. */
export interface GrpcListener {
  readonly port: number;
  /** Stop accepting connections (the gRPC server's own shutdown closes the open ones). */
  close(): Promise<void>;
}

/**
 * Listen on host:port (port 0 picks one) with a TCP server of our own that applies the per-source
 * cap and the first-byte timeout, then hands each socket to gRPC (grpc-js connection injector):
 * grpc-js binds no socket we could limit. A socket the server has not yet answered when the
 * handshake timeout fires is closed too: the server speaks as soon as a TLS handshake completes
 * (and at once in plaintext) with its HTTP/2 settings, so a silent server means a stuck handshake.
 */
export async function listenGrpc(server: grpc.Server, address: string, credentials: grpc.ServerCredentials, limits: SocketLimits & { readonly tlsHandshakeTimeoutMs: number }, onRefused?: (source: string) => void): Promise<GrpcListener> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  const injector = server.createConnectionInjector(credentials);
  const tcp = createTcpServer();
  limitConnections(tcp, limits, onRefused);
  tcp.on('connection', (socket) => {
    if (socket.destroyed) return;
    const handshake = setTimeout(() => {
      if (socket.bytesWritten === 0) socket.destroy();
    }, limits.tlsHandshakeTimeoutMs);
    handshake.unref();
    socket.once('close', () => clearTimeout(handshake));
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolveListen, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => {
      tcp.off('error', reject);
      resolveListen();
    });
  });
  return {
    port: (tcp.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        injector.destroy();
        tcp.close(() => r());
      }),
  };
}

/** Bind a server to host:port (port 0 picks one); resolves with the bound port. */
export function bindGrpc(server: grpc.Server, address: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolvePort(port)));
  });
}

/** The host part of a grpc-js peer (`ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`), for per-source limits. */
export function peerHost(peer: string): string {
  const m = /^(?:ipv4:|ipv6:)?\[?([^\]]*?)\]?:\d+$/.exec(peer);
  return m ? m[1]! : peer;
}

/** The break-glass service, or a clear refusal when none is configured. */
function breakGlassOf(deps: GrpcDeps): BreakGlassService {
  if (!deps.breakGlass) throw new StintError('ERR_INVALID_REQUEST', 'break-glass is not configured (breakGlass: in the configuration)', { reason: 'break_glass_unconfigured' });
  return deps.breakGlass;
}

function breakGlassMessage(s: BreakGlassStatus): unknown {
  return {
    id: s.id,
    credential: s.credential,
    state: s.state,
    requester: s.requester,
    approvers: s.approvers,
    approvals_needed: s.approvalsNeeded,
    reason: s.reason,
    ticket: s.ticket ?? '',
    requested_at: new Date(s.requestedAt).toISOString(),
    expires_at: new Date(s.expiresAt).toISOString(),
    grant_id: s.grantId ?? '',
  };
}
