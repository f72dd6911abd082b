/**
 * Loopback HTTP listeners for application-facing endpoints (and the operations listener). Every
 * listener made here is guarded: a handler that throws or rejects answers 500 `ERR_INTERNAL`,
 * is logged (error class and code, never the request's values), and the next request is served;
 * no request can end the sidecar. Idle and half-sent connections are closed, and one source
 * cannot hold more than a fixed number of sockets (SIDECAR_LISTENER_LIMITS).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sendJson as sendJsonOf } from '../../src/http/send_json.js';
import { httpServerOptions, limitConnections, type ListenerLimits } from '../../src/net/connections.js';
import { splitHostPort } from '../../src/net/host_port.js';
import { createLogger, type Logger } from '../log.js';

/**
 * Limits of every sidecar listener. All clients are local (one source address, loopback), so the
 * per-source cap is the listener's cap: far above what SDKs open, low enough that a runaway
 * client cannot exhaust the sidecar's descriptors.
 */
export const SIDECAR_LISTENER_LIMITS: ListenerLimits = {
  maxPerSource: 128,
  firstByteTimeoutMs: 5_000,
  keepAliveTimeoutMs: 5_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  tlsHandshakeTimeoutMs: 5_000,
};


/** A request handler; it may be async (what it returns is ignored, a rejection is caught). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Options of a listener. */
export interface ListenOptions {
  /** Where handler failures are logged (default: JSON lines on stdout). */
  readonly log?: Logger;
  /** A short name of the listener for the log (e.g. the output type). */
  readonly name?: string;
  /** Other limits than SIDECAR_LISTENER_LIMITS (tests). */
  readonly limits?: Partial<ListenerLimits>;
}

/** The error's class name and the first stack frame: enough to find the bug, never a request value. */
export function describeFailure(e: unknown): { error: string; at?: string } {
  const error = e instanceof Error ? e.constructor.name || 'Error' : typeof e;
  const at = e instanceof Error ? /\n\s+at ([^\n]{1,200})/.exec(e.stack ?? '')?.[1] : undefined;
  return at ? { error, at } : { error };
}

/** Wrap a handler so that no throw or rejection escapes it: a 500 `ERR_INTERNAL` answer instead. */
export function guardHandler(handler: RequestHandler, log: Logger, name = 'listener'): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const fail = (e: unknown): void => {
      log.log('error', 'request handler failed', { listener: name, code: 'ERR_INTERNAL', ...describeFailure(e) });
      try {
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error', code: 'ERR_INTERNAL' });
        else res.destroy();
      } catch {
        res.destroy();
      }
    };
    try {
      const done = handler(req, res);
      if (done instanceof Promise) done.catch(fail);
    } catch (e) {
      fail(e);
    }
  };
}

/** Start a guarded HTTP server on `hostPort`; resolves once listening. */
export async function listen(hostPort: string, handler: RequestHandler, options: ListenOptions = {}): Promise<Server> {
  const log = options.log ?? createLogger('info');
  const limits: ListenerLimits = { ...SIDECAR_LISTENER_LIMITS, ...options.limits };
  const server = createServer(httpServerOptions(limits), guardHandler(handler, log, options.name));
  limitConnections(server, limits, (source) => log.log('warn', 'connection refused: too many from one source', { listener: options.name ?? 'listener', source, maxPerSource: limits.maxPerSource }));
  const { host, port } = splitHostPort(hostPort);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  return server;
}

/** Close a server and its idle connections. */
export async function close(server: Server | null): Promise<void> {
  if (!server) return;
  await new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
}

/** Answer with JSON, not to be cached. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonOf(res, status, body, { 'cache-control': 'no-store', ...headers });
}

/** Answer with text. */
export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}
