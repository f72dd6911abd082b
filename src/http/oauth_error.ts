/**
 * StintErrors as RFC 6749 error bodies with their HTTP status, and the detail fields a caller may
 * see (the gRPC trailers carry the same ones). Dependency-free, so the webhook answers errors the
 * way the exchange's HTTP listener does without loading gRPC.
 */
import { PolicyDeniedError, toStintError, type StintError } from '../errors.js';

/** Caller-visible detail fields of an error (never secrets: errors never carry them). */
export function publicDetails(error: StintError): Record<string, string> {
  const out: Record<string, string> = {};
  if (error instanceof PolicyDeniedError) {
    out.reason = error.reason;
    if (error.rule) out.rule = error.rule;
  } else if (typeof error.details.reason === 'string') {
    out.reason = error.details.reason;
  }
  if (Array.isArray(error.details.failed) && error.details.failed.length > 0) {
    // Explained denials (per-issuer setting): the conditions of the nearest rule that failed.
    out.failed = (error.details.failed as { field?: unknown; expected?: unknown; actual?: unknown }[])
      .slice(0, 5)
      .map((f) => `${String(f.field)} ${String(f.expected)} (got ${String(f.actual)})`)
      .join('; ');
  }
  if (typeof error.details.claim === 'string') out.claim = error.details.claim;
  if (typeof error.details.field === 'string') out.field = error.details.field;
  if (typeof error.details.retryAfterSeconds === 'number') out.retry_after = String(error.details.retryAfterSeconds);
  return out;
}

/** Map any error to an RFC 6749 §5.2 error body and HTTP status. */
export function toOAuthError(err: unknown): { status: number; body: Record<string, string> } {
  const error = toStintError(err);
  return {
    status: error.mapping.http,
    body: { error: error.mapping.oauth, error_description: error.message, stint_code: error.code, ...publicDetails(error) },
  };
}
