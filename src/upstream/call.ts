/**
 * Calling upstream systems: every call has a timeout, is timed for metrics, and ends either in a
 * value or in an UpstreamError with a stable code (never an upstream secret in the message).
 * Shared by the credential providers, the kubernetes attestor's TokenReview and the stores.
 */
import { StintError, UpstreamError } from '../errors.js';

/** Observer of upstream calls (metrics): provider kind, operation, outcome, seconds, upstream code. */
export type UpstreamObserver = (kind: string, operation: string, outcome: 'ok' | 'error', seconds: number, upstreamCode?: string) => void;

/** Options of one upstream call. */
export interface UpstreamCallOptions {
  /** Credential kind, for errors and metrics. */
  readonly kind: string;
  /** Operation name, for metrics (e.g. `AssumeRoleWithWebIdentity`, `drop_role`). */
  readonly operation: string;
  readonly timeoutMs: number;
  readonly observe?: UpstreamObserver;
  /** Turn an upstream failure into an UpstreamError (or a StintError); called for anything thrown. */
  readonly classify: (err: unknown) => StintError;
}

/** Run `fn` with a timeout signal; time it; classify failures. */
export async function callUpstream<T>(options: UpstreamCallOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const started = process.hrtime.bigint();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', options.kind, 'Timeout', `${options.kind}: ${options.operation} timed out after ${options.timeoutMs} ms`, { retryAfterSeconds: 5 }));
    }, options.timeoutMs);
  });
  try {
    const value = await Promise.race([fn(controller.signal), timeout]);
    options.observe?.(options.kind, options.operation, 'ok', seconds(started));
    return value;
  } catch (err) {
    const error = err instanceof StintError ? err : options.classify(err);
    options.observe?.(options.kind, options.operation, 'error', seconds(started), error instanceof UpstreamError ? error.upstreamCode : error.code);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}
