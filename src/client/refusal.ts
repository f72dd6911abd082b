/**
 * The StintError a client raises for an answer other than 200: Stint's own code through the error
 * table (errorFromOAuthBody), with what explains a denial (the nearest rule, the condition it
 * failed) kept in the details; an endpoint an older Stint lacks is ERR_NOT_FOUND with its reason.
 */
import { StintError, errorFromOAuthBody } from '../errors.js';

/** The endpoint is missing on this Stint: ERR_NOT_FOUND with this reason and message. */
export interface Unsupported {
  readonly reason: string;
  readonly message: string;
}

/** The error for a refused call (`status` ≠ 200, `body` the JSON answer or empty). */
export function refusalError(status: number, body: Readonly<Record<string, unknown>>, unsupported?: Unsupported): StintError {
  const ours = typeof body.stint_code === 'string';
  if (unsupported && (status === 404 || status === 405) && !ours) return new StintError('ERR_NOT_FOUND', unsupported.message, { reason: unsupported.reason });
  const err = errorFromOAuthBody(status, body);
  const explain: Record<string, string> = {};
  for (const key of ['rule', 'failed']) {
    const value = body[key];
    if (typeof value === 'string') explain[key] = value;
  }
  return Object.keys(explain).length === 0 ? err : new StintError(err.code, err.message, { ...err.details, ...explain });
}
