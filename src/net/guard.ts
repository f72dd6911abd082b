/**
 * The top-level guard of every listener of the service (HTTP, gRPC, webhook): whatever a handler
 * throws or rejects becomes an answer with a stable code (500 / INTERNAL `ERR_INTERNAL` for the
 * unexpected), is logged without the request's values, and the process goes on serving. No
 * request can end the service.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toStintError, type StintError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';

/** The error's class name and first stack frame: enough to find the bug, never a value from the request. */
export function describeFailure(err: unknown): { error: string; at?: string } {
  const e = err instanceof Error && err.name === 'StintError' && err.cause !== undefined ? err.cause : err;
  const error = e instanceof Error ? e.constructor.name || 'Error' : typeof e;
  const at = e instanceof Error ? /\n\s+at ([^\n]{1,200})/.exec(e.stack ?? '')?.[1] : undefined;
  return at ? { error, at } : { error };
}

/** Log an unexpected failure (ERR_INTERNAL) of a listener: code, class and place, nothing from the request. */
export function logInternal(logger: Logger | undefined, listener: string, error: StintError): void {
  if (error.code !== 'ERR_INTERNAL') return;
  logger?.error({ listener, code: error.code, ...describeFailure(error) }, 'request handler failed');
}

/**
 * Wrap an async HTTP handler: a throw or rejection is answered by `answer` (unless the head was
 * already sent: then the connection is cut), and an internal one is logged.
 */
export function guardHttp(
  listener: string,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  answer: (res: ServerResponse, error: StintError) => void,
  logger?: Logger,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const fail = (err: unknown): void => {
      try {
        const error = toStintError(err);
        logInternal(logger, listener, error);
        if (res.headersSent) res.destroy();
        else answer(res, error);
      } catch {
        res.destroy();
      }
    };
    try {
      handle(req, res).catch(fail);
    } catch (err) {
      fail(err);
    }
  };
}
