/**
 * Kubernetes API failures as Stint errors: a metav1.Status body gives the upstream's own reason
 * (`Forbidden`, `NotFound`, `TooManyRequests`...), Retry-After (header, or the Status's
 * `details.retryAfterSeconds`) the retry hint; network and TLS failures are ERR_UPSTREAM_UNAVAILABLE,
 * a reply that is not the JSON the API promises is ERR_UPSTREAM_BAD_RESPONSE. Shared by the
 * kubernetes providers and the kubernetes attestor's TokenReview.
 */
import { StintError, UpstreamError } from '../errors.js';
import { classifyHttpStatus, isNetworkError } from '../upstream/classify.js';
import { safeUpstreamMessage } from '../upstream/safe_message.js';

/** An API error response, read from the client's ApiException. */
export interface ApiFailure {
  readonly status: number;
  /** The Status `reason`, or the conventional one for the HTTP status. */
  readonly reason: string;
  /** The Status `message` (sanitized, truncated), or ''. */
  readonly message: string;
  readonly retryAfterSeconds?: number;
}

const DEFAULT_REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The API failure carried by an error the client threw, or null when it is something else. */
export function apiFailureOf(err: unknown, nowMs: number): ApiFailure | null {
  const e = err as { code?: unknown; body?: unknown; headers?: unknown } | null;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'number' || !('headers' in e) || !Number.isInteger(e.code) || e.code < 100 || e.code > 599) return null;
  const status = e.code;
  const headers = (typeof e.headers === 'object' && e.headers !== null ? e.headers : {}) as Record<string, unknown>;
  let body: Record<string, unknown> | null = null;
  const text = typeof e.body === 'string' ? e.body : Buffer.isBuffer(e.body) ? e.body.toString('utf8') : null;
  if (text) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = null;
    }
  } else if (typeof e.body === 'object' && e.body !== null && !Buffer.isBuffer(e.body)) {
    body = e.body as Record<string, unknown>;
  }
  const isStatus = body?.['kind'] === 'Status';
  const rawReason = isStatus ? body?.['reason'] : undefined;
  const reason = typeof rawReason === 'string' && /^[A-Za-z]{1,64}$/.test(rawReason) ? rawReason : (DEFAULT_REASONS[status] ?? `HTTP${status}`);
  const rawMessage = isStatus ? body?.['message'] : undefined;
  const message = safeUpstreamMessage(rawMessage, [], 300);
  const details = isStatus ? (body?.['details'] as Record<string, unknown> | undefined) : undefined;
  const retryAfterSeconds = parseRetryAfter(headers['retry-after'], nowMs) ?? boundedSeconds(details?.['retryAfterSeconds']);
  return { status, reason, message, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) };
}

/** Retry-After as seconds (delta-seconds or an HTTP date), bounded to [1, 3600]. */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return boundedSeconds(Number(v));
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return boundedSeconds(Math.ceil((date - nowMs) / 1000));
}

function boundedSeconds(n: unknown): number | undefined {
  if (typeof n !== 'number' || !Number.isFinite(n)) return undefined;
  return Math.min(3600, Math.max(1, Math.floor(n)));
}

/** The UpstreamError for an API failure of `operation` on `what`. */
export function apiFailureError(kind: string, operation: string, what: string, failure: ApiFailure): UpstreamError {
  const message = `${kind}: ${operation} ${what} failed: ${failure.status} ${failure.reason}${failure.message ? `: ${failure.message}` : ''}`;
  // 422 Invalid: the API server refused the object Stint sent (a name, a TTL): a refusal, not a bad reply.
  if (failure.status === 422 || failure.status === 409) return new UpstreamError('ERR_UPSTREAM_DENIED', kind, failure.reason, message);
  return classifyHttpStatus(kind, failure.status, failure.reason, message, failure.retryAfterSeconds);
}

/** Turn anything a Kubernetes API call threw into a StintError. */
export function classifyKubernetesError(kind: string, operation: string, what: string, nowMs: () => number): (err: unknown) => StintError {
  return (err: unknown): StintError => {
    if (err instanceof StintError) return err;
    const failure = apiFailureOf(err, nowMs());
    if (failure) return apiFailureError(kind, operation, what, failure);
    const e = err as { name?: unknown; type?: unknown; code?: unknown; message?: unknown } | null;
    const code = typeof e?.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(e.code) ? e.code : undefined;
    if (code === 'STINT_TOKEN_FILE') {
      return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', kind, 'TokenFileUnreadable', `${kind}: ${operation} ${what}: Stint's API token file cannot be read`, { retryAfterSeconds: 5, cause: err });
    }
    if (isNetworkError(err) || (e?.name === 'FetchError' && (e.type === 'system' || e.type === 'request-timeout'))) {
      return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', kind, code ?? 'NetworkError', `${kind}: ${operation} ${what}: API server unreachable (${code ?? 'network error'})`, {
        retryAfterSeconds: 5,
        cause: err,
      });
    }
    // A 2xx reply the client could not parse (not JSON, no content type) or that lacked required fields.
    return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'MalformedResponse', `${kind}: ${operation} ${what}: the API server's reply is not the expected JSON`, { cause: err });
  };
}
