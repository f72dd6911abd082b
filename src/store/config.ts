/**
 * Configuration key `store`: the embedded SQLite file (one replica) or a PostgreSQL database that
 * several replicas share. The PostgreSQL URL is a secret reference (`{ env: NAME }` or
 * `{ file: PATH }`), never inlined.
 */
import { z } from 'zod';
import { positiveDurationSchema, secretRefSchema } from '../config/fields.js';

/** `store: { kind: sqlite, path, synchronous?, lockTimeout? }`. */
export const sqliteStoreConfigSchema = z
  .object({
    kind: z.literal('sqlite'),
    path: z.string().min(1),
    /** `full`: every commit is on disk before a credential leaves (survives power loss; an fsync per group commit). Default `normal`. */
    synchronous: z.enum(['normal', 'full']).optional(),
    /** How long an operation retries a database locked by another process before ERR_UNAVAILABLE (default 2s). */
    lockTimeout: positiveDurationSchema.optional(),
  })
  .strict();

/** `store: { kind: postgres, url, ... }`. */
export const postgresStoreConfigSchema = z
  .object({
    kind: z.literal('postgres'),
    /** Connection URL (`postgresql://user:password@host:port/database?sslmode=...`), by reference. */
    url: secretRefSchema,
    /** Connections per replica. */
    poolSize: z.number().int().min(2).max(200).default(10),
    /** Timeout of opening one connection. */
    connectTimeout: positiveDurationSchema.default(5),
    /** statement_timeout of every connection. */
    statementTimeout: positiveDurationSchema.default(10),
    /** One deadline per store operation: connection checkout, statements and rollback together (default statementTimeout + 1s). */
    operationTimeout: positiveDurationSchema.optional(),
  })
  .strict();

/** The `store` section. */
export const storeConfigSchema = z.discriminatedUnion('kind', [sqliteStoreConfigSchema, postgresStoreConfigSchema]);
export type StoreConfig = z.infer<typeof storeConfigSchema>;
export type PostgresStoreConfig = z.infer<typeof postgresStoreConfigSchema>;
