/**
 * The PostgreSQL Store (node-postgres Pool), for several Stint replicas sharing state. Every query
 * is parameterized and prepared (named, planned once per connection); an issuance (its grants, its
 * audit event and their links) is one statement, so one round trip, committed before the credential
 * leaves. Issuances and audit events queued in one event-loop turn are written together (group
 * commit, like the SQLite store): one statement for the whole batch, each caller answered after its
 * commit; should the batch fail on its data, each is written again alone, so only a bad one fails
 * (a lost connection or a deadline fails the batch's callers as it would each of them). Claiming
 * cleanups uses `FOR UPDATE SKIP LOCKED` and creating a key takes a transaction-scoped advisory
 * lock, so replicas never claim the same grant or fill the same rotation slot twice.
 * Schema migrations run at open, under an advisory lock (postgres_migrate.ts).
 *
 * PostgreSQL text and JSONB cannot hold NUL: a NUL character in a stored string becomes U+FFFD
 * (SQLite keeps it). Errors carry the project's codes (postgres_errors.ts), never the URL or its
 * password.
 */
import { setImmediate } from 'node:timers';
import pg from 'pg';
import { postgresUrlSecrets } from './postgres_url.js';
import { StintError } from '../errors.js';
import { ADVISORY_LOCK_NAMESPACE, KEY_SLOT_LOCK, migratePostgres, postgresSchemaVersion } from './postgres_migrate.js';
import { storeErrorFromPg } from './postgres_errors.js';
import { DeadlineExceeded, Operation, monotonicMs } from './postgres_operation.js';
import { jsonOnceOrValue } from '../telemetry/json_once.js';
import { AUDIT_COLUMNS, GRANT_COLUMNS, INSERT_GRANT_COLUMNS, auditFromRow, auditParams, grantFromRow, grantParams, keyFromRow, keyInSlotParams, keyParams, quarantineFromRow, quarantineInForce, sortKeys, sortQuarantines, type AuditRow, type GrantRow, type KeyRow, type QuarantineRow } from './rows.js';
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

/** PostgreSQL types of INSERT_GRANT_COLUMNS, in order. */
const GRANT_COLUMN_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'bigint', 'text', 'text', 'text'];
/** PostgreSQL types of AUDIT_COLUMNS, in order. */
const AUDIT_COLUMN_TYPES = ['text', 'bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb'];
/** The most writes one group-commit statement carries (a longer queue is split across connections). */
const MAX_BATCH = 64;
/**
 * Issuances and audit events in one statement (one, or a group commit's batch): every grant and
 * every event (one array parameter per column, each inserted in the given order, so the k-th event
 * takes the k-th lowest of the sequence numbers it is given), then the links, as (event ordinal,
 * grant id) pairs. `held` also links to grants already in the store; without it only to the grants
 * of this statement, and the statement reads no table (a cached generic plan looking ids up in
 * `grants` may scan the whole table: it was planned when the table was small). Atomic: if any
 * insert fails, nothing is written.
 */
function recordIssuances(held: boolean): string {
  const linked = held ? `(SELECT seq, id FROM g UNION SELECT seq, id FROM grants WHERE id = ANY($27::text[]))` : 'g';
  return `WITH g AS (
    INSERT INTO grants (${INSERT_GRANT_COLUMNS})
    SELECT ${INSERT_GRANT_COLUMNS} FROM unnest(${GRANT_COLUMN_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})
      WITH ORDINALITY AS u(${INSERT_GRANT_COLUMNS}, ord) ORDER BY ord
    RETURNING seq, id),
  a AS (
    INSERT INTO audit (${AUDIT_COLUMNS})
    SELECT ${AUDIT_COLUMNS} FROM unnest(${AUDIT_COLUMN_TYPES.map((t, i) => `$${i + 16}::${t}[]`).join(', ')})
      WITH ORDINALITY AS v(${AUDIT_COLUMNS}, ord) ORDER BY ord
    RETURNING seq),
  e AS (SELECT seq, row_number() OVER (ORDER BY seq) AS ord FROM a),
  l AS (SELECT DISTINCT ord, grant_id FROM unnest($26::bigint[], $27::text[]) AS l(ord, grant_id))
  INSERT INTO audit_grants (grant_seq, audit_seq)
  SELECT k.seq, e.seq FROM l JOIN e ON e.ord = l.ord JOIN ${linked} k ON k.id = l.grant_id
  ON CONFLICT DO NOTHING`;
}
/**
 * One issuance (or audit event) alone: the grants (column arrays, inserted in order), the event, and
 * its links to the grants it names; `held` as for recordIssuances. Cheaper for the server than a
 * batch of one (no ordinals to match).
 */
function recordIssuance(held: boolean): string {
  const linked = held ? `(SELECT seq FROM g WHERE id = ANY($26::text[]) UNION SELECT seq FROM grants WHERE id = ANY($26::text[]))` : `(SELECT seq FROM g WHERE id = ANY($26::text[]))`;
  return `WITH g AS (
    INSERT INTO grants (${INSERT_GRANT_COLUMNS})
    SELECT ${INSERT_GRANT_COLUMNS} FROM unnest(${GRANT_COLUMN_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})
      WITH ORDINALITY AS u(${INSERT_GRANT_COLUMNS}, ord) ORDER BY ord
    RETURNING seq, id),
  a AS (INSERT INTO audit (${AUDIT_COLUMNS}) VALUES ($16, $17, $18, $19, $20, $21, $22, $23, $24::jsonb, $25::jsonb) RETURNING seq)
  INSERT INTO audit_grants (grant_seq, audit_seq)
  SELECT l.seq, a.seq FROM a CROSS JOIN ${linked} l
  ON CONFLICT DO NOTHING`;
}
/** One write whose event names only its own grants (or none). */
const RECORD_ONE_OWN = recordIssuance(false);
/** One write whose event may name grants the store already holds. */
const RECORD_ONE_HELD = recordIssuance(true);
/** Writes whose events name only grants of the same statement (an issuance's own grants, or none). */
const RECORD_OWN = recordIssuances(false);
/** Writes whose events may name grants the store already holds. */
const RECORD_HELD = recordIssuances(true);
const QUALIFIED_GRANT_COLUMNS = GRANT_COLUMNS.split(', ')
  .map((c) => `g.${c}`)
  .join(', ');
/** Lock the due grants no other claimer holds, push their next attempt to the lease's end, return them with their due time. */
const CLAIM_CLEANUPS = `WITH due AS (
    SELECT seq, cleanup_next_at AS due_at FROM grants WHERE cleanup = 'pending' AND cleanup_next_at <= $1
    ORDER BY cleanup_next_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED)
  UPDATE grants g SET cleanup_next_at = $3 FROM due WHERE g.seq = due.seq
  RETURNING ${QUALIFIED_GRANT_COLUMNS}, due.due_at, due.seq`;

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

/** JSON text for a JSONB parameter (JSONB refuses the escape \u0000 too); throws on what JSON cannot hold. */
function jsonb(value: unknown): string {
  // Through jsonOnce: the audit line to stdout reads the same text instead of serializing the event's data again.
  const text = value === undefined ? undefined : jsonOnceOrValue(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return text.includes('\\u0000') ? text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : text;
}

/** An issuance or audit event waiting for its group commit, its values already serialized. */
interface QueuedWrite {
  readonly operation: 'record_issuance' | 'append_audit';
  /** grantParams of each grant. */
  readonly grants: readonly unknown[][];
  /** auditParams of the event. */
  readonly event: readonly unknown[];
  readonly grantIds: readonly string[];
  /** Its event names a grant that is not its own. */
  readonly namesHeld: boolean;
  /** Its operation deadline (monotonicMs), counted from the call. */
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** recordIssuances' values for `batch`. */
function batchParams(batch: readonly QueuedWrite[]): unknown[] {
  const grants: unknown[][] = GRANT_COLUMN_TYPES.map(() => []);
  const events: unknown[][] = AUDIT_COLUMN_TYPES.map(() => []);
  const linkEvent: number[] = [];
  const linkGrant: string[] = [];
  for (let k = 0; k < batch.length; k++) {
    const w = batch[k]!;
    for (const row of w.grants) for (let i = 0; i < row.length; i++) grants[i]!.push(row[i]);
    for (let i = 0; i < w.event.length; i++) events[i]!.push(w.event[i]);
    for (const id of w.grantIds) {
      linkEvent.push(k + 1);
      linkGrant.push(id);
    }
  }
  return [...grants, ...events, linkEvent, linkGrant];
}

/** A failure the server reports about the data written (a constraint, a value): the statement wrote nothing, and the connection is fine. */
function isDataError(err: unknown): boolean {
  return err instanceof pg.DatabaseError && /^(22|23)/.test(err.code ?? '');
}

class PostgresStoreImpl implements PostgresStore {
  private closed = false;
  private queue: QueuedWrite[] = [];
  private flushScheduled = false;
  /** Group commits under way (close waits for them). */
  private readonly writing = new Set<Promise<void>>();
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: readonly string[],
    private readonly operationTimeoutMs: number,
  ) {}

  schemaVersion(): Promise<number> {
    return this.call('schema_version', async (op) => postgresSchemaVersion(await op.connection()));
  }

  recordIssuance(grants: readonly Grant[], event: AuditEvent): Promise<void> {
    return this.enqueue('record_issuance', grants, event);
  }

  appendAudit(event: AuditEvent): Promise<void> {
    return this.enqueue('append_audit', [], event);
  }

  getGrant(id: string): Promise<Grant | null> {
    return this.call('get_grant', (op) => this.grant(op, sql.SELECT_GRANT, [id]));
  }

  listGrants(filter: GrantFilter = {}): Promise<Grant[]> {
    const q = sql.listGrants(filter);
    return this.call('list_grants', async (op) => (await this.rows<GrantRow>(op, q.sql, q.params)).map(grantFromRow));
  }

  revokeGrant(id: string, at: number, reason: string): Promise<Grant | null> {
    return this.call('revoke_grant', async (op) => (await this.grant(op, sql.REVOKE_GRANT, sql.revokeParams(at, reason, id))) ?? this.grant(op, sql.SELECT_GRANT, [id]));
  }

  revokeIdentity(identity: string, at: number, reason: string): Promise<Grant[]> {
    return this.call('revoke_identity', async (op) => (await this.rows<GrantRow>(op, sql.REVOKE_IDENTITY, sql.revokeParams(at, reason, identity))).map(grantFromRow));
  }

  expireGrants(now: number): Promise<Grant[]> {
    return this.call('expire_grants', async (op) => {
      await this.rows(op, sql.DELETE_EXPIRED_BINDINGS, [now * 1000]);
      await this.rows(op, sql.DELETE_ENDED_QUARANTINES, [now * 1000]);
      return (await this.rows<GrantRow>(op, sql.EXPIRE_GRANTS, [now, now])).map(grantFromRow);
    });
  }

  dueCleanups(now: number, limit: number): Promise<Grant[]> {
    return this.call('due_cleanups', async (op) => (await this.rows<GrantRow>(op, sql.DUE_CLEANUPS, [now, limit])).map(grantFromRow));
  }

  claimCleanups(now: number, limit: number, leaseSeconds: number): Promise<Grant[]> {
    return this.call('claim_cleanups', async (op) => {
      const rows = await op.query<GrantRow & { due_at: number; seq: number }>(CLAIM_CLEANUPS, [now, limit, now + leaseSeconds]);
      return rows.sort((a, b) => a.due_at - b.due_at || a.seq - b.seq).map(grantFromRow);
    });
  }

  recordCleanup(id: string, outcome: CleanupOutcome): Promise<Grant | null> {
    return this.call(
      'record_cleanup',
      async (op) =>
        (await (outcome.ok ? this.grant(op, sql.CLEANUP_DONE, [id]) : this.grant(op, sql.CLEANUP_FAILED, [outcome.nextAt, outcome.error, id]))) ??
        this.grant(op, sql.SELECT_GRANT, [id]),
    );
  }

  extendGrant(id: string, expiresAt: number): Promise<Grant | null> {
    return this.call('extend_grant', (op) => this.grant(op, sql.EXTEND_GRANT, [expiresAt, id]));
  }

  liveRevocationHandles(kind: string, now: number): Promise<string[]> {
    return this.call('live_revocation_handles', async (op) => (await this.rows<{ revocation_handle: string }>(op, sql.LIVE_HANDLES, [kind, now, kind])).map((r) => r.revocation_handle));
  }

  resolveCleanup(id: string): Promise<Grant | null> {
    return this.call('resolve_cleanup', async (op) => (await this.grant(op, sql.CLEANUP_RESOLVED, [id])) ?? this.grant(op, sql.SELECT_GRANT, [id]));
  }

  countActiveGrants(now: number): Promise<number> {
    return this.call('count_active_grants', async (op) => (await this.rows<{ n: number }>(op, sql.COUNT_ACTIVE, [now]))[0]?.n ?? 0);
  }

  countStuckGrants(stuckAfterAttempts: number): Promise<number> {
    return this.call('count_stuck_grants', async (op) => (await this.rows<{ n: number }>(op, sql.COUNT_STUCK, [stuckAfterAttempts]))[0]?.n ?? 0);
  }

  queryAudit(filter: AuditFilter = {}): Promise<AuditEvent[]> {
    const q = sql.queryAudit(filter);
    return this.call('query_audit', async (op) => (await this.rows<AuditRow>(op, q.sql, q.params)).map(auditFromRow));
  }

  listKeys(): Promise<StoredKey[]> {
    return this.call('list_keys', async (op) => sortKeys((await this.rows<KeyRow>(op, sql.SELECT_KEYS, [])).map(keyFromRow)));
  }

  putKey(key: StoredKey): Promise<void> {
    return this.call('put_key', async (op) => {
      await this.rows(op, sql.UPSERT_KEY, keyParams(key));
    });
  }

  insertKey(key: StoredKey): Promise<boolean> {
    return this.call('insert_key', (op) =>
      // Under READ COMMITTED, NOT EXISTS alone lets two replicas both see a free slot; the lock serialises them.
      op.transaction(async () => {
        await op.query('SELECT pg_advisory_xact_lock($1, $2)', [ADVISORY_LOCK_NAMESPACE, KEY_SLOT_LOCK]);
        return (await op.run(pgSql(sql.INSERT_KEY_IN_SLOT), keyInSlotParams(key))).rowCount === 1;
      }),
    );
  }

  deleteKey(kid: string): Promise<void> {
    return this.call('delete_key', async (op) => {
      await this.rows(op, sql.DELETE_KEY, [kid]);
    });
  }

  bindAttestation(input: AttestationBindingInput): Promise<AttestationBinding> {
    const { kind, key, binding, now, expiresAt } = input;
    return this.call('bind_attestation', async (op) => {
      // A concurrent first binder makes the upsert wait for its commit, then see its row: no second winner.
      for (let attempt = 0; attempt < 5; attempt++) {
        const [won] = await this.rows<{ binding: string }>(op, sql.BIND_ATTESTATION, [kind, key, binding, now, expiresAt]);
        if (won) return { binding: won.binding, firstUse: true };
        const [held] = await this.rows<{ binding: string }>(op, sql.SELECT_BINDING, [kind, key, now]);
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
      await this.rows(op, sql.UPSERT_QUARANTINE, [q.identity, q.reason, q.actor, q.at, q.until]);
    });
  }

  liftQuarantine(identity: string, at: number): Promise<boolean> {
    return this.call('lift_quarantine', async (op) => {
      const [row] = await this.rows<{ ends_at: number | null }>(op, sql.DELETE_QUARANTINE, [identity]);
      return row !== undefined && quarantineInForce(row.ends_at, at);
    });
  }

  activeQuarantine(identity: string, now: number): Promise<Quarantine | null> {
    return this.call('active_quarantine', async (op) => {
      const [row] = await this.rows<QuarantineRow>(op, sql.SELECT_ACTIVE_QUARANTINE, [identity, now]);
      return row ? quarantineFromRow(row) : null;
    });
  }

  listQuarantines(now: number): Promise<Quarantine[]> {
    return this.call('list_quarantines', async (op) => sortQuarantines((await this.rows<QuarantineRow>(op, sql.SELECT_ACTIVE_QUARANTINES, [now])).map(quarantineFromRow)));
  }

  databaseTime(): Promise<number> {
    // clock_timestamp(), not now(): the moment of the statement, not of its transaction.
    return this.call('database_time', async (op) => Number((await op.query<{ ms: string | number }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms', []))[0]?.ms));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // What was accepted before close is still written.
    this.flush();
    while (this.writing.size > 0) await Promise.all(this.writing);
    await this.pool.end();
  }

  /** Queue a write for this turn's group commit (its values serialized now: one JSON cannot hold fails alone, before anything is written). */
  private enqueue(operation: QueuedWrite['operation'], grants: readonly Grant[], event: AuditEvent): Promise<void> {
    if (this.closed) return Promise.reject(new StintError('ERR_UNAVAILABLE', 'store closed'));
    let rows: unknown[][];
    let values: unknown[];
    try {
      rows = grants.map(grantParams);
      values = auditParams(event, jsonb);
    } catch (err) {
      return Promise.reject(this.failure(err, operation));
    }
    const deadline = monotonicMs() + this.operationTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const namesHeld = event.grantIds.some((id) => !grants.some((g) => g.id === id));
      this.queue.push({ operation, grants: rows, event: values, grantIds: [...event.grantIds], namesHeld, deadline, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushBound);
      }
    });
  }

  /** Start writing the queue: up to MAX_BATCH writes per statement, each batch on its own connection. */
  private flush(): void {
    this.flushScheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (let i = 0; i < queue.length; i += MAX_BATCH) {
      const writing = this.writeBatch(queue.slice(i, i + MAX_BATCH));
      this.writing.add(writing);
      void writing.finally(() => this.writing.delete(writing));
    }
  }

  /**
   * One statement for the batch, committed before any caller is answered. If the server refuses the
   * batch's data, nothing of it was written: each write is tried again alone (under its own deadline),
   * so only the bad ones fail. Any other failure (deadline, connection, server unavailable) is each
   * caller's, as it would have been alone.
   */
  private async writeBatch(batch: readonly QueuedWrite[]): Promise<void> {
    if (batch.length === 1) return this.writeOne(batch[0]!);
    const op = new Operation(this.pool, this.operationTimeoutMs, batch[0]!.deadline);
    let failed = false;
    let error: unknown;
    try {
      await op.query(batch.some((w) => w.namesHeld) ? RECORD_HELD : RECORD_OWN, batchParams(batch));
    } catch (err) {
      failed = true;
      error = err;
    } finally {
      op.finish();
    }
    if (!failed) {
      for (const w of batch) w.resolve();
    } else if (isDataError(error)) {
      await Promise.all(batch.map((w) => this.writeOne(w)));
    } else {
      for (const w of batch) w.reject(this.failure(error, w.operation));
    }
  }

  /** One write alone, in one statement: committed (durable) before it answers. */
  private writeOne(w: QueuedWrite): Promise<void> {
    const params = [...GRANT_COLUMN_TYPES.map((_, i) => w.grants.map((r) => r[i])), ...w.event, w.grantIds];
    return this.run(w.operation, (op) => op.query(w.namesHeld ? RECORD_ONE_HELD : RECORD_ONE_OWN, params), w.deadline).then(() => w.resolve(), w.reject);
  }

  /** The rows of a shared statement (sql.ts), its placeholders rewritten. */
  private rows<R extends pg.QueryResultRow = pg.QueryResultRow>(op: Operation, text: string, params: unknown[]): Promise<R[]> {
    return op.query<R>(pgSql(text), params);
  }

  /** The grant row a shared statement returns, as a grant. */
  private async grant(op: Operation, text: string, params: unknown[]): Promise<Grant | null> {
    const [row] = await this.rows<GrantRow>(op, text, params);
    return row ? grantFromRow(row) : null;
  }

  /** One store operation under one deadline: refused after close, failures classified, the connection handed back. */
  private async call<T>(operation: string, fn: (op: Operation) => Promise<T>): Promise<T> {
    if (this.closed) throw new StintError('ERR_UNAVAILABLE', 'store closed');
    return this.run(operation, fn);
  }

  /** Run `fn` on one connection within the operation deadline (or `deadline`, monotonicMs), its failure as a Stint error. */
  private async run<T>(operation: string, fn: (op: Operation) => Promise<T>, deadline?: number): Promise<T> {
    const op = new Operation(this.pool, this.operationTimeoutMs, deadline);
    try {
      return await fn(op);
    } catch (err) {
      throw this.failure(err, operation);
    } finally {
      op.finish();
    }
  }

  /** A failure of `operation` as a Stint error. */
  private failure(err: unknown, operation: string): StintError {
    if (err instanceof DeadlineExceeded) {
      return new StintError('ERR_UNAVAILABLE', `PostgreSQL store: ${operation} failed: ${err.message}`, { postgres: 'Deadline' }, { cause: err });
    }
    return storeErrorFromPg(err, operation, this.secrets);
  }
}

function ignore(): void {}

