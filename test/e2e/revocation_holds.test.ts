/**
 * Scenario (issue 14, "Revocation that holds"): the real `stint serve`, the real `stint-sidecar`
 * serving a Stint JWT in a file and AWS credentials (Stint's aws-sts provider against a local STS
 * that checks SigV4) on the container-credentials endpoint, and the real `stint` CLI.
 * `stint revoke --identity` quarantines the pod's identity: within seconds the sidecar withdraws
 * both credentials (files gone, endpoint answers 503), turns /readyz red and logs a warning; a
 * direct exchange by that identity is refused with ERR_IDENTITY_QUARANTINED over HTTP and gRPC,
 * on this replica and on a second one sharing the store, while another identity still
 * exchanges; `stint unrevoke` lets the sidecar recover on its own. The revoke-to-withdrawn time
 * is measured and printed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSts } from '../support/fake_sts.js';
import { StintGrpcClient } from '../support/grpc_client.js';
import { runStint } from '../support/programs.js';
import { API_AUDIENCE, STINT_AUDIENCE, STINT_BIN, eventually, freePort, get, spawnProgram, startSidecar, startStintServe, tempDir, type RunningSidecar, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';

const ROLE = 'arn:aws:iam::123456789012:role/app';
const tmp = tempDir('stint-revocation-holds-');

let sts: FakeSts;
let stint: StintUnderTest;
let replica: RunningSidecar | null = null;
let sidecar: RunningSidecar;
let grpc: StintGrpcClient;
let replicaGrpc: StintGrpcClient;
let adminAddr: string;
let replicaHttp: string;
let awsUri: string;
const jwtFile = tmp.path('api.jwt');
const awsTokenFile = tmp.path('aws-auth-token');
const profileFile = tmp.path('aws-credentials');
let opsUrl: string;

const adminArgs = (): string[] => ['--admin', adminAddr, '--admin-token-file', join(stint.dir, 'admin.token')];
const awsAuth = (): Record<string, string> => ({ authorization: readFileSync(awsTokenFile, 'utf8') });

/** host:port of a listener named in a `stint serve` config file. */
function listenOf(config: string, name: 'http' | 'grpc' | 'admin'): string {
  return new RegExp(`${name}: "([^"]+)"`).exec(config)![1]!;
}

async function mint(serviceAccount: string): Promise<string> {
  return stint.k8s.mintKubernetes({ namespace: 'apps', serviceAccount, podName: `${serviceAccount}-7d9f-xyz12`, audience: STINT_AUDIENCE });
}

async function httpExchange(base: string, subjectToken: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subjectToken, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', audience: API_AUDIENCE }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const grpcExchange = (client: StintGrpcClient, subjectToken: string) => client.call({ subject_token: subjectToken, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });

/** Everything the sidecar serves is there: both files, the AWS endpoint answering, /readyz green. */
async function served(): Promise<boolean> {
  return existsSync(jwtFile) && existsSync(profileFile) && (await get(awsUri, awsAuth())).status === 200 && (await get(`${opsUrl}/readyz`)).status === 200;
}

/** Nothing is served any more: files gone, the AWS endpoint refusing, /readyz red. */
async function withdrawn(): Promise<boolean> {
  return !existsSync(jwtFile) && !existsSync(profileFile) && (await get(awsUri, awsAuth())).status === 503 && (await get(`${opsUrl}/readyz`)).status === 503;
}

beforeAll(async () => {
  sts = await FakeSts.start({ roles: [{ arn: ROLE }] });
  stint = await startStintServe({
    extraConfig: `providers:\n  aws: { region: us-east-1, endpoint: "${sts.url}", maxAttempts: 1, timeout: 3s }\n`,
    extraAllow: `      - kind: aws-sts\n        targets: ["${ROLE}"]\n        ttl: { default: 15m, max: 1h }\n`,
  });
  sts.trustIssuer(stint.url);
  const config = readFileSync(join(stint.dir, 'stint.yaml'), 'utf8');
  adminAddr = listenOf(config, 'admin');
  grpc = new StintGrpcClient(listenOf(config, 'grpc'));

  // A second replica on the same store (SQLite in WAL mode, shared by two processes).
  const [http2, grpc2, admin2] = [await freePort(), await freePort(), await freePort()];
  const replicaFile = join(stint.dir, 'replica.yaml');
  writeFileSync(
    replicaFile,
    config
      .replace(`http: "${listenOf(config, 'http')}"`, `http: "127.0.0.1:${http2}"`)
      .replace(`grpc: "${listenOf(config, 'grpc')}"`, `grpc: "127.0.0.1:${grpc2}"`)
      .replace(`admin: "${adminAddr}"`, `admin: "127.0.0.1:${admin2}"`),
  );
  replica = spawnProgram(STINT_BIN, ['serve', '--config', replicaFile]);
  await replica.waitFor(/stint listening/);
  replicaHttp = `http://127.0.0.1:${http2}`;
  replicaGrpc = new StintGrpcClient(`127.0.0.1:${grpc2}`);

  await stint.writeSubjectToken(tmp.path('subject.jwt'));
  const [awsPort, opsPort] = [await freePort(), await freePort()];
  awsUri = `http://127.0.0.1:${awsPort}/v1/credentials`;
  opsUrl = `http://127.0.0.1:${opsPort}`;
  const sidecarConfig = writeSidecarConfig(
    tmp.path('sidecar.yaml'),
    baseConfig(
      stint.url,
      tmp.path('subject.jwt'),
      opsPort,
      [
        { name: 'api', audience: API_AUDIENCE, ttl: '10m', outputs: [{ type: 'file', path: jwtFile }] },
        {
          name: 'aws',
          kind: 'aws-sts',
          target: ROLE,
          ttl: '15m',
          outputs: [
            { type: 'aws-container', listen: `127.0.0.1:${awsPort}`, tokenFile: awsTokenFile },
            { type: 'file', format: 'aws-profile', path: profileFile, profile: 'app' },
          ],
        },
      ],
      // Long-lived credentials: nothing is renewed or expires during the test, so what withdraws
      // them is the revocation check (revocationCheck left at its default, 5 s).
      { renewal: { jitter: 0.1, minInterval: '100ms', initialBackoff: '200ms', maxBackoff: '1s' } },
    ),
  );
  sidecar = startSidecar(['--config', sidecarConfig]);
  await eventually(served, 20_000);
}, 90_000);

afterAll(async () => {
  grpc?.close();
  replicaGrpc?.close();
  await sidecar?.stop();
  await replica?.stop();
  await stint?.close();
  await sts?.close();
  tmp.cleanup();
});

describe('revocation that holds', () => {
  let identity: string;

  it('serves both credentials before the revocation', async () => {
    const list = await runStint(['grants', 'list', '--json', '--state', 'active', ...adminArgs()]);
    expect(list.code).toBe(0);
    const grants = JSON.parse(list.stdout) as { kind: string; identity: string }[];
    expect(grants.map((g) => g.kind).sort()).toEqual(['aws-sts', 'stint-jwt']);
    identity = grants[0]!.identity;
    expect(grants.every((g) => g.identity === identity)).toBe(true);
    expect(identity).toMatch(/\/ns\/apps\/sa\/app$/);
  });

  it('stint revoke --identity: within seconds the sidecar withdraws everything, goes red and warns', async () => {
    const started = Date.now();
    const res = await runStint(['revoke', '--identity', identity, '--reason', 'incident 7', ...adminArgs()]);
    const revoked = Date.now();
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/revoked \(stint-jwt/);
    expect(res.stdout).toMatch(/revoked \(aws-sts/);
    expect(res.stdout).toContain(`quarantined: ${identity} may not exchange or renew until lifted (stint unrevoke)`);

    await eventually(withdrawn, 15_000, 25);
    const gone = Date.now();
    expect(gone - revoked, `revoke-to-withdrawn: ${gone - revoked} ms after the revoke committed (${gone - started} ms after \`stint revoke\` started; revocationCheck 5s, jittered)`).toBeLessThan(10_000);

    const ready = JSON.parse((await get(`${opsUrl}/readyz`)).text) as { checks: Record<string, string> };
    expect(ready.checks.api).toMatch(/^credential revoked \(grant [\w-]+\)/);
    expect(ready.checks.aws).toMatch(/^credential revoked \(grant [\w-]+\)/);
    const warned = await eventually(() => sidecar.logs().filter((l) => l.msg === 'credential revoked; withdrawn from every output'), 5_000);
    expect(warned.map((l) => l.credential).sort()).toEqual(['api', 'aws']);
    expect(warned.every((l) => l.level === 'warn' && l.identity_quarantined === true)).toBe(true);
    const metrics = (await get(`${opsUrl}/metrics`)).text;
    expect(metrics).toMatch(/stint_sidecar_revocations_total\{credential="api"\} 1/);
    expect(metrics).toMatch(/stint_sidecar_revocations_total\{credential="aws"\} 1/);
    // The exchange it tries next is refused for the quarantine: a warning, and it stays red.
    await eventually(() => sidecar.logs().some((l) => l.msg === 'exchange refused: identity quarantined' && l.level === 'warn' && l.code === 'ERR_IDENTITY_QUARANTINED'), 10_000);
    expect(await withdrawn()).toBe(true);
    // No token in the sidecar's log.
    expect(sidecar.stdout()).not.toContain(readFileSync(tmp.path('subject.jwt'), 'utf8'));
  });

  it('a direct exchange by the quarantined identity is refused over HTTP and gRPC, on both replicas', async () => {
    const token = await mint('app');
    for (const base of [stint.url, replicaHttp]) {
      const http = await httpExchange(base, token);
      expect(http.status).toBe(400);
      expect(http.body).toMatchObject({ error: 'invalid_grant', stint_code: 'ERR_IDENTITY_QUARANTINED' });
    }
    for (const client of [grpc, replicaGrpc]) {
      const r = await grpcExchange(client, token);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.code).toBe(7); // PERMISSION_DENIED
        expect(r.stintCode).toBe('ERR_IDENTITY_QUARANTINED');
      }
    }
  });

  it('another identity still exchanges, on both replicas', async () => {
    const other = await mint('other');
    for (const base of [stint.url, replicaHttp]) expect((await httpExchange(base, other)).status).toBe(200);
    expect((await grpcExchange(replicaGrpc, other)).ok).toBe(true);
  });

  it('the quarantine is listed and audited', async () => {
    const list = await runStint(['quarantines', '--json', ...adminArgs()]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ identity, reason: 'incident 7', actor: 'sidecar-e2e', until: '' })]);
    const audit = await runStint(['audit', '--json', '--type', 'identity.quarantined', '--identity', identity, ...adminArgs()]);
    expect(audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { reason: string })).toEqual([expect.objectContaining({ reason: 'incident 7' })]);
  });

  it('stint unrevoke: the sidecar recovers by itself, and the identity exchanges again', async () => {
    const res = await runStint(['unrevoke', identity, ...adminArgs()]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`${identity} is no longer quarantined`);
    await eventually(served, 20_000);
    const ready = JSON.parse((await get(`${opsUrl}/readyz`)).text) as { status: string };
    expect(ready.status).toBe('ready');
    const creds = JSON.parse((await get(awsUri, awsAuth())).text) as { AccessKeyId: string };
    expect(sts.sessions.has(creds.AccessKeyId)).toBe(true);
    expect((await httpExchange(stint.url, await mint('app'))).status).toBe(200);
    // The other replica reads the lift from the store within its refresh interval (1 s).
    const token = await mint('app');
    await eventually(async () => (await httpExchange(replicaHttp, token)).status === 200, 5_000);
    const audit = await runStint(['audit', '--json', '--type', 'identity.unquarantined', ...adminArgs()]);
    expect(audit.stdout.trim().split('\n')).toHaveLength(1);
    // Lifting again says there was nothing to lift.
    expect((await runStint(['unrevoke', identity, ...adminArgs()])).stdout).toContain('was not quarantined');
  });
});
