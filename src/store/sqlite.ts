/**
 * The embedded SQLite Store (better-sqlite3): WAL journal, synchronous=NORMAL (FULL on request:
 * every commit reaches the disk before the caller hears of it, at the cost of an fsync per group
 * commit), prepared statements reused across calls, schema versioned by `PRAGMA user_version`.
 * The database and its -wal/-shm files are mode 0600 because they hold private signing keys.
 *
 * better-sqlite3 is synchronous: a busy timeout would wait for another connection's lock on the
 * event loop, freezing every request and probe. So the busy timeout is 0 and a locked database is
 * retried asynchronously, with backoff, until the lock deadline, then refused with ERR_UNAVAILABLE
 * (retryable). A full disk is ERR_UNAVAILABLE too; the process stays up and reads keep working.
 *
 * The issuance path is group-committed: recordIssuance and appendAudit queue their write and the
 * queue is flushed once per event-loop turn (setImmediate) in one transaction, so concurrent
 * exchanges share the commit; one issuance still commits all-or-nothing (a failed write sends the
 * batch through again with each issuance in its own savepoint). Each promise settles only after
 * the commit that holds its rows. WAL checkpoints (the only fsyncs under synchronous=NORMAL) run in
 * a worker thread, off the event loop, while the store is taking issuances: the worker (a V8
 * isolate, ~9 MiB resident) starts once group commits come in (not for a few start-up events) and
 * stops after a minute without one; meanwhile SQLite's own checkpoint covers the occasional write.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
// Imported, not the global: tests that fake the global timers must not stall the group commit.
import { setImmediate, setTimeout, clearTimeout, setInterval, clearInterval } from 'node:timers';
import Database from 'better-sqlite3';
import { ConfigError, StintError } from '../errors.js';
import { startCheckpointer, type Checkpointer } from './sqlite_checkpointer.js';
import { SQLITE_MIGRATIONS } from './sqlite_schema.js';
import { AUDIT_COLUMNS, auditFromRow, auditParams, grantFromRow, grantParams, keyFromRow, keyInSlotParams, keyParams, quarantineFromRow, quarantineInForce, sortKeys, sortQuarantines, type AuditRow, type GrantRow, type KeyRow, type QuarantineRow } from './rows.js';
import * as sql from './sql.js';
import { jsonOnceOrValue } from '../telemetry/json_once.js';
import type { AttestationBinding, AttestationBindingInput, AuditEvent, AuditFilter, CleanupOutcome, Grant, GrantFilter, Quarantine, Store, StoredKey } from './store.js';

/** The SQLite implementation of Store. */
export interface SqliteStore extends Store {
  /** Absolute path of the database file (or `:memory:`). */
  readonly path: string;
  /** The schema version the database is at. */
  schemaVersion(): number;
  /** The connection's `synchronous` setting. */
  synchronous(): SqliteSynchronous;
}

/** `synchronous` of the SQLite connection: normal (default; a power loss may lose the last commits) or full. */
export type SqliteSynchronous = 'normal' | 'full';

/** Options of openSqliteStore. */
export interface SqliteStoreOptions {
  /** `full` makes each commit durable on power loss (an fsync per group commit); default `normal`. */
  readonly synchronous?: SqliteSynchronous;
  /** How long an operation keeps retrying a database locked by another connection (default 2000 ms). */
  readonly lockTimeoutMs?: number;
  /** A hard ceiling on the database size, in pages (`PRAGMA max_page_count`); writes past it fail as a full disk does. */
  readonly maxPageCount?: number;
}

/** Milliseconds opening the store (schema migration) may wait for another connection's lock. */
const OPEN_BUSY_TIMEOUT_MS = 5000;
/** Default of SqliteStoreOptions.lockTimeoutMs. */
const LOCK_TIMEOUT_MS = 2000;
/** First and longest pause between attempts on a locked database. */
const LOCK_RETRY_FIRST_MS = 1;
const LOCK_RETRY_MAX_MS = 50;
/** A monotonic clock captured at load: a test faking the global timers must not stop lock deadlines. */
const monotonicMs = performance.now.bind(performance);
/** Interval of the background WAL checkpoint. */
const CHECKPOINT_INTERVAL_MS = 1000;
/** Group commits (without a worker) that start the checkpoint worker: a few start-up events do not. */
const CHECKPOINTER_START_COMMITS = 16;
/** Milliseconds without a group commit after which the checkpoint worker stops. */
const CHECKPOINTER_IDLE_MS = 60_000;
/** SQLite's own checkpoint threshold (its default), in force while no worker runs. */
const AUTOCHECKPOINT_PAGES = 1000;
/**
 * Page cache of the connection, in KiB: keeps the hot index pages of the issuance path in memory
 * (the right edges of the append-only indexes and the upper levels of the others). 8 MiB: 32 MiB
 * bought no CPU per issuance here and held up to 30 MiB more of the service's resident memory
 * under load (issue 12); the OS page cache still holds the rest of the file.
 */
const CACHE_KIB = 8 * 1024;
/** Size the WAL is truncated back to after a reset. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** The event alone: its grant links follow by last_insert_rowid (SQLite's own). */
const INSERT_AUDIT = `INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The grant seqs of an issuance without grants. */
const EMPTY_SEQS: readonly (number | bigint)[] = [];

/** One queued write of the group commit. */
interface QueuedWrite {
  readonly grants: readonly Grant[];
  readonly event: AuditEvent;
  readonly resolve: () => void;
  readonly reject: (err: StintError) => void;
  /** Past this (monotonicMs) a write still blocked by another connection's lock is refused. */
  readonly deadline: number;
}

/** Open (creating if needed) the SQLite store at `path`; `:memory:` gives a throwaway store. */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const memory = path === ':memory:';
  const file = memory ? path : resolve(path);
  let db: Database.Database;
  try {
    if (!memory) prepareFile(file);
    db = new Database(file);
  } catch (err) {
    throw new StintError('ERR_UNAVAILABLE', 'cannot open the SQLite store', { path: file }, { cause: err });
  }
  try {
    db.pragma(`busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}`);
    if (!memory) db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    db.pragma(`cache_size = -${CACHE_KIB}`);
    migrate(db, file);
    if (!memory) restrictFiles(file);
    if (options.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxPageCount))}`);
    // From here on a lock is never waited for on the event loop: run() retries asynchronously.
    db.pragma('busy_timeout = 0');
  } catch (err) {
    db.close();
    throw err instanceof StintError ? err : new StintError('ERR_UNAVAILABLE', 'cannot initialise the SQLite store', { path: file }, { cause: err });
  }
  db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  return new SqliteStoreImpl(db, file, !memory, options.lockTimeoutMs ?? LOCK_TIMEOUT_MS);
}

/** Create the directory (0700) and the database file (0600) before SQLite opens it. */
function prepareFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

/** Make the database and its -wal/-shm files (created by the WAL switch and migration) 0600. */
function restrictFiles(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(f)) chmodSync(f, 0o600);
  }
}

function migrate(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SQLITE_MIGRATIONS.length) {
    throw new ConfigError('ERR_CONFIG_INVALID', file, `store schema version ${version} is newer than this Stint supports (${SQLITE_MIGRATIONS.length})`, {
      version,
      supported: SQLITE_MIGRATIONS.length,
    });
  }
  const apply = db.transaction(() => {
    for (let v = version; v < SQLITE_MIGRATIONS.length; v++) {
      db.exec(SQLITE_MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
  });
  if (version < SQLITE_MIGRATIONS.length) apply.immediate();
}

/** Whether a driver error is another connection's lock (worth retrying until the deadline). */
function isLocked(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** Map a driver error to the taxonomy without leaking row contents. */
function storeError(err: unknown): StintError {
  if (err instanceof StintError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (isLocked(err)) return new StintError('ERR_UNAVAILABLE', 'store busy: the database is locked by another connection', { sqlite: code as string }, { cause: err });
  if (code === 'SQLITE_FULL') {
    return new StintError('ERR_UNAVAILABLE', "store full: the SQLite database cannot grow (disk full or its size limit); free space on the store's volume", { sqlite: code }, { cause: err });
  }
  if (typeof code === 'string' && code.startsWith('SQLITE_IOERR')) {
    return new StintError('ERR_UNAVAILABLE', "store I/O error: the SQLite database could not be written (check the store's volume)", { sqlite: code }, { cause: err });
  }
  return new StintError('ERR_INTERNAL', 'store operation failed', typeof code === 'string' ? { sqlite: code } : {}, { cause: err });
}

/** The error of an operation that found the database locked until its deadline. */
function lockedTooLong(err: unknown): StintError {
  const code = (err as { code?: unknown } | null)?.code;
  return new StintError('ERR_UNAVAILABLE', 'store busy: the database stayed locked by another connection', { sqlite: typeof code === 'string' ? code : 'SQLITE_BUSY' }, { cause: err });
}

/** Thrown inside a flush when SQLite rolled back the whole transaction while writing batch[index]. */
class TransactionLost extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super('transaction rolled back by SQLite');
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class SqliteStoreImpl implements SqliteStore {
  private readonly insertGrant: Database.Statement<unknown[]>;
  private readonly insertAudit: Database.Statement<unknown[]>;
  private readonly insertAuditGrant: Database.Statement<[string]>;
  private readonly insertAuditLink: Database.Statement<[number | bigint, number | bigint]>;
  /** Prepared statements by their SQL (sql.ts, and a handful of filter shapes). */
  private readonly prepared = new Map<string, Database.Statement<unknown[], unknown>>();
  private readonly begin: Database.Statement<[]>;
  private readonly commit: Database.Statement<[]>;
  private readonly rollback: Database.Statement<[]>;
  private readonly savepoint: Database.Statement<[]>;
  private readonly release: Database.Statement<[]>;
  private readonly rollbackTo: Database.Statement<[]>;
  private queue: QueuedWrite[] = [];
  private flushScheduled = false;
  /** While the queue waits out another connection's lock: the retry timer and its current backoff. */
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = LOCK_RETRY_FIRST_MS;
  /** The promise of the latest queued write: it settles no earlier than every write queued before it. */
  private lastWrite: Promise<void> = Promise.resolve();
  private readonly flushBound = (): void => this.flush();
  /** The checkpoint worker while issuances come in; the ones stopping; when the last group commit ran. */
  private checkpointer: Checkpointer | null = null;
  private checkpointerStopping: Promise<void> = Promise.resolve();
  private idleCheck: NodeJS.Timeout | null = null;
  private lastFlushAt = 0;
  private commitsWithoutWorker = 0;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
    /** Whether a checkpoint worker may run (not for `:memory:`). */
    private readonly checkpoints: boolean,
    private readonly lockTimeoutMs: number,
  ) {
    this.insertGrant = db.prepare(sql.INSERT_GRANT);
    this.insertAudit = db.prepare(INSERT_AUDIT);
    // audit_grants is WITHOUT ROWID, so last_insert_rowid() stays the audit row's seq across links.
    // An event naming a grant the store does not hold gets no link (nothing to find it by).
    this.insertAuditGrant = db.prepare('INSERT OR IGNORE INTO audit_grants (grant_seq, audit_seq) SELECT seq, last_insert_rowid() FROM grants WHERE id = ?');
    this.insertAuditLink = db.prepare('INSERT OR IGNORE INTO audit_grants (grant_seq, audit_seq) VALUES (?, ?)');
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT issuance');
    this.release = db.prepare('RELEASE issuance');
    this.rollbackTo = db.prepare('ROLLBACK TO issuance');
  }

  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  synchronous(): SqliteSynchronous {
    return this.db.pragma('synchronous', { simple: true }) === 2 ? 'full' : 'normal';
  }

  recordIssuance(grants: readonly Grant[], event: AuditEvent): Promise<void> {
    return this.enqueue(grants, event);
  }

  appendAudit(event: AuditEvent): Promise<void> {
    return this.enqueue([], event);
  }

  async getGrant(id: string): Promise<Grant | null> {
    return this.run(() => this.grant(sql.SELECT_GRANT, id));
  }

  async listGrants(filter: GrantFilter = {}): Promise<Grant[]> {
    const q = sql.listGrants(filter);
    return this.run(() => this.all<GrantRow>(q.sql, ...q.params).map(grantFromRow));
  }

  async revokeGrant(id: string, at: number, reason: string): Promise<Grant | null> {
    return this.run(() => this.grant(sql.REVOKE_GRANT, ...sql.revokeParams(at, reason, id)) ?? this.grant(sql.SELECT_GRANT, id));
  }

  async revokeIdentity(identity: string, at: number, reason: string): Promise<Grant[]> {
    return this.run(() => this.all<GrantRow>(sql.REVOKE_IDENTITY, ...sql.revokeParams(at, reason, identity)).map(grantFromRow));
  }

  async expireGrants(now: number): Promise<Grant[]> {
    return this.run(() =>
      this.db
        .transaction(() => {
          this.changes(sql.DELETE_EXPIRED_BINDINGS, now * 1000);
          this.changes(sql.DELETE_ENDED_QUARANTINES, now * 1000);
          return this.all<GrantRow>(sql.EXPIRE_GRANTS, now, now).map(grantFromRow);
        })
        .immediate(),
    );
  }

  async dueCleanups(now: number, limit: number): Promise<Grant[]> {
    return this.run(() => this.all<GrantRow>(sql.DUE_CLEANUPS, now, limit).map(grantFromRow));
  }

  async claimCleanups(now: number, limit: number, leaseSeconds: number): Promise<Grant[]> {
    // One connection, one writer: the immediate transaction is the claim.
    return this.run(() =>
      this.db
        .transaction(() =>
          this.all<GrantRow>(sql.DUE_CLEANUPS, now, limit).map((row) => {
            this.changes('UPDATE grants SET cleanup_next_at = ? WHERE id = ?', now + leaseSeconds, row.id);
            return grantFromRow({ ...row, cleanup_next_at: now + leaseSeconds });
          }),
        )
        .immediate(),
    );
  }

  async recordCleanup(id: string, outcome: CleanupOutcome): Promise<Grant | null> {
    return this.run(() => (outcome.ok ? this.grant(sql.CLEANUP_DONE, id) : this.grant(sql.CLEANUP_FAILED, outcome.nextAt, outcome.error, id)) ?? this.grant(sql.SELECT_GRANT, id));
  }

  async extendGrant(id: string, expiresAt: number): Promise<Grant | null> {
    return this.run(() => this.grant(sql.EXTEND_GRANT, expiresAt, id));
  }

  async liveRevocationHandles(kind: string, now: number): Promise<string[]> {
    return this.run(() => this.all<{ revocation_handle: string }>(sql.LIVE_HANDLES, kind, now, kind).map((r) => r.revocation_handle));
  }

  async resolveCleanup(id: string): Promise<Grant | null> {
    return this.run(() => this.grant(sql.CLEANUP_RESOLVED, id) ?? this.grant(sql.SELECT_GRANT, id));
  }

  async countStuckGrants(stuckAfterAttempts: number): Promise<number> {
    return this.run(() => this.one<{ n: number }>(sql.COUNT_STUCK, stuckAfterAttempts)?.n ?? 0);
  }

  async countActiveGrants(now: number): Promise<number> {
    return this.run(() => this.one<{ n: number }>(sql.COUNT_ACTIVE, now)?.n ?? 0);
  }

  async queryAudit(filter: AuditFilter = {}): Promise<AuditEvent[]> {
    const q = sql.queryAudit(filter);
    return this.run(() => this.all<AuditRow>(q.sql, ...q.params).map(auditFromRow));
  }

  async listKeys(): Promise<StoredKey[]> {
    return this.run(() => sortKeys(this.all<KeyRow>(sql.SELECT_KEYS).map(keyFromRow)));
  }

  async putKey(key: StoredKey): Promise<void> {
    return this.run(() => {
      this.changes(sql.UPSERT_KEY, ...keyParams(key));
    });
  }

  async insertKey(key: StoredKey): Promise<boolean> {
    return this.run(() => this.changes(sql.INSERT_KEY_IN_SLOT, ...keyInSlotParams(key)) === 1);
  }

  async deleteKey(kid: string): Promise<void> {
    return this.run(() => {
      this.changes(sql.DELETE_KEY, kid);
    });
  }

  async bindAttestation(input: AttestationBindingInput): Promise<AttestationBinding> {
    const { kind, key, binding, now, expiresAt } = input;
    return this.run(() =>
      this.db
        .transaction((): AttestationBinding => {
          const won = this.one<{ binding: string }>(sql.BIND_ATTESTATION, kind, key, binding, now, expiresAt);
          if (won) return { binding: won.binding, firstUse: true };
          return { binding: this.one<{ binding: string }>(sql.SELECT_BINDING, kind, key, now)!.binding, firstUse: false };
        })
        .immediate(),
    );
  }

  async unbindAttestation(kind: string, key: string): Promise<boolean> {
    return this.run(() => this.changes(sql.DELETE_BINDING, kind, key) > 0);
  }

  async quarantineIdentity(q: Quarantine): Promise<void> {
    return this.run(() => {
      this.changes(sql.UPSERT_QUARANTINE, q.identity, q.reason, q.actor, q.at, q.until);
    });
  }

  async liftQuarantine(identity: string, at: number): Promise<boolean> {
    return this.run(() => {
      const row = this.one<{ ends_at: number | null }>(sql.DELETE_QUARANTINE, identity);
      return row !== undefined && quarantineInForce(row.ends_at, at);
    });
  }

  async activeQuarantine(identity: string, now: number): Promise<Quarantine | null> {
    return this.run(() => {
      const row = this.one<QuarantineRow>(sql.SELECT_ACTIVE_QUARANTINE, identity, now);
      return row ? quarantineFromRow(row) : null;
    });
  }

  async listQuarantines(now: number): Promise<Quarantine[]> {
    return this.run(() => sortQuarantines(this.all<QuarantineRow>(sql.SELECT_ACTIVE_QUARANTINES, now).map(quarantineFromRow)));
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.flush();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const w of this.queue.splice(0)) w.reject(new StintError('ERR_UNAVAILABLE', 'store closed'));
    this.stopCheckpointer();
    await this.checkpointerStopping;
    if (this.db.open) this.db.close();
  }

  private enqueue(grants: readonly Grant[], event: AuditEvent): Promise<void> {
    if (!this.db.open) return Promise.reject(new StintError('ERR_UNAVAILABLE', 'store closed'));
    const write = new Promise<void>((resolve, reject) => {
      this.queue.push({ grants, event, resolve, reject, deadline: monotonicMs() + this.lockTimeoutMs });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushBound);
      }
    });
    this.lastWrite = write;
    return write;
  }

  /**
   * Write every queued issuance in one transaction, then settle them. The batch is first written
   * straight through (no savepoints: two statements fewer per issuance); should any write fail, the
   * transaction is rolled back and the batch written again with each issuance in its own savepoint,
   * so that only the failed ones fail and every other one still commits all-or-nothing.
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    if (!this.db.open) {
      for (const w of batch) w.reject(new StintError('ERR_UNAVAILABLE', 'store closed'));
      return;
    }
    this.lastFlushAt = monotonicMs();
    if (this.checkpoints && this.checkpointer === null && ++this.commitsWithoutWorker >= CHECKPOINTER_START_COMMITS) this.startCheckpointer();
    let failures: (StintError | undefined)[] | null = null;
    try {
      this.begin.run();
      try {
        let i = 0;
        try {
          for (; i < batch.length; i++) this.writeIssuance(batch[i]!);
        } catch (err) {
          // A full disk or an I/O error may make SQLite roll back the whole transaction itself.
          if (!this.db.inTransaction) throw new TransactionLost(i, err);
          this.rollback.run();
          this.begin.run();
          failures = this.writeEach(batch);
        }
        this.commit.run();
      } catch (err) {
        if (this.db.inTransaction) this.rollback.run();
        throw err;
      }
    } catch (err) {
      if (err instanceof TransactionLost) {
        batch[err.index]!.reject(storeError(err.cause));
        this.queue = batch.filter((_, i) => i !== err.index).concat(this.queue);
        if (this.queue.length > 0 && !this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(this.flushBound);
        }
        return;
      }
      if (isLocked(err)) {
        this.waitForLock(batch, err);
        return;
      }
      const error = storeError(err);
      for (const w of batch) w.reject(error);
      return;
    }
    this.retryDelayMs = LOCK_RETRY_FIRST_MS;
    for (let i = 0; i < batch.length; i++) {
      const failure = failures?.[i];
      if (failure) batch[i]!.reject(failure);
      else batch[i]!.resolve();
    }
  }

  /** Write each issuance of `batch` in its own savepoint (inside the open transaction); the failures by index. */
  private writeEach(batch: readonly QueuedWrite[]): (StintError | undefined)[] {
    const failures = new Array<StintError | undefined>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      this.savepoint.run();
      try {
        this.writeIssuance(batch[i]!);
      } catch (err) {
        // SQLite may roll back the whole transaction, the savepoints of the writes before this one
        // included: those are written again.
        if (!this.db.inTransaction) throw new TransactionLost(i, err);
        this.rollbackTo.run();
        failures[i] = storeError(err);
      }
      this.release.run();
    }
    return failures;
  }

  /** Checkpoint in a worker from now on (SQLite's own checkpoint inside commits is off while it runs). */
  private startCheckpointer(): void {
    this.commitsWithoutWorker = 0;
    this.db.pragma('wal_autocheckpoint = 0');
    this.checkpointer = startCheckpointer(this.path, CHECKPOINT_INTERVAL_MS, () => {
      // Without the worker, fall back to SQLite's own checkpoint inside commits.
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    });
    this.idleCheck = setInterval(() => {
      if (monotonicMs() - this.lastFlushAt >= CHECKPOINTER_IDLE_MS) this.stopCheckpointer();
    }, CHECKPOINTER_IDLE_MS / 4);
    this.idleCheck.unref();
  }

  /** Stop the worker (after its last checkpoint); SQLite's own checkpoint takes over. */
  private stopCheckpointer(): void {
    if (this.idleCheck) clearInterval(this.idleCheck);
    this.idleCheck = null;
    const worker = this.checkpointer;
    if (!worker) return;
    this.checkpointer = null;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    const previous = this.checkpointerStopping;
    this.checkpointerStopping = Promise.all([previous, worker.stop()]).then(() => undefined);
  }

  /** Another connection holds the lock: refuse the writes past their deadline, retry the others after a pause. */
  private waitForLock(batch: QueuedWrite[], err: unknown): void {
    const now = monotonicMs();
    const waiting: QueuedWrite[] = [];
    for (const w of batch) {
      if (now >= w.deadline) w.reject(lockedTooLong(err));
      else waiting.push(w);
    }
    this.queue = waiting.concat(this.queue);
    if (this.queue.length === 0) return;
    const soonest = Math.min(...this.queue.map((w) => w.deadline));
    const delay = Math.max(0, Math.min(this.retryDelayMs, soonest - now));
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, LOCK_RETRY_MAX_MS);
    this.flushScheduled = true;
    this.retryTimer = setTimeout(this.flushBound, delay);
  }

  /**
   * Insert one issuance: its grants, its audit event and the event's links. A link to a grant of
   * this issuance takes the grant's seq from its insert; a link to an older grant looks it up.
   */
  private writeIssuance(w: QueuedWrite): void {
    const { grants, event } = w;
    const seqs = grants.length === 0 ? EMPTY_SEQS : grants.map((g) => this.insertGrant.run(...grantParams(g)).lastInsertRowid);
    // The event's JSON is kept for its log line (telemetry/json_once.ts): serialized once per event.
    const auditSeq = this.insertAudit.run(...auditParams(event, jsonOnceOrValue)).lastInsertRowid;
    for (const grantId of event.grantIds) {
      const j = grants.findIndex((g) => g.id === grantId);
      if (j >= 0) this.insertAuditLink.run(seqs[j]!, auditSeq);
      else this.insertAuditGrant.run(grantId);
    }
  }

  private statement(text: string): Database.Statement<unknown[], unknown> {
    let stmt = this.prepared.get(text);
    if (!stmt) {
      stmt = this.db.prepare(text);
      this.prepared.set(text, stmt);
    }
    return stmt;
  }

  private one<R>(text: string, ...params: unknown[]): R | undefined {
    return this.statement(text).get(...params) as R | undefined;
  }

  private all<R>(text: string, ...params: unknown[]): R[] {
    return this.statement(text).all(...params) as R[];
  }

  private changes(text: string, ...params: unknown[]): number {
    return this.statement(text).run(...params).changes;
  }

  /** The grant row a statement returns, as a grant. */
  private grant(text: string, ...params: unknown[]): Grant | null {
    const row = this.one<GrantRow>(text, ...params);
    return row ? grantFromRow(row) : null;
  }

  /**
   * Run a direct operation, after writing anything queued so it sees (and orders after) those
   * writes. A database locked by another connection is retried after a pause (never waited for on
   * the event loop) until the lock deadline, then refused with ERR_UNAVAILABLE.
   */
  private async run<T>(fn: () => T): Promise<T> {
    const deadline = monotonicMs() + this.lockTimeoutMs;
    let delay = LOCK_RETRY_FIRST_MS;
    for (;;) {
      if (!this.db.open) throw new StintError('ERR_UNAVAILABLE', 'store closed');
      if (this.queue.length > 0 && this.retryTimer === null) this.flush();
      if (this.queue.length > 0) {
        // The queued writes wait for a lock too: order after them, whatever becomes of them.
        await this.lastWrite.catch(() => undefined);
        continue;
      }
      try {
        return fn();
      } catch (err) {
        if (!isLocked(err)) throw storeError(err);
        const left = deadline - monotonicMs();
        if (left <= 0) throw lockedTooLong(err);
        await pause(Math.min(delay, left));
        delay = Math.min(delay * 2, LOCK_RETRY_MAX_MS);
      }
    }
  }
}
