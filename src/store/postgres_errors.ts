/**
 * PostgreSQL store failures as Stint errors. The server unreachable, refusing the login, out of
 * connections, shutting down, cancelling a statement past its timeout, or a transaction losing a
 * serialization or deadlock race: ERR_UNAVAILABLE (try again). Anything else (a constraint the
 * write broke, bad data): ERR_INTERNAL, as the SQLite store reports it. The SQLSTATE or network
 * code is in `details.postgres`; server text is redacted of the connection URL and its password.
 */
import pg from 'pg';
import { StintError } from '../errors.js';
import { isNetworkError } from '../upstream/classify.js';
import { safeUpstreamMessage } from '../upstream/safe_message.js';

/** SQLSTATE classes of transient or connection-level conditions. */
const UNAVAILABLE_CLASSES = new Set(['08', '28', '3D', '40', '53', '57', '58']);
/** Single SQLSTATEs that are transient outside those classes. */
const UNAVAILABLE_CODES = new Set(['55P03', '55006']);

/** Names of the SQLSTATEs an operator is most likely to meet, for readable messages. */
const SQLSTATE_NAMES: Readonly<Record<string, string>> = {
  '28000': 'invalid_authorization_specification',
  '28P01': 'invalid_password',
  '3D000': 'invalid_catalog_name',
  '23505': 'unique_violation',
  '23514': 'check_violation',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '42501': 'insufficient_privilege',
  '53300': 'too_many_connections',
  '57014': 'query_canceled',
  '57P01': 'admin_shutdown',
  '57P03': 'cannot_connect_now',
};

/** node-postgres' own messages for a connection that is gone or never came up. */
const CONNECTION_LOST = /connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|client was closed|query read timeout|cannot use a pool after calling end/i;

/** Classify anything node-postgres threw during `operation` (`open` at start); `secrets` never appear in the message. */
export function storeErrorFromPg(err: unknown, operation: string, secrets: readonly string[]): StintError {
  if (err instanceof StintError) return err;
  const what = operation === 'open' ? 'cannot open the PostgreSQL store' : `PostgreSQL store: ${operation} failed`;
  if (err instanceof pg.DatabaseError && typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)) {
    const code = err.code;
    const name = SQLSTATE_NAMES[code];
    const detail = `SQLSTATE ${code}${name ? ` ${name}` : ''}: ${safeUpstreamMessage(err.message, secrets, 200)}`;
    if (UNAVAILABLE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_CODES.has(code)) {
      return new StintError('ERR_UNAVAILABLE', `${what}: unavailable (${detail})`, { postgres: code }, { cause: err });
    }
    return new StintError('ERR_INTERNAL', `${what} (${detail})`, { postgres: code }, { cause: err });
  }
  if (isNetworkError(err)) {
    const code = String((err as { code?: unknown }).code ?? (err as { name?: unknown }).name ?? 'NetworkError');
    return new StintError('ERR_UNAVAILABLE', `${what}: server unreachable (${code})`, { postgres: code }, { cause: err });
  }
  const message = err instanceof Error ? err.message : '';
  if (CONNECTION_LOST.test(message)) {
    const code = /query read timeout/i.test(message) ? 'QueryTimeout' : /timeout/i.test(message) ? 'ConnectTimeout' : 'ConnectionLost';
    return new StintError('ERR_UNAVAILABLE', `${what}: ${code === 'ConnectionLost' ? 'connection lost' : 'no answer in time'} (${code})`, { postgres: code }, { cause: err });
  }
  return new StintError('ERR_INTERNAL', what, {}, { cause: err });
}
