/** Open the Store the configuration names: the embedded SQLite file or a shared PostgreSQL database. */
import { readSecretRef } from '../config/fields.js';
import type { StoreConfig } from './config.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Open the configured store; PostgreSQL unreachable at start is ERR_UNAVAILABLE (the service refuses to start). */
export async function openStore(config: StoreConfig): Promise<Store> {
  if (config.kind === 'sqlite') {
    return openSqliteStore(config.path, { synchronous: config.synchronous, lockTimeoutMs: config.lockTimeout === undefined ? undefined : config.lockTimeout * 1000 });
  }
  // Loaded only when configured: the embedded default does not carry pg in memory.
  const { openPostgresStore } = await import('./postgres.js');
  return openPostgresStore({
    url: readSecretRef(config.url, 'store.url'),
    keyPath: 'store.url',
    poolSize: config.poolSize,
    connectTimeoutMs: config.connectTimeout * 1000,
    statementTimeoutMs: config.statementTimeout * 1000,
    operationTimeoutMs: config.operationTimeout === undefined ? undefined : config.operationTimeout * 1000,
  });
}
