/**
 * Schema migrations of the PostgreSQL store. Migration N (1-based) brings the version recorded in
 * `stint_schema` from N-1 to N; a migration is never edited once released, only appended. They run
 * in one transaction under an advisory lock (postgres.ts), so replicas starting together apply
 * each migration once.
 *
 * The tables mirror the SQLite store: epoch seconds as BIGINT (audit time in epoch milliseconds),
 * JSONB where SQLite keeps JSON text (audit grant ids and data; keys keep their JWK text as given),
 * `seq` identity columns for recording order, partial indexes for the active-expiry and due-cleanup
 * scans.
 */

import { BINDINGS_AND_QUARANTINES } from './schema.js';

/** Table holding the schema version (one row). */
export const SCHEMA_VERSION_TABLE = 'stint_schema';

/** Creates the version table; runs under the migration lock before the version is read. */
export const CREATE_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS ${SCHEMA_VERSION_TABLE} (
  singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
  version INTEGER NOT NULL
)`;

/** Ordered migrations; the index + 1 is the schema version each one produces. */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE grants (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    credential_fingerprint TEXT NOT NULL,
    cleanup TEXT NOT NULL DEFAULT 'none' CHECK (cleanup IN ('none', 'pending', 'done', 'resolved')),
    cleanup_attempts INTEGER NOT NULL DEFAULT 0,
    cleanup_next_at BIGINT,
    cleanup_error TEXT
  );
  CREATE INDEX grants_identity_state ON grants (identity, state);
  CREATE INDEX grants_active_expiry ON grants (expires_at) WHERE state = 'active';
  CREATE INDEX grants_cleanup_due ON grants (cleanup_next_at) WHERE cleanup = 'pending';

  CREATE TABLE audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL,
    time BIGINT NOT NULL,
    type TEXT NOT NULL,
    request_id TEXT,
    identity TEXT,
    rule TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('allow', 'deny', 'error', 'info')),
    reason TEXT,
    grant_ids JSONB NOT NULL,
    data JSONB NOT NULL
  );
  CREATE INDEX audit_time ON audit (time);
  CREATE INDEX audit_identity_time ON audit (identity, time);
  CREATE INDEX audit_type_time ON audit (type, time);

  CREATE TABLE audit_grants (
    grant_seq BIGINT NOT NULL,
    audit_seq BIGINT NOT NULL,
    PRIMARY KEY (grant_seq, audit_seq)
  );

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
  `,  BINDINGS_AND_QUARANTINES,
];
