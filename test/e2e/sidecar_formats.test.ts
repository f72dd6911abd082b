/**
 * Scenario: `stint-sidecar` writes credentials in the named file formats an unmodified
 * application reads, against the real `stint` service:
 *
 * - `postgres` credentials (Stint's provider creating login roles on a real embedded PostgreSQL)
 *   in a `postgres-url` file that a real `pg` client connects with, and a `pgpass` file that
 *   `psql` (PGPASSFILE) and `pg` log in with; a permitted query works, a forbidden one is refused;
 *   with `renewInPlace: false`, after a rotation (short TTL) the new file content logs in as a
 *   new role; by default the role is renewed in place: the files keep the same secret while the
 *   role's VALID UNTIL moves on, and they still log in.
 * - a Stint JWT in `dotenv` files read by a POSIX shell (`. file`) and in a `kubeconfig` that
 *   @kubernetes/client-node loads and uses against an HTTPS API server (with the configured CA)
 *   which verifies the token against Stint's JWKS; the token is the one Stint issued and signed,
 *   and the rotated one is picked up.
 * - `owner`, `group` (numeric) and `mode` of written files, kept across rotations (as root).
 * - bad outputs: a folder that does not exist, fields the credential does not have (a missing
 *   field is an output error, never an empty value): each is logged with its reason and counted
 *   in `stint_sidecar_output_failures_total`; the sidecar stays up, keeps serving the other
 *   outputs and credentials, and writes the output once the folder exists.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, statSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeServerCertificates } from '../support/certs.js';
import { createAppFixture, startEmbeddedPg, type EmbeddedPg } from '../support/embedded_pg.js';
import { API_AUDIENCE, eventually, freePort, get, metricValue, startSidecar, startStintServe, tempDir, type RunningSidecar, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';

const run = promisify(execFile);
const tmp = tempDir('stint-sidecar-formats-');
let server: EmbeddedPg;
let stint: StintUnderTest;
let jwks: ReturnType<typeof createRemoteJWKSet>;
const subject = tmp.path('subject.jwt');

const isRoot = process.getuid?.() === 0;
const hasPsql = await run('sh', ['-c', 'command -v psql']).then(
  () => true,
  () => false,
);

beforeAll(async () => {
  server = await startEmbeddedPg();
  const fixture = await createAppFixture(server);
  // The admin connection by reference (a file), as a deployment would.
  writeFileSync(tmp.path('pg-admin.url'), `${fixture.adminUrl}\n`, { mode: 0o600 });
  stint = await startStintServe({
    extraConfig: `providers:
  postgres:
    databases:
      main: { adminUrl: { file: "${tmp.path('pg-admin.url')}" }, host: 127.0.0.1, port: ${server.port}, database: app }
`,
    extraAllow: `      - kind: postgres
        targets: [main]
        ttl: { default: 1h, max: 1h }
        options: { memberOf: [app_read] }
`,
  });
  await stint.writeSubjectToken(subject);
  // The JWKS the discovery document names.
  const discovery = JSON.parse((await get(`${stint.url}/.well-known/openid-configuration`)).text) as { issuer: string; jwks_uri: string };
  expect(discovery.issuer).toBe(stint.url);
  jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
}, 90_000);

afterAll(async () => {
  await stint?.close();
  await server?.stop();
  tmp.cleanup();
});

/** Start a sidecar for `credentials` (config written to `file`) and wait until each was issued once. */
async function sidecarFor(file: string, credentials: Record<string, unknown>[], ops: number): Promise<RunningSidecar> {
  const sidecar = startSidecar(['--config', writeSidecarConfig(tmp.path(file), baseConfig(stint.url, subject, ops, credentials))]);
  for (const c of credentials) await sidecar.waitFor(new RegExp(`"msg":"credential issued","credential":"${String(c.name)}"`));
  return sidecar;
}

/** Wait until the credential was obtained at least `n` times (the counter moves after every output was updated). */
async function renewals(ops: number, credential: string, n: number, timeoutMs = 15_000): Promise<string> {
  return eventually(async () => {
    const text = (await get(`http://127.0.0.1:${ops}/metrics`)).text;
    return metricValue(text, 'stint_sidecar_renewals_total', { credential }) >= n ? text : null;
  }, timeoutMs);
}

async function renewalCount(ops: number, credential: string): Promise<number> {
  return metricValue((await get(`http://127.0.0.1:${ops}/metrics`)).text, 'stint_sidecar_renewals_total', { credential });
}

/** Split a pgpass line on unescaped `:` and undo libpq's `\:` and `\\` escapes. */
function parsePgpass(line: string): { host: string; port: string; database: string; user: string; password: string } {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) cur += line[++i];
    else if (ch === ':') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  expect(parts).toHaveLength(5);
  const [host, port, database, user, password] = parts as [string, string, string, string, string];
  return { host, port, database, user, password };
}

/** Connect a real pg client, run `fn`, and end the session. */
async function withClient<T>(config: string | pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(typeof config === 'string' ? { connectionString: config, connectionTimeoutMillis: 5000 } : { ...config, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** `psql` logging in with only PGPASSFILE for the password (-w: never prompt). */
async function psql(pgpassFile: string, p: { host: string; port: string; database: string; user: string }, sql: string): Promise<string> {
  const { stdout } = await run('psql', ['-X', '-w', '-A', '-t', '-h', p.host, '-p', p.port, '-U', p.user, '-d', p.database, '-c', sql], {
    env: { PATH: process.env.PATH, HOME: tmp.dir, PGPASSFILE: pgpassFile, PGCONNECT_TIMEOUT: '5' },
    timeout: 10_000,
  });
  return stdout.trim();
}

describe('postgres credentials in postgres-url and pgpass files', () => {
  let ops: number;
  let sidecar: RunningSidecar;
  const urlFile = tmp.path('db.url');
  const pgpassFile = tmp.path('db.pgpass');
  const keptUrlFile = tmp.path('kept.url');
  const keptPgpassFile = tmp.path('kept.pgpass');

  beforeAll(async () => {
    ops = await freePort();
    sidecar = await sidecarFor(
      'pg.yaml',
      [
        {
          // A new role (user and password) at every renewal.
          name: 'db',
          kind: 'postgres',
          target: 'main',
          ttl: '6s',
          renewInPlace: false,
          outputs: [
            { type: 'file', path: urlFile, format: 'postgres-url', postgres: { sslmode: 'disable' } },
            { type: 'file', path: pgpassFile, format: 'pgpass' },
          ],
        },
        {
          // The default: the role's VALID UNTIL is extended, the application keeps its secret.
          name: 'kept',
          kind: 'postgres',
          target: 'main',
          ttl: '6s',
          outputs: [
            { type: 'file', path: keptUrlFile, format: 'postgres-url' },
            { type: 'file', path: keptPgpassFile, format: 'pgpass' },
          ],
        },
      ],
      ops,
    );
  }, 30_000);

  afterAll(async () => {
    if (sidecar) expect(await sidecar.stop()).toBe(0);
  });

  const validUntil = async (role: string): Promise<number> => {
    const [row] = await server.exec(`SELECT rolvaliduntil FROM pg_roles WHERE rolname = ${pg.escapeLiteral(role)}`);
    expect(row).toBeDefined();
    return (row!.rolvaliduntil as Date).getTime();
  };

  it('a real pg client and psql log in with the files, run a permitted query, and log in as the new role after a rotation', async () => {
    const url1 = readFileSync(urlFile, 'utf8');
    const line1 = readFileSync(pgpassFile, 'utf8');
    expect(statSync(urlFile).mode & 0o777).toBe(0o600);
    expect(statSync(pgpassFile).mode & 0o777).toBe(0o600);
    // One line each; the role is named after the grant, the database comes from the provider.
    expect(url1).toMatch(new RegExp(`^postgresql://stint_[0-9a-f]{32}:[\\w-]{43}@127\\.0\\.0\\.1:${server.port}/app\\?sslmode=disable\\n$`));
    expect(line1.endsWith('\n') && !line1.slice(0, -1).includes('\n')).toBe(true);
    const pass1 = parsePgpass(line1.trimEnd());
    expect(pass1).toMatchObject({ host: '127.0.0.1', port: String(server.port), database: 'app' });
    const parsed1 = new URL(url1.trim());
    expect(pass1.user).toBe(decodeURIComponent(parsed1.username));
    expect(pass1.password).toBe(decodeURIComponent(parsed1.password));
    // The role exists on the server and expires with the grant.
    const until1 = await validUntil(pass1.user);
    expect(until1).toBeGreaterThan(Date.now());
    expect(until1).toBeLessThanOrEqual(Date.now() + 7_000);

    await withClient(url1.trim(), async (c) => {
      expect((await c.query('SELECT current_user AS u, (SELECT count(*)::int FROM items) AS n')).rows[0]).toEqual({ u: pass1.user, n: 2 });
      await expect(c.query('SELECT * FROM payroll')).rejects.toMatchObject({ code: '42501' });
    });
    // pgpass: host, port, database and user from the line; the password parsed from it (pg) or looked up by libpq (psql).
    const viaPgpass = { host: pass1.host, port: Number(pass1.port), database: pass1.database, user: pass1.user, password: pass1.password };
    expect(await withClient(viaPgpass, async (c) => (await c.query('SELECT count(*)::int AS n FROM items')).rows[0])).toEqual({ n: 2 });
    if (hasPsql) expect(await psql(pgpassFile, pass1, 'SELECT current_user, count(*) FROM items')).toBe(`${pass1.user}|2`);

    // renew_after is two thirds of the 6 s TTL: wait until the rotation has reached every output.
    const n = await renewalCount(ops, 'db');
    await renewals(ops, 'db', n + 1);
    const url2 = readFileSync(urlFile, 'utf8');
    const pass2 = parsePgpass(readFileSync(pgpassFile, 'utf8').trimEnd());
    expect(url2).not.toBe(url1);
    expect(pass2.user).not.toBe(pass1.user);
    expect(pass2.user).toBe(decodeURIComponent(new URL(url2.trim()).username));

    expect(await withClient(url2.trim(), async (c) => (await c.query('SELECT current_user AS u, (SELECT count(*)::int FROM items) AS n')).rows[0])).toEqual({ u: pass2.user, n: 2 });
    const viaPgpass2 = { host: pass2.host, port: Number(pass2.port), database: pass2.database, user: pass2.user, password: pass2.password };
    expect(await withClient(viaPgpass2, async (c) => (await c.query('SELECT current_user AS u')).rows[0])).toEqual({ u: pass2.user });
    if (hasPsql) expect(await psql(pgpassFile, pass2, 'SELECT current_user, count(*) FROM items')).toBe(`${pass2.user}|2`);

    // Neither password reaches the logs.
    expect(sidecar.stdout() + sidecar.stderr()).not.toContain(pass1.password);
    expect(sidecar.stdout() + sidecar.stderr()).not.toContain(pass2.password);
  }, 30_000);

  it('renewed in place: the files keep the same secret, the role VALID UNTIL moves on, and they still log in', async () => {
    const url1 = readFileSync(keptUrlFile, 'utf8');
    const pass1 = parsePgpass(readFileSync(keptPgpassFile, 'utf8').trimEnd());
    expect(url1).toMatch(new RegExp(`^postgresql://stint_[0-9a-f]{32}:[\\w-]{43}@127\\.0\\.0\\.1:${server.port}/app\\n$`));
    const until1 = await validUntil(pass1.user);
    const n = await renewalCount(ops, 'kept');
    const metrics = await renewals(ops, 'kept', n + 1);
    expect(metricValue(metrics, 'stint_sidecar_renewals_in_place_total', { credential: 'kept' })).toBeGreaterThanOrEqual(1);
    expect(readFileSync(keptUrlFile, 'utf8')).toBe(url1);
    expect(parsePgpass(readFileSync(keptPgpassFile, 'utf8').trimEnd())).toEqual(pass1);
    // The renewal counted may be the one already committed when until1 was read (the database changes
    // before the sidecar counts it): wait for the next one to move VALID UNTIL, with the files unchanged.
    expect(await eventually(async () => ((await validUntil(pass1.user)) > until1 ? true : null), 12_000, 100)).toBe(true);
    expect(readFileSync(keptUrlFile, 'utf8')).toBe(url1);
    expect(await withClient(url1.trim(), async (c) => (await c.query('SELECT current_user AS u, (SELECT count(*)::int FROM items) AS n')).rows[0])).toEqual({ u: pass1.user, n: 2 });
    if (hasPsql) expect(await psql(keptPgpassFile, pass1, 'SELECT current_user')).toBe(pass1.user);
  }, 30_000);
});

/** An HTTPS "API server" that authenticates bearer tokens as Stint JWTs (OIDC authentication trusting Stint). */
async function startApiServer(): Promise<{ url: string; caFile: string; seen: string[]; close(): Promise<void> }> {
  const certs = makeServerCertificates(tmp.dir, 'kube-', 'kube-apiserver');
  const seen: string[] = [];
  const status = (code: number, reason: string, message: string): string => JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  const srv: Server = createServer({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, (req, res) => {
    void (async () => {
      const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
      res.setHeader('content-type', 'application/json');
      try {
        if (!m) throw new Error('no bearer token');
        const { payload } = await jwtVerify(m[1]!, jwks, { issuer: stint.url, audience: API_AUDIENCE });
        seen.push(String(payload.jti));
      } catch (e) {
        res.writeHead(401).end(status(401, 'Unauthorized', (e as Error).message));
        return;
      }
      if (req.method === 'GET' && req.url === '/api/v1/namespaces/apps') {
        res.writeHead(200).end(JSON.stringify({ kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'apps' }, status: { phase: 'Active' } }));
      } else {
        res.writeHead(404).end(status(404, 'NotFound', `${req.method} ${req.url} not found`));
      }
    })();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    caFile: certs.caFile,
    seen,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

/** Source a dotenv file in a POSIX shell and print the named variables, one a line. */
async function sourced(file: string, names: string[]): Promise<string[]> {
  const script = `. "$1" && printf '%s\\n' ${names.map((n) => `"$${n}"`).join(' ')}`;
  const { stdout } = await run('sh', ['-c', script, 'sh', file], { env: { PATH: process.env.PATH } });
  return stdout.split('\n').slice(0, names.length);
}

describe('dotenv and kubeconfig files', () => {
  let api: Awaited<ReturnType<typeof startApiServer>>;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('a shell sources the dotenv files and @kubernetes/client-node uses the kubeconfig: the token Stint issued, then the rotated one', async () => {
    const ops = await freePort();
    const envFile = tmp.path('api.env');
    const defaultEnv = tmp.path('default.env');
    const kubeconfigFile = tmp.path('kubeconfig');
    const sidecar = await sidecarFor(
      'dotenv.yaml',
      [
        {
          name: 'api',
          audience: API_AUDIENCE,
          ttl: '3s',
          outputs: [
            { type: 'file', path: envFile, format: 'dotenv', variables: { API_TOKEN: 'token', API_GRANT_ID: 'grant_id', API_EXPIRES_AT: 'expires_at', API_KIND: 'kind' } },
            { type: 'file', path: defaultEnv, format: 'dotenv' },
            { type: 'file', path: kubeconfigFile, format: 'kubeconfig', kubeconfig: { server: api.url, caFile: api.caFile, name: 'stint-e2e' } },
          ],
        },
      ],
      ops,
    );
    try {
      const [token, grantId, expiresAt, kind] = await sourced(envFile, ['API_TOKEN', 'API_GRANT_ID', 'API_EXPIRES_AT', 'API_KIND']);
      expect(readFileSync(envFile, 'utf8')).toMatch(/^API_TOKEN="[\w.-]+"\nAPI_GRANT_ID="[\w-]+"\nAPI_EXPIRES_AT="[\dT:.Z-]+"\nAPI_KIND="stint-jwt"\n$/);
      // Signed by Stint for the requested audience; grant id and expiry are the JWT's.
      const { payload } = await jwtVerify(token!, jwks, { issuer: stint.url, audience: API_AUDIENCE });
      expect(payload.sub).toBe('spiffe://sidecar.test/ns/apps/sa/app');
      expect(grantId).toBe(payload.jti);
      expect(expiresAt).toBe(new Date(payload.exp! * 1000).toISOString());
      expect(kind).toBe('stint-jwt');
      // No variables: STINT_TOKEN.
      expect(await sourced(defaultEnv, ['STINT_TOKEN'])).toEqual([token]);

      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigFile);
      expect(kc.getCurrentContext()).toBe('stint-e2e');
      expect(kc.getCurrentCluster()).toMatchObject({ name: 'stint-e2e', server: api.url, caFile: api.caFile });
      // The token in the kubeconfig is the one the dotenv file holds, unless a rotation fell between the reads.
      const kubeToken = kc.getCurrentUser()!.token!;
      await jwtVerify(kubeToken, jwks, { issuer: stint.url, audience: API_AUDIENCE });
      const ns = await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'apps' });
      expect(ns.metadata?.name).toBe('apps');
      expect(api.seen.at(-1)).toBe(decodeJwt(kubeToken).jti);

      // After a rotation: new token in every file, the client loads it and the API server accepts it.
      const n = await renewalCount(ops, 'api');
      await renewals(ops, 'api', n + 1, 5_000);
      const [token2, grant2] = await sourced(envFile, ['API_TOKEN', 'API_GRANT_ID']);
      expect(token2).not.toBe(token);
      expect((await jwtVerify(token2!, jwks, { issuer: stint.url, audience: API_AUDIENCE })).payload.jti).toBe(grant2);
      const kc2 = new KubeConfig();
      kc2.loadFromFile(kubeconfigFile);
      const kubeToken2 = kc2.getCurrentUser()!.token!;
      expect(kubeToken2).not.toBe(kubeToken);
      expect((await kc2.makeApiClient(CoreV1Api).readNamespace({ name: 'apps' })).metadata?.name).toBe('apps');
      expect(api.seen.at(-1)).toBe(decodeJwt(kubeToken2).jti);
      expect(sidecar.stdout() + sidecar.stderr()).not.toContain(token!.split('.')[2]!);
    } finally {
      expect(await sidecar.stop()).toBe(0);
    }
  });
});

describe('owner, group and mode of written files', () => {
  it.skipIf(!isRoot)('files get the numeric owner and group and the mode asked for, across rotations', async () => {
    const ops = await freePort();
    const dir = tempDir('owned-', tmp.dir);
    const sidecar = await sidecarFor(
      'owned.yaml',
      [
        {
          name: 'owned',
          audience: API_AUDIENCE,
          ttl: '3s',
          outputs: [
            { type: 'file', path: dir.path('token'), owner: 1234, group: 2345 },
            { type: 'file', path: dir.path('token.env'), format: 'dotenv', owner: 1234, group: 2345, mode: '0640' },
            { type: 'env-file', path: dir.path('app.env'), variables: { TOKEN: 'token' }, group: 2345, mode: 0o640 },
            { type: 'file', path: dir.path('default'), format: 'json' },
          ],
        },
      ],
      ops,
    );
    try {
      const check = (): void => {
        expect(statSync(dir.path('token'))).toMatchObject({ uid: 1234, gid: 2345 });
        expect(statSync(dir.path('token')).mode & 0o777).toBe(0o600);
        expect(statSync(dir.path('token.env'))).toMatchObject({ uid: 1234, gid: 2345 });
        expect(statSync(dir.path('token.env')).mode & 0o777).toBe(0o640);
        // Only the group asked for: the owner stays the sidecar's.
        expect(statSync(dir.path('app.env'))).toMatchObject({ uid: 0, gid: 2345 });
        expect(statSync(dir.path('app.env')).mode & 0o777).toBe(0o640);
        // Neither asked for: the sidecar's own, 0600.
        expect(statSync(dir.path('default'))).toMatchObject({ uid: 0, gid: 0 });
        expect(statSync(dir.path('default')).mode & 0o777).toBe(0o600);
      };
      check();
      const first = readFileSync(dir.path('token'), 'utf8');
      const n = await renewalCount(ops, 'owned');
      await renewals(ops, 'owned', n + 1, 5_000);
      expect(readFileSync(dir.path('token'), 'utf8')).not.toBe(first);
      check();
      // Every temp file was renamed into place: nothing else in the folder.
      expect(readdirSync(dir.dir).sort()).toEqual(['app.env', 'default', 'token', 'token.env']);
    } finally {
      expect(await sidecar.stop()).toBe(0);
      dir.cleanup();
    }
  });
});

describe('bad outputs', () => {
  it('a missing folder and missing fields are logged and counted, never written empty; the other outputs and credentials keep being served', async () => {
    const ops = await freePort();
    const missingDir = tmp.path('not-yet');
    const sidecar = await sidecarFor(
      'bad.yaml',
      [
        {
          name: 'api',
          audience: API_AUDIENCE,
          ttl: '3s',
          outputs: [
            { type: 'file', path: `${missingDir}/api.jwt` },
            { type: 'file', path: tmp.path('bad.env'), format: 'dotenv', variables: { SECRET: 'fields.password' } },
            { type: 'file', path: tmp.path('bad.url'), format: 'postgres-url' },
            { type: 'file', path: tmp.path('bad.aws'), format: 'aws-profile' },
            { type: 'file', path: tmp.path('good.jwt') },
          ],
        },
        { name: 'other', audience: API_AUDIENCE, ttl: '3s', outputs: [{ type: 'file', path: tmp.path('other.jwt') }] },
      ],
      ops,
    );
    try {
      const failures = (): Record<string, unknown>[] => sidecar.logs().filter((l) => l.msg === 'output not updated');
      await eventually(() => failures().length >= 4);
      const firstRound = failures().slice(0, 4);
      expect(firstRound.map((l) => l.where)).toEqual([`${missingDir}/api.jwt`, tmp.path('bad.env'), tmp.path('bad.url'), tmp.path('bad.aws')]);
      for (const l of firstRound) expect(l).toMatchObject({ level: 'error', credential: 'api', output: 'file' });
      expect(firstRound.map((l) => l.code)).toEqual(['ENOENT', 'MISSING_VALUE', 'MISSING_VALUE', 'MISSING_VALUE']);
      expect(String(firstRound[0]!.error)).toMatch(/^ENOENT: no such file or directory/);
      expect(firstRound[1]!.error).toBe('credential api (kind stint-jwt) has no fields.password');
      expect(firstRound[2]!.error).toBe('credential api has no host (set postgres.host or use a postgres credential)');
      expect(firstRound[3]!.error).toBe('credential api (kind stint-jwt) has no fields.access_key_id');
      // Never an empty or partial file, and no temp file left behind.
      for (const f of ['bad.env', 'bad.url', 'bad.aws']) expect(existsSync(tmp.path(f))).toBe(false);
      expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

      // The good outputs have the credential; the process is healthy, and not ready while a required
      // credential has not reached all of its outputs (the application would not find it).
      const good1 = readFileSync(tmp.path('good.jwt'), 'utf8');
      await jwtVerify(good1, jwks, { audience: API_AUDIENCE });
      const other1 = readFileSync(tmp.path('other.jwt'), 'utf8');
      expect((await get(`http://127.0.0.1:${ops}/healthz`)).status).toBe(200);
      const ready = await get(`http://127.0.0.1:${ops}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.text)).toEqual({
        status: 'not ready',
        checks: { api: `output not updated: file ${missingDir}/api.jwt: ENOENT; file ${tmp.path('bad.env')}: MISSING_VALUE; file ${tmp.path('bad.url')}: MISSING_VALUE; file ${tmp.path('bad.aws')}: MISSING_VALUE`, other: true },
      });

      // Counted per attempt: four failed file outputs for `api`, none for `other`.
      const metrics = (await get(`http://127.0.0.1:${ops}/metrics`)).text;
      expect(metrics).toMatch(/^# TYPE stint_sidecar_output_failures_total counter$/m);
      const counted = metricValue(metrics, 'stint_sidecar_output_failures_total', { credential: 'api', output: 'file' });
      const attempts = metricValue(metrics, 'stint_sidecar_renewals_total', { credential: 'api' });
      // (an attempt in progress may have counted part of its failures already)
      expect(counted).toBeGreaterThanOrEqual(4 * attempts);
      expect(counted).toBeLessThanOrEqual(4 * (attempts + 1));
      expect(metrics).not.toMatch(/stint_sidecar_output_failures_total\{credential="other"/);

      // Rotations go on: every failure again, the good outputs replaced.
      await renewals(ops, 'api', attempts + 1, 5_000);
      await renewals(ops, 'other', 2, 5_000);
      expect(readFileSync(tmp.path('good.jwt'), 'utf8')).not.toBe(good1);
      expect(readFileSync(tmp.path('other.jwt'), 'utf8')).not.toBe(other1);
      const later = (await get(`http://127.0.0.1:${ops}/metrics`)).text;
      expect(metricValue(later, 'stint_sidecar_output_failures_total', { credential: 'api', output: 'file' })).toBeGreaterThanOrEqual(4 * (attempts + 1));

      // Once the folder exists, the next rotation writes the file there.
      mkdirSync(missingDir);
      const written = await eventually(() => (existsSync(`${missingDir}/api.jwt`) ? readFileSync(`${missingDir}/api.jwt`, 'utf8') : null), 5_000);
      await jwtVerify(written, jwks, { audience: API_AUDIENCE });
      expect(statSync(`${missingDir}/api.jwt`).mode & 0o777).toBe(0o600);

      expect(sidecar.child.exitCode).toBeNull();
      expect(sidecar.stdout() + sidecar.stderr()).not.toContain(good1.split('.')[2]!);
    } finally {
      expect(await sidecar.stop()).toBe(0);
    }
  });
});
