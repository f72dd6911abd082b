/**
 * Schema migrations of the SQLite store (schema.ts writes them once for both stores). Migration N
 * (1-based) brings `PRAGMA user_version` from N-1 to N; a migration is never edited once released,
 * only appended.
 */
import { migrations } from './schema.js';

/** Ordered migrations; the index + 1 is the schema version each one produces. */
export const SQLITE_MIGRATIONS: readonly string[] = migrations('sqlite');
