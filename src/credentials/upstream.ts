/**
 * Calling upstream systems: every call has a timeout, is timed for metrics, and ends either in a
 * value or in an UpstreamError with a stable code (never an upstream secret in the message).
 */
import { StintError, UpstreamError } from '../errors.js';
import type { UpstreamObserver } from './provider.js';

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

/**
 * Network-level failures become ERR_UPSTREAM_UNAVAILABLE: refused, reset, timed out, DNS, and TLS
 * (an untrusted, expired or mismatched certificate: the upstream cannot be reached safely), as
 * node:net/tls, undici, axios (node-vault) and node-fetch (the Kubernetes client) name them.
 */
export function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const name = (err as { name?: unknown } | null)?.name;
  return (
    (typeof code === 'string' && NETWORK_CODES.test(code)) ||
    name === 'AbortError' ||
    name === 'TimeoutError'
  );
}

const NETWORK_CODES =
  /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ERR_NETWORK|UND_ERR_\w+|ERR_SOCKET\w*|ERR_TLS_\w+|ERR_SSL_\w+|CERT_\w+|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_\w+|HOSTNAME_MISMATCH)$/;

/**
 * Upstream text fit for Stint's errors (which reach clients and logs): the known `secrets` (an
 * admin password, a URL's credentials) and anything shaped like a token (a JWT, a Google access or
 * refresh token, a Vault token, a bearer credential) replaced, control characters and runs of
 * whitespace made one space, cut to `max` characters. Every provider uses this one.
 */
export function safeUpstreamMessage(text: unknown, secrets: readonly string[] = [], max = 240): string {
  if (typeof text !== 'string') return '';
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  out = out
    .replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '[jwt]')
    .replace(/\bya29\.[\w.-]+/g, '[token]')
    .replace(/\b1\/\/[\w.-]+/g, '[token]')
    .replace(/\bhv[sbr]\.[\w.-]+/g, '[token]')
    .replace(/\bBearer\s+\S+/gi, 'Bearer [token]')
    // eslint-disable-next-line no-control-regex
    .replace(/[\s\u0000-\u001f\u007f]+/g, ' ')
    .trim();
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

/** Classify an HTTP status from an upstream: 429/5xx transient, 401/403 refusal, else bad response. */
export function classifyHttpStatus(kind: string, status: number, upstreamCode: string, message: string, retryAfterSeconds?: number): UpstreamError {
  if (status === 429 || status >= 500) {
    return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', kind, upstreamCode, message, { retryAfterSeconds: retryAfterSeconds ?? (status === 429 ? 10 : 5) });
  }
  if (status === 401 || status === 403 || status === 404 || status === 400) return new UpstreamError('ERR_UPSTREAM_DENIED', kind, upstreamCode, message);
  return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, upstreamCode, message);
}
