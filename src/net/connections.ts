/**
 * Connection hygiene shared by every listener of both programs: a cap on the sockets one source
 * address may hold open (over it, a new socket is destroyed at once), and a first-byte timeout (a
 * socket that has sent nothing when it fires is destroyed). Protocol-level idle and handshake
 * timeouts (HTTP keep-alive, headers and request timeouts, TLS handshake, gRPC keepalive and
 * connection idle/age) are set by each listener from the same limits. Dependency-free: the
 * sidecar uses it too.
 */
import type { Server as NetServer, Socket } from 'node:net';

/** Per-socket limits of a listener. */
export interface SocketLimits {
  /** Most sockets one remote address may hold open at once. */
  readonly maxPerSource: number;
  /** A socket that has sent no byte after this long is destroyed (ms). */
  readonly firstByteTimeoutMs: number;
}

/** What a limited listener reports: open sockets per source, and refusals. */
export interface ConnectionTracker {
  /** Open sockets of one remote address. */
  open(source: string): number;
  /** Sockets refused for being over the cap since start. */
  readonly refused: number;
}

/**
 * Apply `limits` to the raw TCP sockets of `server` (for TLS servers these are the sockets before
 * the handshake). `onRefused` hears of each socket over the cap (its source address only).
 */
export function limitConnections(server: NetServer, limits: SocketLimits, onRefused?: (source: string) => void): ConnectionTracker {
  const perSource = new Map<string, number>();
  let refused = 0;
  server.on('connection', (socket: Socket) => {
    const source = socket.remoteAddress ?? 'unknown';
    const count = perSource.get(source) ?? 0;
    if (count >= limits.maxPerSource) {
      refused++;
      socket.destroy();
      onRefused?.(source);
      return;
    }
    perSource.set(source, count + 1);
    const timer = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }, limits.firstByteTimeoutMs);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      const left = (perSource.get(source) ?? 1) - 1;
      if (left <= 0) perSource.delete(source);
      else perSource.set(source, left);
    });
  });
  return {
    open: (source) => perSource.get(source) ?? 0,
    get refused() {
      return refused;
    },
  };
}

/** HTTP/1.1 timeouts of a listener (ms). */
export interface HttpTimeouts {
  /** Idle time allowed between requests on a kept-alive connection. */
  readonly keepAliveTimeoutMs: number;
  /** Time allowed to receive a request's headers (from the connection or the previous request). */
  readonly headersTimeoutMs: number;
  /** Time allowed to receive a whole request. */
  readonly requestTimeoutMs: number;
  /** Time allowed for a TLS handshake (HTTPS listeners). */
  readonly tlsHandshakeTimeoutMs: number;
}

/**
 * Options for `http.createServer`/`https.createServer` enforcing `t`; the connections check runs
 * often enough that a headers timeout is enforced within about half its value.
 */
export function httpServerOptions(t: HttpTimeouts): { keepAliveTimeout: number; headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number; handshakeTimeout: number } {
  return {
    keepAliveTimeout: t.keepAliveTimeoutMs,
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(t.headersTimeoutMs / 2))),
    handshakeTimeout: t.tlsHandshakeTimeoutMs,
  };
}

/** Everything limited on an HTTP listener. */
export type ListenerLimits = SocketLimits & HttpTimeouts;

/**
 * The defaults of the `connections` configuration for HTTP listeners: the one place they are
 * written (the configuration schema derives its fields and defaults from this table).
 */
export const DEFAULT_LISTENER_LIMITS: ListenerLimits = {
  maxPerSource: 256,
  firstByteTimeoutMs: 10_000,
  keepAliveTimeoutMs: 65_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  tlsHandshakeTimeoutMs: 10_000,
};

/** HTTP/2 connection limits of a gRPC server (ms). */
export interface GrpcConnectionLimits {
  /** Ping an idle client this often to find dead connections. */
  readonly keepaliveTimeMs: number;
  /** Close a connection whose ping goes unanswered this long. */
  readonly keepaliveTimeoutMs: number;
  /** Close a connection without calls for this long (GOAWAY). */
  readonly maxConnectionIdleMs: number;
  /** Close any connection after this long (clients reconnect; spreads load over replicas). */
  readonly maxConnectionAgeMs: number;
  /** Calls in flight at max age get this long to finish. */
  readonly maxConnectionAgeGraceMs: number;
}

/** The defaults of `connections.grpc` (the configuration schema derives from this table too). */
export const DEFAULT_GRPC_LIMITS: GrpcConnectionLimits = {
  keepaliveTimeMs: 120_000,
  keepaliveTimeoutMs: 20_000,
  maxConnectionIdleMs: 300_000,
  maxConnectionAgeMs: 3_600_000,
  maxConnectionAgeGraceMs: 30_000,
};
