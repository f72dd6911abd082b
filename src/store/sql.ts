/**
 * The SQL both stores run, written once in SQLite's placeholder style (`?`, a value per
 * placeholder): PostgreSQL gets the same text with its placeholders rewritten to `$1, $2, ...`
 * (pgSql). Casts are spelled `CAST(? AS BIGINT)`, which both dialects read alike. Only what the
 * dialects do differently stays in the store files: SQLite's group commit and audit links by
 * last_insert_rowid, PostgreSQL's one-statement issuance, advisory locks and `FOR UPDATE SKIP LOCKED`.
 */
import { AUDIT_COLUMNS, GRANT_COLUMNS, INLINE_REVOKE_GRACE_SECONDS, INSERT_GRANT_COLUMNS, KEY_COLUMNS, limitOf } from './rows.js';
import type { AuditFilter, GrantFilter } from './store.js';

const rewritten = new Map<string, string>();

/** Rewrite `?` placeholders to PostgreSQL's `$n`, leaving string literals and quoted names alone (memoized). */
export function pgSql(sql: string): string {
  let out = rewritten.get(sql);
  if (out !== undefined) return out;
  out = '';
  let n = 0;
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === '?') {
      out += `$${++n}`;
      continue;
    }
    out += ch;
  }
  rewritten.set(sql, out);
  return out;
}

/** A statement with its values, one per placeholder. */
export interface Query {
  readonly sql: string;
  readonly params: unknown[];
}

function marks(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

// Grants.

/** Params: grantParams(g). */
export const INSERT_GRANT = `INSERT INTO grants (${INSERT_GRANT_COLUMNS}) VALUES (${marks(15)})`;
/** Params: id. */
export const SELECT_GRANT = `SELECT ${GRANT_COLUMNS} FROM grants WHERE id = ?`;
const REVOKE_SET = `state = 'revoked', revoked_at = ?, revoked_reason = ?, cleanup = 'pending', cleanup_next_at = CAST(? AS BIGINT) + ${INLINE_REVOKE_GRACE_SECONDS}`;
/** Params: revokeParams(at, reason, id). */
export const REVOKE_GRANT = `UPDATE grants SET ${REVOKE_SET} WHERE id = ? AND state = 'active' RETURNING ${GRANT_COLUMNS}`;
/** Params: revokeParams(at, reason, identity). */
export const REVOKE_IDENTITY = `UPDATE grants SET ${REVOKE_SET} WHERE identity = ? AND state = 'active' RETURNING ${GRANT_COLUMNS}`;

/** The values of REVOKE_GRANT / REVOKE_IDENTITY. */
export function revokeParams(at: number, reason: string, key: string): unknown[] {
  return [at, reason, at, key];
}

/** Params: now, now. */
export const EXPIRE_GRANTS = `UPDATE grants SET state = 'expired', cleanup = 'pending', cleanup_next_at = ? WHERE state = 'active' AND expires_at <= ? RETURNING ${GRANT_COLUMNS}`;
/** Params: now, limit. */
export const DUE_CLEANUPS = `SELECT ${GRANT_COLUMNS} FROM grants WHERE cleanup = 'pending' AND cleanup_next_at <= ? ORDER BY cleanup_next_at, seq LIMIT ?`;
/** Params: id. */
export const CLEANUP_DONE = `UPDATE grants SET cleanup = 'done', cleanup_next_at = NULL, cleanup_error = NULL, state = CASE state WHEN 'expired' THEN 'reaped' ELSE state END
  WHERE id = ? AND cleanup = 'pending' RETURNING ${GRANT_COLUMNS}`;
/** Params: nextAt, error, id. */
export const CLEANUP_FAILED = `UPDATE grants SET cleanup_attempts = cleanup_attempts + 1, cleanup_next_at = ?, cleanup_error = ? WHERE id = ? AND cleanup = 'pending' RETURNING ${GRANT_COLUMNS}`;
/** Params: id. */
export const CLEANUP_RESOLVED = `UPDATE grants SET cleanup = 'resolved', cleanup_next_at = NULL WHERE id = ? AND cleanup = 'pending' RETURNING ${GRANT_COLUMNS}`;
/** Params: expiresAt, id. */
export const EXTEND_GRANT = `UPDATE grants SET expires_at = ? WHERE id = ? AND state = 'active' RETURNING ${GRANT_COLUMNS}`;
/** Params: kind, now, kind. */
export const LIVE_HANDLES = `SELECT revocation_handle FROM grants WHERE kind = ? AND state = 'active' AND expires_at > ? AND revocation_handle IS NOT NULL
  UNION SELECT revocation_handle FROM grants WHERE kind = ? AND cleanup = 'pending' AND revocation_handle IS NOT NULL`;
/** Params: now. */
export const COUNT_ACTIVE = `SELECT count(*) AS n FROM grants WHERE state = 'active' AND expires_at > ?`;
/** Params: stuckAfterAttempts. */
export const COUNT_STUCK = `SELECT count(*) AS n FROM grants WHERE cleanup = 'pending' AND cleanup_attempts >= ?`;

/** The grants matching a filter, most recently recorded first. */
export function listGrants(f: GrantFilter): Query {
  const conditions: Condition[] = [
    ['identity = ?', f.identity],
    ['state = ?', f.state],
    ["cleanup = 'pending' AND cleanup_attempts >= ?", f.stuckAfterAttempts],
  ];
  return filtered(`SELECT ${GRANT_COLUMNS} FROM grants`, conditions, 'ORDER BY seq DESC', f.limit);
}

// Audit.

/** The audit events matching a filter, newest first (by time, then latest recorded first). */
export function queryAudit(f: AuditFilter): Query {
  const conditions: Condition[] = [
    ['time >= ?', f.since],
    ['identity = ?', f.identity],
    ['type = ?', f.type],
    ['seq IN (SELECT audit_seq FROM audit_grants WHERE grant_seq = (SELECT seq FROM grants WHERE id = ?))', f.grantId],
    ['request_id = ?', f.requestId],
    ['id = ?', f.eventId],
  ];
  return filtered(`SELECT ${AUDIT_COLUMNS} FROM audit`, conditions, 'ORDER BY time DESC, seq DESC', f.limit);
}

/** A filter condition with one placeholder, and its value (undefined: the filter does not use it). */
type Condition = readonly [string, unknown];

/** `select`, with the conditions whose value is set, the order, and the limit. */
function filtered(select: string, conditions: readonly Condition[], order: string, limit: number | undefined): Query {
  const used = conditions.filter(([, value]) => value !== undefined);
  const where = used.length ? ` WHERE ${used.map(([condition]) => condition).join(' AND ')}` : '';
  return withLimit(`${select}${where} ${order}`, used.map(([, value]) => value), limit);
}

/** A LIMIT only when the filter sets one (SQLite and PostgreSQL spell "no limit" differently). */
function withLimit(sql: string, params: unknown[], limit: number | undefined): Query {
  const n = limitOf(limit);
  return n === null ? { sql, params } : { sql: `${sql} LIMIT ?`, params: [...params, n] };
}

// Keys.

/** Every key (the caller orders them: sortKeys). */
export const SELECT_KEYS = `SELECT ${KEY_COLUMNS} FROM keys`;
/** Params: keyParams(k). */
export const UPSERT_KEY = `INSERT INTO keys (${KEY_COLUMNS}) VALUES (${marks(9)})
  ON CONFLICT (kid) DO UPDATE SET alg = excluded.alg, private_jwk = excluded.private_jwk, public_jwk = excluded.public_jwk,
    state = excluded.state, created_at = excluded.created_at, activated_at = excluded.activated_at,
    retired_at = excluded.retired_at, publish_until = excluded.publish_until`;
/**
 * Insert a key only if its rotation slot is free (see Store.insertKey). Params: keyInSlotParams(k).
 * PostgreSQL additionally serialises the check under an advisory lock (READ COMMITTED).
 */
export const INSERT_KEY_IN_SLOT = `INSERT INTO keys (${KEY_COLUMNS})
  SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT)
  WHERE NOT EXISTS (SELECT 1 FROM keys WHERE kid = ? OR (state = 'current' AND CAST(? AS TEXT) = 'current') OR (state = 'next' AND alg = ? AND CAST(? AS TEXT) = 'next'))
  ON CONFLICT (kid) DO NOTHING`;
/** Params: kid. */
export const DELETE_KEY = 'DELETE FROM keys WHERE kid = ?';

// Attestation bindings.

const BINDING_COLUMNS = 'kind, proof_key, binding, bound_at, expires_at';
/**
 * Store a binding unless one holds: an expired row (expires_at <= the new bound_at) is replaced, a
 * live one is left as it is and nothing is returned. Params: kind, key, binding, now, expiresAt.
 */
export const BIND_ATTESTATION = `INSERT INTO attestation_bindings (${BINDING_COLUMNS}) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (kind, proof_key) DO UPDATE SET binding = excluded.binding, bound_at = excluded.bound_at, expires_at = excluded.expires_at
  WHERE attestation_bindings.expires_at <= excluded.bound_at
  RETURNING binding`;
/** The binding that holds at a time. Params: kind, key, now. */
export const SELECT_BINDING = 'SELECT binding FROM attestation_bindings WHERE kind = ? AND proof_key = ? AND expires_at > ?';
/** Params: kind, key. */
export const DELETE_BINDING = 'DELETE FROM attestation_bindings WHERE kind = ? AND proof_key = ?';
/** Params: now (epoch milliseconds). */
export const DELETE_EXPIRED_BINDINGS = 'DELETE FROM attestation_bindings WHERE expires_at <= ?';

// Quarantines.

const QUARANTINE_COLUMNS = 'identity, reason, actor, quarantined_at, ends_at';
/** Params: identity, reason, actor, at, until. */
export const UPSERT_QUARANTINE = `INSERT INTO quarantines (${QUARANTINE_COLUMNS}) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (identity) DO UPDATE SET reason = excluded.reason, actor = excluded.actor, quarantined_at = excluded.quarantined_at, ends_at = excluded.ends_at`;
/** Params: identity; returns the removed row's end. */
export const DELETE_QUARANTINE = 'DELETE FROM quarantines WHERE identity = ? RETURNING ends_at';
/** Params: identity, now. */
export const SELECT_ACTIVE_QUARANTINE = `SELECT ${QUARANTINE_COLUMNS} FROM quarantines WHERE identity = ? AND (ends_at IS NULL OR ends_at > ?)`;
/** Params: now. */
export const SELECT_ACTIVE_QUARANTINES = `SELECT ${QUARANTINE_COLUMNS} FROM quarantines WHERE ends_at IS NULL OR ends_at > ?`;
/** Params: now (epoch milliseconds). */
export const DELETE_ENDED_QUARANTINES = 'DELETE FROM quarantines WHERE ends_at IS NOT NULL AND ends_at <= ?';
