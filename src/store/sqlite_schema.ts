/**
 * Schema migrations of the SQLite store. Migration N (1-based) brings `PRAGMA user_version`
 * from N-1 to N; a migration is never edited once released, only appended.
 *
 * Every index is a page written per issuance, so the hot tables carry only what a query needs:
 * `seq` gives recording order for free (listing newest first), the active-expiry index is partial
 * (it only holds active grants), audit event ids are not indexed (nothing looks an event up by id),
 * and audit_grants links sequence numbers, which grow, instead of random grant ids.
 */

import { BINDINGS_AND_QUARANTINES } from './schema.js';

/** Ordered migrations; the index + 1 is the schema version each one produces. */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE grants (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    identity TEXT NOT NULL,
    attestor TEXT NOT NULL,
    issuer TEXT NOT NULL,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    audience TEXT,
    target TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'revoked', 'expired', 'reaped')),
    revoked_at INTEGER,
    revoked_reason TEXT,
    revocation_handle TEXT,
    credential_fingerprint TEXT NOT NULL
  );
  CREATE INDEX grants_identity_state ON grants (identity, state);
  CREATE INDEX grants_active_expiry ON grants (expires_at) WHERE state = 'active';

  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    time INTEGER NOT NULL,
    type TEXT NOT NULL,
    request_id TEXT,
    identity TEXT,
    rule TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('allow', 'deny', 'error', 'info')),
    reason TEXT,
    grant_ids TEXT NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX audit_time ON audit (time);
  CREATE INDEX audit_identity_time ON audit (identity, time);
  CREATE INDEX audit_type_time ON audit (type, time);

  CREATE TABLE audit_grants (
    grant_seq INTEGER NOT NULL,
    audit_seq INTEGER NOT NULL,
    PRIMARY KEY (grant_seq, audit_seq)
  ) WITHOUT ROWID;

  CREATE TABLE keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    created_at INTEGER NOT NULL,
    activated_at INTEGER,
    retired_at INTEGER,
    publish_until INTEGER
  );
  `,
  `
  ALTER TABLE grants ADD COLUMN cleanup TEXT NOT NULL DEFAULT 'none' CHECK (cleanup IN ('none', 'pending', 'done', 'resolved'));
  ALTER TABLE grants ADD COLUMN cleanup_attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE grants ADD COLUMN cleanup_next_at INTEGER;
  ALTER TABLE grants ADD COLUMN cleanup_error TEXT;
  CREATE INDEX grants_cleanup_due ON grants (cleanup_next_at) WHERE cleanup = 'pending';
  `,
  BINDINGS_AND_QUARANTINES,
];
