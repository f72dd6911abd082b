/**
 * The PostgreSQL Store (node-postgres Pool), for several Stint replicas sharing state. Every query
 * is parameterized; an issuance (its grants and its audit event) commits in one transaction;
 * claiming cleanups uses `FOR UPDATE SKIP LOCKED` and creating a key takes a transaction-scoped
 * advisory lock, so replicas never claim the same grant or fill the same rotation slot twice.
 * Schema migrations run at open, under an advisory lock (postgres_migrate.ts).
 *
 * PostgreSQL text and JSONB cannot hold NUL: a NUL character in a stored string becomes U+FFFD
 * (SQLite keeps it). Errors carry the project's codes (postgres_errors.ts), never the URL or its
 * password.
 */
import pg from 'pg';
import { postgresUrlSecrets } from '../config/fields.js';
import { StintError } from '../errors.js';
import { ADVISORY_LOCK_NAMESPACE, KEY_SLOT_LOCK, migratePostgres, postgresSchemaVersion } from './postgres_migrate.js';
import { storeErrorFromPg } from './postgres_errors.js';
import { DeadlineExceeded, Operation } from './postgres_operation.js';
import {
  AUDIT_COLUMNS,
  GRANT_COLUMNS,
  INLINE_REVOKE_GRACE_SECONDS,
  INSERT_GRANT_COLUMNS,
  grantFromRow,
  grantParams,
  keyFromRow,
  quarantineFromRow,
  quarantineInForce,
  sortQuarantines,
  type GrantRow,
  type KeyRow,
  type QuarantineRow,
} from './rows.js';
import * as sql from './sql.js';
import { pgSql } from './sql.js';
import type { AttestationBinding, AttestationBindingInput, AuditEvent, AuditFilter, CleanupOutcome, Grant, GrantFilter, Quarantine, Store, StoredKey } from './store.js';

/** Options of openPostgresStore. */
export interface PostgresStoreOptions {
  /** Connection URL (a secret: never shown in errors). */
  readonly url: string;
  /** Configuration key path of the URL, for errors (default `store.url`). */
  readonly keyPath?: string;
  /** Connections of this replica's pool (default 10). */
  readonly poolSize?: number;
  /** Timeout of opening one connection (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** statement_timeout of every connection (default 10 s). */
  readonly statementTimeoutMs?: number;
  /**
   * One deadline per store operation, bounding the connection checkout, every statement and a
   * rollback together (default statementTimeoutMs + 1 s); past it the operation fails with
   * ERR_UNAVAILABLE and its connection is destroyed.
   */
  readonly operationTimeoutMs?: number;
}

/** The PostgreSQL implementation of Store. */
export interface PostgresStore extends Store {
  /** The schema version the database is at. */
  schemaVersion(): Promise<number>;
}

interface AuditRow {
  id: string;
  time: number;
  type: AuditEvent['type'];
  request_id: string | null;
  identity: string | null;
  rule: string | null;
  outcome: AuditEvent['outcome'];
  reason: string | null;
  grant_ids: string[];
  data: Record<string, unknown>;
}

const REVOKE_SET = `state = 'revoked', revoked_at = $1::bigint, revoked_reason = $2, cleanup = 'pending', cleanup_next_at = $1::bigint + ${INLINE_REVOKE_GRACE_SECONDS}`;
const INSERT_GRANT = `INSERT INTO grants (${INSERT_GRANT_COLUMNS}) VALUES (${placeholders(1, 15)})`;
/** The event, and a link to each grant it names that the store holds (grants of the same transaction included). */
const INSERT_AUDIT = `WITH a AS (INSERT INTO audit (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb) RETURNING seq)
  INSERT INTO audit_grants (grant_seq, audit_seq) SELECT g.seq, a.seq FROM a CROSS JOIN grants g WHERE g.id = ANY($11::text[]) ON CONFLICT DO NOTHING`;
const QUALIFIED_GRANT_COLUMNS = GRANT_COLUMNS.split(', ')
  .map((c) => `g.${c}`)
  .join(', ');
/** Lock the due grants no other claimer holds, push their next attempt to the lease's end, return them with their due time. */
const CLAIM_CLEANUPS = `WITH due AS (
    SELECT seq, cleanup_next_at AS due_at FROM grants WHERE cleanup = 'pending' AND cleanup_next_at <= $1
    ORDER BY cleanup_next_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED)
  UPDATE grants g SET cleanup_next_at = $3 FROM due WHERE g.seq = due.seq
  RETURNING ${QUALIFIED_GRANT_COLUMNS}, due.due_at, due.seq`;
const KEY_VALUES = '$1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::bigint, $8::bigint, $9::bigint';
const KEY_COLUMNS = 'kid, alg, private_jwk, public_jwk, state, created_at, activated_at, retired_at, publish_until';
const INSERT_KEY_IN_SLOT = `INSERT INTO keys (${KEY_COLUMNS}) SELECT ${KEY_VALUES}
  WHERE NOT EXISTS (SELECT 1 FROM keys WHERE kid = $1 OR (state = 'current' AND $5::text = 'current') OR (state = 'next' AND alg = $2 AND $5::text = 'next'))
  ON CONFLICT (kid) DO NOTHING`;

/** Open the store: connect, apply migrations; throws ERR_UNAVAILABLE when PostgreSQL cannot be reached. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const secrets = postgresUrlSecrets(options.url, options.keyPath ?? 'store.url');
  const statementTimeoutMs = options.statementTimeoutMs ?? 10_000;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    statement_timeout: statementTimeoutMs,
    // A replica that stalls inside a transaction must not hold row or advisory locks for long.
    idle_in_transaction_session_timeout: Math.max(60_000, 2 * statementTimeoutMs),
    idleTimeoutMillis: 30_000,
    application_name: 'stint',
    keepAlive: true,
    types: { getTypeParser: typeParser },
  });
  // An idle connection that dies (server restart, terminated) is dropped; the next query opens another.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.on('error', ignore);
    try {
      await migratePostgres(client);
    } finally {
      client.off('error', ignore);
      client.release(true);
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw storeErrorFromPg(err, 'open', secrets);
  }
  return new PostgresStoreImpl(pool, secrets, options.operationTimeoutMs ?? statementTimeoutMs + 1000);
}

/** BIGINT (epoch seconds and milliseconds, counts) as a JS number; everything else as node-postgres parses it. */
const typeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === pg.types.builtins.INT8 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser;

function placeholders(from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');
}

/** JSON text for a JSONB parameter (JSONB refuses the escape \u0000 too); throws on what JSON cannot hold. */
function jsonb(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return text.includes('\\u0000') ? text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : text;
}

function auditParams(e: AuditEvent): unknown[] {
  // Serialized first: an event JSON cannot hold fails before anything is written.
  return [e.id, e.time, e.type, e.requestId, e.identity, e.rule, e.outcome, e.reason, jsonb(e.grantIds), jsonb(e.data), [...e.grantIds]];
}

function keyParams(k: StoredKey): unknown[] {
  return [k.kid, k.alg, k.privateJwk, k.publicJwk, k.state, k.createdAt, k.activatedAt, k.retiredAt, k.publishUntil];
}

function auditFromRow(r: AuditRow): AuditEvent {
  return {
    id: r.id,
    time: r.time,
    type: r.type,
    requestId: r.request_id,
    identity: r.identity,
    rule: r.rule,
    outcome: r.outcome,
    reason: r.reason,
    grantIds: r.grant_ids,
    data: r.data,
  };
}

class PostgresStoreImpl implements PostgresStore {
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: readonly string[],
    private readonly operationTimeoutMs: number,
  ) {}

  schemaVersion(): Promise<number> {
    return this.call('schema_version', async (op) => postgresSchemaVersion(await op.connection()));
  }

  recordIssuance(grants: readonly Grant[], event: AuditEvent): Promise<void> {
    return this.call('record_issuance', async (op) => {
      const audit = auditParams(event);
      if (grants.length === 0) {
        await op.query(INSERT_AUDIT, audit);
        return;
      }
      await op.transaction(async () => {
        for (const g of grants) await op.query(INSERT_GRANT, grantParams(g));
        await op.query(INSERT_AUDIT, audit);
      });
    });
  }

  appendAudit(event: AuditEvent): Promise<void> {
    return this.call('append_audit', async (op) => {
      await op.query(INSERT_AUDIT, auditParams(event));
    });
  }

  getGrant(id: string): Promise<Grant | null> {
    return this.call('get_grant', (op) => this.selectGrant(op, id));
  }

  listGrants(filter: GrantFilter = {}): Promise<Grant[]> {
    return this.call('list_grants', async (op) => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.identity !== undefined) where.push(`identity = $${params.push(filter.identity)}`);
      if (filter.state !== undefined) where.push(`state = $${params.push(filter.state)}`);
      if (filter.stuckAfterAttempts !== undefined) where.push(`cleanup = 'pending' AND cleanup_attempts >= $${params.push(filter.stuckAfterAttempts)}`);
      const limit = `$${params.push(limitOf(filter.limit))}`;
      const sql = `SELECT ${GRANT_COLUMNS} FROM grants${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${limit}`;
      return (await op.query<GrantRow>(sql, params)).map(grantFromRow);
    });
  }

  revokeGrant(id: string, at: number, reason: string): Promise<Grant | null> {
    return this.call('revoke_grant', async (op) => {
      const [row] = await op.query<GrantRow>(`UPDATE grants SET ${REVOKE_SET} WHERE id = $3 AND state = 'active' RETURNING ${GRANT_COLUMNS}`, [at, reason, id]);
      return row ? grantFromRow(row) : this.selectGrant(op, id);
    });
  }

  revokeIdentity(identity: string, at: number, reason: string): Promise<Grant[]> {
    return this.call('revoke_identity', async (op) =>
      (await op.query<GrantRow>(`UPDATE grants SET ${REVOKE_SET} WHERE identity = $3 AND state = 'active' RETURNING ${GRANT_COLUMNS}`, [at, reason, identity])).map(grantFromRow),
    );
  }

  expireGrants(now: number): Promise<Grant[]> {
    return this.call('expire_grants', async (op) => {
      await op.query(pgSql(sql.DELETE_EXPIRED_BINDINGS), [now * 1000]);
      await op.query(pgSql(sql.DELETE_ENDED_QUARANTINES), [now * 1000]);
      return (
        await op.query<GrantRow>(
          `UPDATE grants SET state = 'expired', cleanup = 'pending', cleanup_next_at = $1 WHERE state = 'active' AND expires_at <= $1 RETURNING ${GRANT_COLUMNS}`,
          [now],
        )
      ).map(grantFromRow);
    });
  }

  dueCleanups(now: number, limit: number): Promise<Grant[]> {
    return this.call('due_cleanups', async (op) =>
      (
        await op.query<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM grants WHERE cleanup = 'pending' AND cleanup_next_at <= $1 ORDER BY cleanup_next_at, seq LIMIT $2`, [now, limit])
      ).map(grantFromRow),
    );
  }

  claimCleanups(now: number, limit: number, leaseSeconds: number): Promise<Grant[]> {
    return this.call('claim_cleanups', async (op) => {
      const rows = await op.query<GrantRow & { due_at: number; seq: number }>(CLAIM_CLEANUPS, [now, limit, now + leaseSeconds]);
      return rows.sort((a, b) => a.due_at - b.due_at || a.seq - b.seq).map(grantFromRow);
    });
  }

  recordCleanup(id: string, outcome: CleanupOutcome): Promise<Grant | null> {
    return this.call('record_cleanup', async (op) => {
      const [row] = outcome.ok
        ? await op.query<GrantRow>(
            `UPDATE grants SET cleanup = 'done', cleanup_next_at = NULL, cleanup_error = NULL, state = CASE state WHEN 'expired' THEN 'reaped' ELSE state END
             WHERE id = $1 AND cleanup = 'pending' RETURNING ${GRANT_COLUMNS}`,
            [id],
          )
        : await op.query<GrantRow>(
            `UPDATE grants SET cleanup_attempts = cleanup_attempts + 1, cleanup_next_at = $1, cleanup_error = $2 WHERE id = $3 AND cleanup = 'pending' RETURNING ${GRANT_COLUMNS}`,
            [outcome.nextAt, outcome.error, id],
          );
      return row ? grantFromRow(row) : this.selectGrant(op, id);
    });
  }

  extendGrant(id: string, expiresAt: number): Promise<Grant | null> {
    return this.call('extend_grant', async (op) => {
      const [row] = await op.query<GrantRow>(`UPDATE grants SET expires_at = $1 WHERE id = $2 AND state = 'active' RETURNING ${GRANT_COLUMNS}`, [expiresAt, id]);
      return row ? grantFromRow(row) : null;
    });
  }

  liveRevocationHandles(kind: string, now: number): Promise<string[]> {
    return this.call('live_revocation_handles', async (op) =>
      (
        await op.query<{ revocation_handle: string }>(
          `SELECT revocation_handle FROM grants WHERE kind = $1 AND state = 'active' AND expires_at > $2 AND revocation_handle IS NOT NULL
           UNION SELECT revocation_handle FROM grants WHERE kind = $1 AND cleanup = 'pending' AND revocation_handle IS NOT NULL`,
          [kind, now],
        )
      ).map((r) => r.revocation_handle),
    );
  }

  resolveCleanup(id: string): Promise<Grant | null> {
    return this.call('resolve_cleanup', async (op) => {
      const [row] = await op.query<GrantRow>(`UPDATE grants SET cleanup = 'resolved', cleanup_next_at = NULL WHERE id = $1 AND cleanup = 'pending' RETURNING ${GRANT_COLUMNS}`, [id]);
      return row ? grantFromRow(row) : this.selectGrant(op, id);
    });
  }

  countActiveGrants(now: number): Promise<number> {
    return this.call('count_active_grants', (op) => this.count(op, `SELECT count(*) AS n FROM grants WHERE state = 'active' AND expires_at > $1`, [now]));
  }

  countStuckGrants(stuckAfterAttempts: number): Promise<number> {
    return this.call('count_stuck_grants', (op) => this.count(op, `SELECT count(*) AS n FROM grants WHERE cleanup = 'pending' AND cleanup_attempts >= $1`, [stuckAfterAttempts]));
  }

  queryAudit(filter: AuditFilter = {}): Promise<AuditEvent[]> {
    return this.call('query_audit', async (op) => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.since !== undefined) where.push(`time >= $${params.push(filter.since)}`);
      if (filter.identity !== undefined) where.push(`identity = $${params.push(filter.identity)}`);
      if (filter.type !== undefined) where.push(`type = $${params.push(filter.type)}`);
      if (filter.grantId !== undefined) {
        where.push(`seq IN (SELECT audit_seq FROM audit_grants WHERE grant_seq = (SELECT seq FROM grants WHERE id = $${params.push(filter.grantId)}))`);
      }
      const limit = `$${params.push(limitOf(filter.limit))}`;
      const sql = `SELECT ${AUDIT_COLUMNS} FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, seq DESC LIMIT ${limit}`;
      return (await op.query<AuditRow>(sql, params)).map(auditFromRow);
    });
  }

  listKeys(): Promise<StoredKey[]> {
    return this.call('list_keys', async (op) => (await op.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM keys ORDER BY created_at, kid COLLATE "C"`, [])).map(keyFromRow));
  }

  putKey(key: StoredKey): Promise<void> {
    return this.call('put_key', async (op) => {
      await op.query(
        `INSERT INTO keys (${KEY_COLUMNS}) VALUES (${KEY_VALUES})
         ON CONFLICT (kid) DO UPDATE SET alg = excluded.alg, private_jwk = excluded.private_jwk, public_jwk = excluded.public_jwk,
           state = excluded.state, created_at = excluded.created_at, activated_at = excluded.activated_at,
           retired_at = excluded.retired_at, publish_until = excluded.publish_until`,
        keyParams(key),
      );
    });
  }

  insertKey(key: StoredKey): Promise<boolean> {
    return this.call('insert_key', (op) =>
      // Under READ COMMITTED, NOT EXISTS alone lets two replicas both see a free slot; the lock serialises them.
      op.transaction(async () => {
        await op.query('SELECT pg_advisory_xact_lock($1, $2)', [ADVISORY_LOCK_NAMESPACE, KEY_SLOT_LOCK]);
        return (await op.run(INSERT_KEY_IN_SLOT, keyParams(key))).rowCount === 1;
      }),
    );
  }

  deleteKey(kid: string): Promise<void> {
    return this.call('delete_key', async (op) => {
      await op.query('DELETE FROM keys WHERE kid = $1', [kid]);
    });
  }

  bindAttestation(input: AttestationBindingInput): Promise<AttestationBinding> {
    return this.call('bind_attestation', async (op) => {
      const { kind, key, binding, now, expiresAt } = input;
      // A concurrent first binder makes the upsert wait for its commit, then see its row: no second winner.
      for (let attempt = 0; attempt < 5; attempt++) {
        const [won] = await op.query<{ binding: string }>(pgSql(sql.BIND_ATTESTATION), [kind, key, binding, now, expiresAt]);
        if (won) return { binding: won.binding, firstUse: true };
        const [held] = await op.query<{ binding: string }>(pgSql(sql.SELECT_BINDING), [kind, key, now]);
        if (held) return { binding: held.binding, firstUse: false };
        // The binding that held was removed between the two statements: try again.
      }
      throw new StintError('ERR_UNAVAILABLE', 'PostgreSQL store: bind_attestation kept racing an unbind', { postgres: 'BindingRace' });
    });
  }

  unbindAttestation(kind: string, key: string): Promise<boolean> {
    return this.call('unbind_attestation', async (op) => ((await op.run(pgSql(sql.DELETE_BINDING), [kind, key])).rowCount ?? 0) > 0);
  }

  quarantineIdentity(q: Quarantine): Promise<void> {
    return this.call('quarantine_identity', async (op) => {
      await op.query(pgSql(sql.UPSERT_QUARANTINE), [q.identity, q.reason, q.actor, q.at, q.until]);
    });
  }

  liftQuarantine(identity: string, at: number): Promise<boolean> {
    return this.call('lift_quarantine', async (op) => {
      const [row] = await op.query<{ ends_at: number | null }>(pgSql(sql.DELETE_QUARANTINE), [identity]);
      return row !== undefined && quarantineInForce(row.ends_at, at);
    });
  }

  activeQuarantine(identity: string, now: number): Promise<Quarantine | null> {
    return this.call('active_quarantine', async (op) => {
      const [row] = await op.query<QuarantineRow>(pgSql(sql.SELECT_ACTIVE_QUARANTINE), [identity, now]);
      return row ? quarantineFromRow(row) : null;
    });
  }

  listQuarantines(now: number): Promise<Quarantine[]> {
    return this.call('list_quarantines', async (op) => sortQuarantines((await op.query<QuarantineRow>(pgSql(sql.SELECT_ACTIVE_QUARANTINES), [now])).map(quarantineFromRow)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async selectGrant(op: Operation, id: string): Promise<Grant | null> {
    const [row] = await op.query<GrantRow>(`SELECT ${GRANT_COLUMNS} FROM grants WHERE id = $1`, [id]);
    return row ? grantFromRow(row) : null;
  }

  private async count(op: Operation, sql: string, params: unknown[]): Promise<number> {
    const [row] = await op.query<{ n: number }>(sql, params);
    return row?.n ?? 0;
  }

  /** One store operation under one deadline: refused after close, failures classified, the connection handed back. */
  private async call<T>(operation: string, fn: (op: Operation) => Promise<T>): Promise<T> {
    if (this.closed) throw new StintError('ERR_UNAVAILABLE', 'store closed');
    const op = new Operation(this.pool, this.operationTimeoutMs);
    try {
      return await fn(op);
    } catch (err) {
      if (err instanceof DeadlineExceeded) {
        throw new StintError('ERR_UNAVAILABLE', `PostgreSQL store: ${operation} failed: ${err.message}`, { postgres: 'Deadline' }, { cause: err });
      }
      throw storeErrorFromPg(err, operation, this.secrets);
    } finally {
      op.finish();
    }
  }
}

function ignore(): void {}

function limitOf(limit: number | undefined): number | null {
  return limit !== undefined && Number.isFinite(limit) && limit > 0 ? Math.floor(limit) : null;
}
