/**
 * PostgreSQL failures as Stint errors. A server error carries its SQLSTATE as `upstreamCode`;
 * refusals (authentication, privileges, unknown roles) are ERR_UPSTREAM_DENIED, transient
 * conditions (unreachable, too many connections, shutting down, timeouts) ERR_UPSTREAM_UNAVAILABLE,
 * anything the client could not make sense of ERR_UPSTREAM_BAD_RESPONSE. Messages never carry
 * the admin URL or a password: known secrets are redacted from server text before it is used.
 */
import { UpstreamError } from '../../errors.js';
import { isNetworkError } from '../../upstream/classify.js';
import { safeUpstreamMessage } from '../../upstream/safe_message.js';
import { pgLib } from './pg_lib.js';

/** Where a failure happened, and what must never appear in its message. */
export interface PgErrorContext {
  /** Credential kind. */
  readonly kind: string;
  /** Configured database name (the request's target). */
  readonly database: string;
  /** Operation, e.g. `create_role`. */
  readonly operation: string;
  /** Secret strings to redact from any server text. */
  readonly secrets: readonly string[];
}

/** Names of the SQLSTATEs Stint expects, for readable messages. */
const SQLSTATE_NAMES: Readonly<Record<string, string>> = {
  '28000': 'invalid_authorization_specification',
  '28P01': 'invalid_password',
  '42501': 'insufficient_privilege',
  '42704': 'undefined_object',
  '42710': 'duplicate_object',
  '3D000': 'invalid_catalog_name',
  '2BP01': 'dependent_objects_still_exist',
  '53300': 'too_many_connections',
  '57014': 'query_canceled',
  '57P01': 'admin_shutdown',
  '57P03': 'cannot_connect_now',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '55P03': 'lock_not_available',
};

/** SQLSTATE classes that mean "try again later". */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '55', '57', '58']);
/** SQLSTATE classes that mean "the server refuses this". */
const REFUSAL_CLASSES = new Set(['0L', '0P', '22', '23', '28', '2B', '3D', '42', '44']);

/** Seconds a caller should wait before retrying a transient failure. */
const RETRY_AFTER_SECONDS = 5;
const RETRY_AFTER_THROTTLED_SECONDS = 10;

/** Client-side failures of node-postgres that mean the connection is gone or never came up. */
const CONNECTION_LOST = /connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|client was closed|query read timeout/i;

/** Classify anything node-postgres threw. */
export function classifyPgError(err: unknown, ctx: PgErrorContext): UpstreamError {
  const where = `postgres ${ctx.database}: ${ctx.operation}`;
  // Classified only after a PostgreSQL call failed: pg is loaded by then.
  if (err instanceof pgLib().DatabaseError && typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)) {
    const code = err.code;
    const cls = code.slice(0, 2);
    const name = SQLSTATE_NAMES[code];
    const detail = `SQLSTATE ${code}${name ? ` ${name}` : ''}: ${safeUpstreamMessage(err.message, ctx.secrets, 300)}`;
    if (TRANSIENT_CLASSES.has(cls)) {
      const retryAfterSeconds = code === '53300' ? RETRY_AFTER_THROTTLED_SECONDS : RETRY_AFTER_SECONDS;
      return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', ctx.kind, code, `${where} failed, PostgreSQL is unavailable (${detail})`, { retryAfterSeconds });
    }
    if (REFUSAL_CLASSES.has(cls)) return new UpstreamError('ERR_UPSTREAM_DENIED', ctx.kind, code, `${where} refused by PostgreSQL (${detail})`);
    return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', ctx.kind, code, `${where} failed (${detail})`);
  }
  if (isNetworkError(err)) {
    const code = String((err as { code?: unknown }).code ?? (err as { name?: unknown }).name ?? 'NetworkError');
    return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', ctx.kind, code, `${where} failed: PostgreSQL is unreachable (${code})`, { retryAfterSeconds: RETRY_AFTER_SECONDS });
  }
  const message = err instanceof Error ? err.message : '';
  if (CONNECTION_LOST.test(message)) {
    const code = /query read timeout/i.test(message) ? 'QueryTimeout' : /timeout/i.test(message) ? 'ConnectTimeout' : 'ConnectionLost';
    const what = code === 'ConnectionLost' ? 'the connection to PostgreSQL was lost' : 'PostgreSQL did not answer in time';
    return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', ctx.kind, code, `${where} failed: ${what}`, { retryAfterSeconds: RETRY_AFTER_SECONDS });
  }
  return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', ctx.kind, 'ProtocolError', `${where} failed: unexpected reply from the server`);
}
