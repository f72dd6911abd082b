/**
 * Bring a PostgreSQL store's schema up to date: one transaction holding a transaction-scoped
 * advisory lock, so replicas starting together queue behind each other and each migration runs
 * once (CREATE TABLE IF NOT EXISTS alone races between sessions). A database whose schema is newer
 * than this build is refused, as the SQLite store does.
 */
import type pg from 'pg';
import { ConfigError } from '../errors.js';
import { CREATE_VERSION_TABLE, POSTGRES_MIGRATIONS, SCHEMA_VERSION_TABLE } from './postgres_schema.js';

/** Advisory lock keys (pg_advisory_xact_lock(int4, int4)): Stint's namespace, then the purpose. */
export const ADVISORY_LOCK_NAMESPACE = 0x7374696e; // 'stin'
export const MIGRATION_LOCK = 1;
export const KEY_SLOT_LOCK = 2;

/** Apply the pending migrations on `client` (checked out of the pool by the caller). */
export async function migratePostgres(client: pg.ClientBase): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [ADVISORY_LOCK_NAMESPACE, MIGRATION_LOCK]);
    await client.query(CREATE_VERSION_TABLE);
    const found = await client.query<{ version: number }>(`SELECT version FROM ${SCHEMA_VERSION_TABLE}`);
    const version = Number(found.rows[0]?.version ?? 0);
    const supported = POSTGRES_MIGRATIONS.length;
    if (version > supported) {
      throw new ConfigError('ERR_CONFIG_INVALID', 'store', `schema version ${version} is newer than this Stint supports (${supported})`, { version, supported });
    }
    for (let v = version; v < supported; v++) await client.query(POSTGRES_MIGRATIONS[v]!);
    if (version < supported) {
      await client.query(
        `INSERT INTO ${SCHEMA_VERSION_TABLE} (version) VALUES ($1) ON CONFLICT (singleton) DO UPDATE SET version = excluded.version`,
        [supported],
      );
    }
    await client.query('COMMIT');
    return supported;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The schema version recorded in the database (0 before the first migration). */
export async function postgresSchemaVersion(client: pg.ClientBase | pg.Pool): Promise<number> {
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [SCHEMA_VERSION_TABLE]);
  if (!exists.rows[0]?.t) return 0;
  const r = await client.query<{ version: number }>(`SELECT version FROM ${SCHEMA_VERSION_TABLE}`);
  return Number(r.rows[0]?.version ?? 0);
}
