/** The one place where StintErrors become gRPC statuses (OAuth error bodies: src/http/oauth_error.ts). */
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { toStintError } from '../errors.js';
import { publicDetails } from '../http/oauth_error.js';

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
