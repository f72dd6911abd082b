/**
 * Schema migrations whose DDL is the same text for SQLite and PostgreSQL (TEXT and BIGINT mean the
 * same in both: SQLite gives BIGINT integer affinity). Each store appends them to its own list
 * (sqlite_schema.ts, postgres_schema.ts); released migrations are never edited.
 */

/** Attestation bindings (trust on first use of a static proof) and identity quarantines; times in epoch milliseconds. */
export const BINDINGS_AND_QUARANTINES = `
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
