/**
 * One PostgreSQL store operation under one deadline: checking a connection out of the pool, every
 * statement, and the rollback of a failed transaction all share it, so a hung server costs a
 * request the operation timeout once, not a statement timeout plus a rollback timeout plus a wait
 * for a connection. A connection that timed out, lost its server or failed its rollback is
 * destroyed, never returned to the pool (its next user would read the answers meant for this one),
 * and a statement it left running is cancelled (PostgreSQL's cancel request), so the server lets go
 * of its locks now rather than at its own statement timeout.
 *
 * Statements run as named prepared statements: parsed and planned once per connection.
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import pg from 'pg';

/** A monotonic clock captured at load: a test faking the global timers must not stop deadlines. */
export const monotonicMs = performance.now.bind(performance);

/** The operation ran out of time; `phase` says where (`connect`, `statement`). */
export class DeadlineExceeded extends Error {
  constructor(
    readonly phase: 'connect' | 'statement',
    readonly timeoutMs: number,
  ) {
    super(`no answer within ${timeoutMs} ms (${phase})`);
  }
}

/** A statement with its prepared-statement name (a digest of its text, so one text has one name). */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

const named = new Map<string, Statement>();

/** The prepared statement for `text` (memoized). */
export function statement(text: string): Statement {
  let s = named.get(text);
  if (!s) {
    s = { name: `stint_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text };
    named.set(text, s);
  }
  return s;
}

/** PostgreSQL text cannot hold NUL. */
export function pgText(v: unknown): unknown {
  if (typeof v === 'string') return v.includes('\0') ? v.replaceAll('\0', '\uFFFD') : v;
  if (Array.isArray(v)) return v.map(pgText);
  return v;
}

/** Failures after which the connection's protocol state is unknown: a server error leaves it usable. */
function leavesConnectionUnusable(err: unknown): boolean {
  return !(err instanceof pg.DatabaseError);
}

/** The connection and deadline of one store operation; `finish()` hands the connection back (or destroys it). */
export class Operation {
  private client: pg.PoolClient | null = null;
  private broken = false;
  /** A statement was abandoned at the deadline while the server was still running it. */
  private abandoned = false;
  private readonly deadline: number;

  /** `deadline` (monotonicMs) defaults to now + timeoutMs; timeoutMs is what a deadline error names. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly timeoutMs: number,
    deadline?: number,
  ) {
    this.deadline = deadline ?? monotonicMs() + timeoutMs;
  }

  /** The operation's connection, checked out on first use within the deadline. */
  async connection(): Promise<pg.PoolClient> {
    if (this.client) return this.client;
    const left = this.deadline - monotonicMs();
    if (left <= 0) throw new DeadlineExceeded('connect', this.timeoutMs);
    const pending = this.pool.connect();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceeded('connect', this.timeoutMs)), left);
    });
    try {
      this.client = await Promise.race([pending, late]);
    } catch (err) {
      // A connection that arrives after the deadline goes straight back.
      pending.then(
        (c) => c.release(),
        () => undefined,
      );
      throw err;
    } finally {
      clearTimeout(timer);
    }
    // A checked-out connection reports its death as an event too; the failing query reports it to the caller.
    this.client.on('error', ignore);
    return this.client;
  }

  /** Run one statement (prepared, by name) within what is left of the deadline. */
  async run<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: readonly unknown[]): Promise<pg.QueryResult<R>> {
    const client = await this.connection();
    const left = Math.ceil(this.deadline - monotonicMs());
    if (left <= 0) {
      this.broken = true;
      throw new DeadlineExceeded('statement', this.timeoutMs);
    }
    const { name } = statement(text);
    try {
      return await client.query<R>({ name, text, values: params.map(pgText), query_timeout: left } as pg.QueryConfig);
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** The rows of one statement. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: readonly unknown[]): Promise<R[]> {
    return (await this.run<R>(text, params)).rows;
  }

  /** Run `fn` in a transaction on this operation's connection; a failed rollback destroys the connection. */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.control('BEGIN');
    try {
      const value = await fn();
      await this.control('COMMIT');
      return value;
    } catch (err) {
      if (this.broken) throw err; // destroyed at finish: the server rolls back when the session ends
      await this.control('ROLLBACK').catch(() => {
        this.broken = true;
      });
      throw err;
    }
  }

  /** Hand the connection back to the pool, or destroy it if its state is unknown. */
  finish(): void {
    const client = this.client;
    if (!client) return;
    this.client = null;
    client.off('error', ignore);
    if (this.abandoned) cancelRunningStatement(client);
    client.release(this.broken ? new Error('connection discarded after a failed operation') : undefined);
  }

  private async control(sql: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const client = await this.connection();
    const left = Math.ceil(this.deadline - monotonicMs());
    if (left <= 0) {
      this.broken = true;
      throw new DeadlineExceeded('statement', this.timeoutMs);
    }
    try {
      await client.query({ text: sql, query_timeout: left } as pg.QueryConfig);
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** Note what a failed statement did to the connection; a read timeout is the deadline. */
  private failed(err: unknown): unknown {
    if (leavesConnectionUnusable(err)) this.broken = true;
    if (err instanceof Error && /query read timeout/i.test(err.message)) {
      this.abandoned = true;
      return new DeadlineExceeded('statement', this.timeoutMs);
    }
    return err;
  }
}

/** PostgreSQL's CancelRequest code (protocol 3). */
const CANCEL_REQUEST_CODE = 80877102;

/** Ask the server to cancel what the connection is running (a separate, unauthenticated, fire-and-forget connection). */
function cancelRunningStatement(client: pg.PoolClient): void {
  const c = client as unknown as { host?: string; port?: number; processID?: number | null; secretKey?: number | null };
  if (typeof c.processID !== 'number' || typeof c.secretKey !== 'number' || !c.port) return;
  const request = Buffer.alloc(16);
  request.writeInt32BE(16, 0);
  request.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  request.writeInt32BE(c.processID, 8);
  request.writeInt32BE(c.secretKey, 12);
  const socket = c.host?.startsWith('/') ? connect(`${c.host}/.s.PGSQL.${c.port}`) : connect(c.port, c.host || 'localhost');
  socket.unref();
  socket.setTimeout(5000, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('connect', () => socket.end(request));
}

function ignore(): void {}
