/**
 * The schema of both SQL stores, written once. The dialects differ in three words: the `seq`
 * column (SQLite's rowid alias, PostgreSQL's identity column), JSON columns (TEXT, JSONB) and
 * SQLite's WITHOUT ROWID; BIGINT means the same in both (SQLite gives it integer affinity).
 *
 * Migration N (1-based) brings a store from version N-1 to N; released migrations keep their
 * effect. SQLite was released with the grant cleanup columns as a second migration; PostgreSQL
 * with them in its first, so its first migration is the first two together.
 *
 * Every index is a page written per issuance, so the hot tables carry only what a query needs:
 * `seq` gives recording order for free (listing newest first), the active-expiry index is partial
 * (it only holds active grants), audit event ids are not indexed (nothing looks an event up by id),
 * and audit_grants links sequence numbers, which grow, instead of random grant ids.
 */

/** The SQL dialect a migration is written for. */
export type Dialect = 'sqlite' | 'postgres';

const WORDS: Readonly<Record<Dialect, { seq: string; json: string; withoutRowid: string }>> = {
  sqlite: { seq: 'INTEGER PRIMARY KEY', json: 'TEXT', withoutRowid: ' WITHOUT ROWID' },
  postgres: { seq: 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY', json: 'JSONB', withoutRowid: '' },
};

/** Grants, audit events and their links, signing keys. */
function tables(d: Dialect): string {
  const w = WORDS[d];
  return `
  CREATE TABLE grants (
    seq ${w.seq},
    id TEXT NOT NULL UNIQUE,
    identity TEXT NOT NULL,
    attestor TEXT NOT NULL,
    issuer TEXT NOT NULL,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    audience TEXT,
    target TEXT,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'revoked', 'expired', 'reaped')),
    revoked_at BIGINT,
    revoked_reason TEXT,
    revocation_handle TEXT,
    credential_fingerprint TEXT NOT NULL
  );
  CREATE INDEX grants_identity_state ON grants (identity, state);
  CREATE INDEX grants_active_expiry ON grants (expires_at) WHERE state = 'active';

  CREATE TABLE audit (
    seq ${w.seq},
    id TEXT NOT NULL,
    time BIGINT NOT NULL,
    type TEXT NOT NULL,
    request_id TEXT,
    identity TEXT,
    rule TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('allow', 'deny', 'error', 'info')),
    reason TEXT,
    grant_ids ${w.json} NOT NULL,
    data ${w.json} NOT NULL
  );
  CREATE INDEX audit_time ON audit (time);
  CREATE INDEX audit_identity_time ON audit (identity, time);
  CREATE INDEX audit_type_time ON audit (type, time);

  CREATE TABLE audit_grants (
    grant_seq BIGINT NOT NULL,
    audit_seq BIGINT NOT NULL,
    PRIMARY KEY (grant_seq, audit_seq)
  )${w.withoutRowid};

  CREATE TABLE keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    created_at BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at BIGINT,
    publish_until BIGINT
  );
  `;
}

/** Upstream cleanup of grants: state, attempts, next attempt, last error. */
const CLEANUP_COLUMNS = `
  ALTER TABLE grants ADD COLUMN cleanup TEXT NOT NULL DEFAULT 'none' CHECK (cleanup IN ('none', 'pending', 'done', 'resolved'));
  ALTER TABLE grants ADD COLUMN cleanup_attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE grants ADD COLUMN cleanup_next_at BIGINT;
  ALTER TABLE grants ADD COLUMN cleanup_error TEXT;
  CREATE INDEX grants_cleanup_due ON grants (cleanup_next_at) WHERE cleanup = 'pending';
`;

/** Attestation bindings (trust on first use of a static proof) and identity quarantines; times in epoch milliseconds. */
const BINDINGS_AND_QUARANTINES = `
  CREATE TABLE attestation_bindings (
    kind TEXT NOT NULL,
    proof_key TEXT NOT NULL,
    binding TEXT NOT NULL,
    bound_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (kind, proof_key)
  );
  CREATE INDEX attestation_bindings_expiry ON attestation_bindings (expires_at);

  CREATE TABLE quarantines (
    identity TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    quarantined_at BIGINT NOT NULL,
    ends_at BIGINT
  );
`;

/** The ordered migrations of a dialect; the index + 1 is the schema version each one produces. */
export function migrations(d: Dialect): readonly string[] {
  return d === 'sqlite' ? [tables(d), CLEANUP_COLUMNS, BINDINGS_AND_QUARANTINES] : [tables(d) + CLEANUP_COLUMNS, BINDINGS_AND_QUARANTINES];
}
