/**
 * The SQL both stores run, written once in SQLite's placeholder style (`?`): PostgreSQL gets the
 * same text with its placeholders rewritten to `$1, $2, ...` (pgSql). Only what the dialects do
 * differently stays in the store files: SQLite's group commit, PostgreSQL's advisory locks and
 * `FOR UPDATE SKIP LOCKED`.
 */

/** Rewrite `?` placeholders to PostgreSQL's `$n`, leaving string literals and quoted names alone. */
export function pgSql(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') {
      out += `$${++n}`;
    } else {
      out += ch;
    }
  }
  return out;
}

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

/** Columns of a quarantine, in Quarantine order. */
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
