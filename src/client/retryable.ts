/**
 * Which failures of a call to Stint are worth trying again, decided once from the error table
 * (unavailable or rate limited, src/errors.ts) for every client: the sidecar's backoff, the GitHub
 * Action step's retries.
 */
import { ERROR_TABLE, isRetryableCode, type ErrorCode } from '../errors.js';

/** True when `error` carries a Stint code the error table marks transient (ERR_UNAVAILABLE, ERR_RATE_LIMITED, ...). */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && Object.hasOwn(ERROR_TABLE, code) && isRetryableCode(code as ErrorCode);
}
