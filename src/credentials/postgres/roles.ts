/**
 * Role management on one configured database, over the admin connection: create a grant's role,
 * drop it (terminating its sessions and cleaning what it owns), change its expiry, and list the
 * roles under Stint's prefix. Every call goes through callUpstream (timeout, metrics,
 * classification); every identifier is quoted with escapeIdentifier and every value is a bind
 * parameter or quoted with escapeLiteral.
 */
import type pg from 'pg';
import type { UpstreamObserver } from '../../upstream/call.js';
import { callUpstream } from '../../upstream/call.js';
import { classifyPgError } from './errors.js';
import { pgLib } from './pg_lib.js';

const ident = (name: string): string => pgLib().escapeIdentifier(name);
const literal = (value: string): string => pgLib().escapeLiteral(value);

/** Connection settings of one configured database. */
export interface RolesConnection {
  /** Credential kind (errors, metrics). */
  readonly kind: string;
  /** The configured name (the request's target). */
  readonly name: string;
  /** The admin connection URL (secret). */
  readonly adminUrl: string;
  /** Strings never to show in errors (the URL, its password). */
  readonly secrets: readonly string[];
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  /** Role that receives objects a dropped role owned; default the admin role itself. */
  readonly reassignOwnedTo?: string;
  readonly observe?: UpstreamObserver;
}

/** A role to create for a grant. */
export interface RoleSpec {
  readonly name: string;
  /** SCRAM verifier of the generated password (never the password itself). */
  readonly passwordVerifier: string;
  readonly validUntil: Date;
  readonly memberOf: readonly string[];
  readonly connectionLimit: number;
  readonly comment: string;
}

/** A role found under the prefix. */
export interface ListedRole {
  readonly name: string;
  /** VALID UNTIL, or null when unset or infinite. */
  readonly validUntil: Date | null;
  readonly comment: string | null;
}

interface ServerInfo {
  readonly version: number;
  readonly superuser: boolean;
}

/** Longest wait for terminated sessions to exit (PostgreSQL 14+). */
const TERMINATE_WAIT_MS = 5000;

/** Roles on one database, through a small pool of admin connections. */
export class PostgresRoles {
  private readonly pool: pg.Pool;
  private server: ServerInfo | null = null;

  constructor(private readonly conn: RolesConnection) {
    this.pool = new (pgLib().Pool)({
      connectionString: conn.adminUrl,
      max: 4,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      connectionTimeoutMillis: conn.connectTimeoutMs,
      statement_timeout: conn.statementTimeoutMs,
      // Client-side bound too, in case the server stops answering altogether.
      query_timeout: conn.statementTimeoutMs + 1000,
      application_name: 'stint',
      keepAlive: true,
    });
    // An idle admin connection that dies (server restart, terminated) is replaced on next use.
    this.pool.on('error', () => undefined);
  }

  /** Create the role and its comment in one transaction. */
  createRole(spec: RoleSpec): Promise<void> {
    const sql =
      `CREATE ROLE ${ident(spec.name)} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS` +
      ` CONNECTION LIMIT ${integer(spec.connectionLimit)} PASSWORD ${literal(spec.passwordVerifier)} VALID UNTIL ${literal(spec.validUntil.toISOString())}` +
      (spec.memberOf.length > 0 ? ` IN ROLE ${spec.memberOf.map(ident).join(', ')}` : '');
    return this.call('create_role', async (client) => {
      await transaction(client, async () => {
        await client.query(sql);
        await client.query(`COMMENT ON ROLE ${ident(spec.name)} IS ${literal(spec.comment)}`);
      });
    });
  }

  /**
   * Drop the role: first forbid new logins (committed, so no session can start while the rest
   * runs), then in one transaction terminate its sessions, hand what it owns to the admin (or
   * `reassignOwnedTo`), drop its remaining privileges and drop it. Returns `absent` when the
   * role did not exist (idempotent).
   */
  dropRole(role: string, operation = 'drop_role'): Promise<{ outcome: 'dropped' | 'absent'; terminated: number }> {
    return this.call(operation, async (client) => {
      const server = await this.serverInfo(client);
      if (!(await roleExists(client, role))) return { outcome: 'absent', terminated: 0 };
      try {
        await client.query(`ALTER ROLE ${ident(role)} NOLOGIN`);
      } catch (err) {
        if (isUndefinedObject(err) && !(await roleExists(client, role))) return { outcome: 'absent', terminated: 0 };
        throw err;
      }
      try {
        let terminated = 0;
        await transaction(client, async () => {
          // A CREATEROLE admin needs the role's privileges to signal its sessions and reassign its objects.
          if (!server.superuser) await client.query(`GRANT ${ident(role)} TO CURRENT_USER${server.version >= 160000 ? ' WITH INHERIT TRUE, SET TRUE' : ''}`);
          const terminate = server.version >= 140000 ? `pg_terminate_backend(pid, ${integer(Math.min(TERMINATE_WAIT_MS, Math.floor(this.conn.statementTimeoutMs / 2)))})` : 'pg_terminate_backend(pid)';
          const r = await client.query<{ n: string }>(`SELECT count(*) FILTER (WHERE ${terminate}) AS n FROM pg_stat_activity WHERE usename = $1`, [role]);
          terminated = Number(r.rows[0]?.n ?? 0);
          const to = this.conn.reassignOwnedTo ? ident(this.conn.reassignOwnedTo) : 'CURRENT_USER';
          await client.query(`REASSIGN OWNED BY ${ident(role)} TO ${to}`);
          await client.query(`DROP OWNED BY ${ident(role)}`);
          await client.query(`DROP ROLE IF EXISTS ${ident(role)}`);
        });
        return { outcome: 'dropped', terminated };
      } catch (err) {
        // Dropped concurrently (an operator revoke racing the reaper): that is success too.
        if (isUndefinedObject(err) && !(await roleExists(client, role))) return { outcome: 'absent', terminated: 0 };
        throw err;
      }
    });
  }

  /** Set the role's VALID UNTIL; false when the role does not exist. */
  setValidUntil(role: string, validUntil: Date): Promise<boolean> {
    return this.call('renew_role', async (client) => {
      if (!(await roleExists(client, role))) return false;
      await client.query(`ALTER ROLE ${ident(role)} VALID UNTIL ${literal(validUntil.toISOString())}`);
      return true;
    });
  }

  /** Roles whose name starts with `prefix` (compared exactly: no LIKE wildcards). */
  listRoles(prefix: string): Promise<ListedRole[]> {
    return this.call('list_roles', async (client) => {
      const r = await client.query<{ rolname: string; rolvaliduntil: unknown; comment: string | null }>(
        `SELECT r.rolname, r.rolvaliduntil, shobj_description(r.oid, 'pg_authid') AS comment FROM pg_roles r WHERE left(r.rolname, $2) = $1 ORDER BY r.rolname`,
        [prefix, prefix.length],
      );
      return r.rows.map((row) => ({ name: row.rolname, validUntil: row.rolvaliduntil instanceof Date ? row.rolvaliduntil : null, comment: row.comment }));
    });
  }

  /** Close the admin connections. */
  async close(): Promise<void> {
    await this.pool.end();
  }

  private call<T>(operation: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { conn } = this;
    return callUpstream(
      {
        kind: conn.kind,
        operation,
        // Connect, then a handful of short statements each bounded by statement_timeout.
        timeoutMs: conn.connectTimeoutMs + 2 * conn.statementTimeoutMs + 1000,
        observe: conn.observe,
        classify: (err) => classifyPgError(err, { kind: conn.kind, database: conn.name, operation, secrets: conn.secrets }),
      },
      async () => {
        for (let attempt = 1; ; attempt++) {
          const client = await this.pool.connect();
          // A checked-out client also emits a connection failure as an event; the query reports it.
          client.on('error', ignore);
          try {
            const value = await fn(client);
            client.off('error', ignore);
            client.release();
            return value;
          } catch (err) {
            // A client that failed mid-way may sit in an aborted transaction: discard it.
            client.off('error', ignore);
            client.release(true);
            // A pooled connection the server closed while idle (restart, terminated): retry once on a fresh one.
            if (attempt === 1 && isConnectionLost(err)) continue;
            throw err;
          }
        }
      },
    );
  }

  private async serverInfo(client: pg.PoolClient): Promise<ServerInfo> {
    if (this.server) return this.server;
    const r = await client.query<{ version: number; superuser: boolean }>(
      `SELECT current_setting('server_version_num')::int AS version, r.rolsuper AS superuser FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const row = r.rows[0];
    this.server = { version: Number(row?.version ?? 0), superuser: row?.superuser === true };
    return this.server;
  }
}

function ignore(): void {}

async function roleExists(client: pg.PoolClient, role: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  return (r.rowCount ?? 0) > 0;
}

async function transaction(client: pg.PoolClient, fn: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await fn();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The connection died under the call (nothing was committed unless the failure hit COMMIT itself). */
function isConnectionLost(err: unknown): boolean {
  if (err instanceof pgLib().DatabaseError) return err.code === '57P01' || err.code === '57P02';
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : '';
  return code === 'ECONNRESET' || code === 'EPIPE' || /connection terminated unexpectedly|not queryable/i.test(message);
}

function isUndefinedObject(err: unknown): boolean {
  return err instanceof pgLib().DatabaseError && err.code === '42704';
}

/** A whole number for SQL text (never interpolate anything else unquoted). */
function integer(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError('not an integer');
  return String(n);
}
