/** The one place where StintErrors become gRPC statuses and OAuth error bodies. */
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { PolicyDeniedError, toStintError, type StintError } from '../errors.js';

/** Caller-visible detail fields (never secrets: errors never carry them). */
function publicDetails(error: StintError): Record<string, string> {
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

/**
 * A trailer value gRPC accepts: printable ASCII only (grpc-js throws on anything else, and a
 * claim value such as a branch name may hold any character), bounded.
 */
function trailerValue(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
}

/** Map any error to a gRPC ServiceError with `stint-error-code` (and reason, rule) trailers. */
export function toGrpcError(err: unknown): Partial<ServiceError> {
  const error = toStintError(err);
  const metadata = new Metadata();
  metadata.set('stint-error-code', error.code);
  for (const [k, v] of Object.entries(publicDetails(error))) metadata.set(`stint-${k.replace(/_/g, '-')}`, trailerValue(v));
  return { code: error.mapping.grpc, details: `${error.code}: ${error.message}`, metadata };
}

/** Map any error to an RFC 6749 §5.2 error body and HTTP status. */
export function toOAuthError(err: unknown): { status: number; body: Record<string, string> } {
  const error = toStintError(err);
  return {
    status: error.mapping.http,
    body: { error: error.mapping.oauth, error_description: error.message, stint_code: error.code, ...publicDetails(error) },
  };
}
