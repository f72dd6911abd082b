/**
 * Schema migrations of the PostgreSQL store. Migration N (1-based) brings the version recorded in
 * `stint_schema` from N-1 to N; a migration is never edited once released, only appended. They run
 * in one transaction under an advisory lock (postgres.ts), so replicas starting together apply
 * each migration once.
 *
 * The DDL is the SQLite store's, written once (schema.ts): epoch seconds as BIGINT (audit time in
 * epoch milliseconds), JSONB where SQLite keeps JSON text (audit grant ids and data; keys keep their
 * JWK text as given), `seq` identity columns for recording order.
 */

import { migrations } from './schema.js';

/** Table holding the schema version (one row). */
export const SCHEMA_VERSION_TABLE = 'stint_schema';

/** Creates the version table; runs under the migration lock before the version is read. */
export const CREATE_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS ${SCHEMA_VERSION_TABLE} (
  singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
  version INTEGER NOT NULL
)`;

/** Ordered migrations; the index + 1 is the schema version each one produces. */
export const POSTGRES_MIGRATIONS: readonly string[] = migrations('postgres');
