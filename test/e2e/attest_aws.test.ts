/**
 * Scenario (attest-aws): machines that are not pods prove themselves to the real `stint serve`.
 * An EC2 instance presents its identity document (IMDS rsa2048, pkcs7, signature) and an IAM
 * role a signed GetCallerIdentity, over gRPC and HTTP; the instance's state and tags come from
 * EC2 DescribeInstances (local EC2, real SDK); hostile proofs are refused with their codes while
 * good ones keep working. The replay rule holds across two replicas on one PostgreSQL. On a VM,
 * the real `stint-sidecar` with `subjectToken: { source: aws-iid }` reads IMDSv2 and keeps an
 * aws-container credential fresh that an unmodified AWS SDK application uses.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWS_IAM_TOKEN_TYPE, AWS_IID_TOKEN_TYPE } from '../../src/attestation/token_types.js';
import { signGetCallerIdentity, type AwsCredentials } from '../../src/client/subject_token/aws_iam.js';
import { startEmbeddedPg, type EmbeddedPg } from '../support/embedded_pg.js';
import { FakeEc2 } from '../support/fake_ec2.js';
import { documentText, FakeAwsCertificates, FakeImds, instanceDocument, type IidFormat, type InstanceDocument } from '../support/fake_imds.js';
import { FakeSts } from '../support/fake_sts.js';
import { StintGrpcClient } from '../support/grpc_client.js';
import { freePort } from '../support/ports.js';
import { ROOT, runStint, startProgram, type RunningProgram } from '../support/programs.js';
import { eventually, get, startSidecar, type RunningSidecar } from '../sidecar/harness.js';
import { writeSidecarConfig } from '../sidecar/config.js';

const AUDIENCE = 'stint-aws-e2e';
const SERVER_ID = 'stint-aws-e2e.example.test';
const API_AUDIENCE = 'https://api.example.com';
const ACCOUNT = '123456789012';
const APP_ROLE = `arn:aws:iam::${ACCOUNT}:role/app`;
const EC2_READER = { accessKeyId: 'AKIASTINTEC2READER01', secretAccessKey: 'ec2-reader-secret' };
const USER: AwsCredentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const AWS_CLIENT = resolve(ROOT, 'dist/test/sidecar/aws_client.js');

const POLICY = `version: 1
defaults:
  ttlOverMax: cap
rules:
  - name: web-instances
    match:
      attestor: aws-iid
      issuer: aws-iid
      claims:
        account: "${ACCOUNT}"
        tags.Role: web
    allow:
      - kind: stint-jwt
        audiences: [${API_AUDIENCE}]
        ttl: { default: 10m, max: 30m }
        passClaims: [instance_id, region]
      - kind: aws-sts
        targets: ["${APP_ROLE}"]
        ttl: { default: 15m, max: 1h }
  - name: web-server-role
    match:
      attestor: aws-iam
      issuer: aws-iam
      claims:
        account: "${ACCOUNT}"
        role_arn: arn:aws:iam::${ACCOUNT}:role/web-server
    allow:
      - kind: stint-jwt
        audiences: [${API_AUDIENCE}]
        ttl: { default: 10m, max: 30m }
        passClaims: [role_name]
`;

let dir: string;
let certs: FakeAwsCertificates;
let sts: FakeSts;
let ec2: FakeEc2;
let role: AwsCredentials;
const ec2Env = { STINT_E2E_EC2_KEY: EC2_READER.accessKeyId, STINT_E2E_EC2_SECRET: EC2_READER.secretAccessKey };

function serviceConfig(ports: { http: number; grpc: number; admin: number }, store: string, issuer = `http://127.0.0.1:${ports.http}`): string {
  return `issuer: ${issuer}
audience: ${AUDIENCE}
trustDomain: e2e.test
listen: { http: "127.0.0.1:${ports.http}", grpc: "127.0.0.1:${ports.grpc}", admin: "127.0.0.1:${ports.admin}" }
store: ${store}
policy: { file: ${join(dir, 'policy.yaml')} }
credentials: { maxTtl: 1h }
attestors:
  - kind: aws-iid
    certificates: ${certs.bundleFile}
    accounts: ["${ACCOUNT}"]
    explainDenials: true
    describeInstances:
      endpoint: "${ec2.url}"
      credentials: { accessKeyIdEnv: STINT_E2E_EC2_KEY, secretAccessKeyEnv: STINT_E2E_EC2_SECRET }
      cacheTtl: 5s
  - kind: aws-iam
    serverId: ${SERVER_ID}
    endpoints: ["${sts.url}/"]
    accounts: ["${ACCOUNT}"]
providers:
  aws: { region: us-east-1, endpoint: "${sts.url}", maxAttempts: 1, timeout: 3s }
`;
}

async function ports(): Promise<{ http: number; grpc: number; admin: number }> {
  return { http: await freePort(), grpc: await freePort(), admin: await freePort() };
}

/** A running instance at EC2 with the web role tag. */
function webInstance(overrides: Partial<InstanceDocument> = {}): InstanceDocument {
  const doc = instanceDocument(overrides);
  ec2.addInstance({ instanceId: doc.instanceId, ownerId: doc.accountId, state: 'running', tags: { Role: 'web', Name: 'web-1' } });
  return doc;
}

const nonce = (): string => randomBytes(24).toString('base64url');
function iidEnvelope(doc: InstanceDocument, format: IidFormat, n: string, text = documentText(doc), signature?: string): string {
  return JSON.stringify({ document: text, signature: signature ?? certs.sign(documentText(doc), format), format, nonce: n });
}

async function httpToken(url: string, type: string, value: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: value, subject_token_type: type, audience: API_AUDIENCE }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stint-aws-e2e-'));
  certs = new FakeAwsCertificates(mkdtempSync(join(dir, 'certs-')));
  sts = await FakeSts.start({ principals: [{ ...USER, arn: `arn:aws:iam::${ACCOUNT}:user/ops` }], roles: [{ arn: APP_ROLE }, { arn: `arn:aws:iam::${ACCOUNT}:role/web-server` }] });
  ec2 = await FakeEc2.start({ principals: [EC2_READER] });
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  const { STSClient, AssumeRoleCommand } = await import('@aws-sdk/client-sts');
  const client = new STSClient({ region: 'us-east-1', endpoint: sts.url, credentials: USER });
  const out = await client.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/web-server`, RoleSessionName: 'web-session' }));
  client.destroy();
  role = { accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey!, sessionToken: out.Credentials!.SessionToken! };
}, 60_000);

afterAll(async () => {
  await Promise.all([sts?.close(), ec2?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('one stint serve with aws-iid and aws-iam attestors', () => {
  let service: RunningProgram;
  let httpUrl: string;
  let grpc: StintGrpcClient;

  beforeAll(async () => {
    const p = await ports();
    const file = join(dir, 'single.yaml');
    writeFileSync(file, serviceConfig(p, `{ kind: sqlite, path: ${join(dir, 'single.db')} }`));
    service = startProgram(['serve', '--config', file], { env: ec2Env });
    await service.waitFor(/stint listening/);
    httpUrl = `http://127.0.0.1:${p.http}`;
    grpc = new StintGrpcClient(`127.0.0.1:${p.grpc}`);
  }, 60_000);
  afterAll(async () => {
    grpc?.close();
    await service?.stop();
  });

  const grpcExchange = (type: string, value: string) =>
    grpc.call<{ rule: string; identity: string; credentials: { token?: string }[] }>({ subject_token: value, subject_token_type: type, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });

  async function stillServes(): Promise<void> {
    const doc = webInstance();
    expect((await grpcExchange(AWS_IID_TOKEN_TYPE, iidEnvelope(doc, 'rsa2048', nonce()))).ok).toBe(true);
    expect((await httpToken(httpUrl, AWS_IAM_TOKEN_TYPE, await signed())).status).toBe(200);
  }
  const signed = (creds: AwsCredentials = role, serverId = SERVER_ID): Promise<string> => signGetCallerIdentity({ credentials: creds, region: 'us-east-1', endpoint: `${sts.url}/`, serverId });

  it('exchanges an instance identity document in each IMDS format over gRPC and HTTP', async () => {
    for (const format of ['rsa2048', 'pkcs7', 'signature'] as const) {
      const doc = webInstance();
      const n = nonce();
      const viaGrpc = await grpcExchange(AWS_IID_TOKEN_TYPE, iidEnvelope(doc, format, n));
      expect(viaGrpc.ok, JSON.stringify(viaGrpc)).toBe(true);
      if (!viaGrpc.ok) return;
      expect(viaGrpc.value.rule).toBe('web-instances');
      expect(viaGrpc.value.identity).toBe(`spiffe://e2e.test/aws/${ACCOUNT}/us-east-1/${doc.instanceId}`);
      const viaHttp = await httpToken(httpUrl, AWS_IID_TOKEN_TYPE, iidEnvelope(doc, format, n));
      expect(viaHttp.status, JSON.stringify(viaHttp.body)).toBe(200);
      const claims = JSON.parse(Buffer.from(String(viaHttp.body.access_token).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      expect(claims).toMatchObject({ sub: `spiffe://e2e.test/aws/${ACCOUNT}/us-east-1/${doc.instanceId}`, instance_id: doc.instanceId, region: 'us-east-1' });
    }
    expect(ec2.calls.some((c) => c.action === 'DescribeInstances' && c.signedBy === EC2_READER.accessKeyId)).toBe(true);
  });

  it('exchanges a signed GetCallerIdentity of a role over gRPC and HTTP', async () => {
    const viaGrpc = await grpcExchange(AWS_IAM_TOKEN_TYPE, await signed());
    expect(viaGrpc.ok, JSON.stringify(viaGrpc)).toBe(true);
    if (viaGrpc.ok) expect(viaGrpc.value).toMatchObject({ rule: 'web-server-role', identity: `spiffe://e2e.test/aws/${ACCOUNT}/role/web-server` });
    const viaHttp = await httpToken(httpUrl, AWS_IAM_TOKEN_TYPE, Buffer.from(await signed()).toString('base64'));
    expect(viaHttp.status, JSON.stringify(viaHttp.body)).toBe(200);
  });

  it('refuses hostile instance documents with their codes, and keeps serving', async () => {
    const doc = webInstance();
    const altered = iidEnvelope(doc, 'rsa2048', nonce(), documentText({ ...doc, instanceType: 'p5.48xlarge' }));
    const a = await grpcExchange(AWS_IID_TOKEN_TYPE, altered);
    expect(a.ok ? null : a.stintCode).toBe('ERR_TOKEN_SIGNATURE_INVALID');
    const impostor = iidEnvelope(doc, 'rsa2048', nonce(), undefined, certs.pkcs7(documentText(doc), certs.impostor));
    expect((await httpToken(httpUrl, AWS_IID_TOKEN_TYPE, impostor)).body).toMatchObject({ error: 'invalid_request', stint_code: 'ERR_TOKEN_KEY_NOT_FOUND' });
    const extra = iidEnvelope(doc, 'rsa2048', nonce(), undefined, certs.pkcs7(documentText(doc), certs.rsa2048, { extraSigners: [certs.impostor] }));
    expect((await httpToken(httpUrl, AWS_IID_TOKEN_TYPE, extra)).body).toMatchObject({ stint_code: 'ERR_TOKEN_SIGNATURE_INVALID' });
    // Bound to its first nonce: the same document with another nonce is a replay.
    const first = nonce();
    expect((await httpToken(httpUrl, AWS_IID_TOKEN_TYPE, iidEnvelope(doc, 'rsa2048', first))).status).toBe(200);
    const replay = await grpcExchange(AWS_IID_TOKEN_TYPE, iidEnvelope(doc, 'signature', nonce()));
    expect(replay.ok ? null : replay.stintCode).toBe('ERR_TOKEN_REPLAYED');
    expect((await httpToken(httpUrl, AWS_IID_TOKEN_TYPE, iidEnvelope(doc, 'signature', nonce()))).body).toMatchObject({ error: 'invalid_request', stint_code: 'ERR_TOKEN_REPLAYED' });
    // A stopped instance is refused (after the 5 s cache of its last answer; a fresh instance here).
    const stopped = instanceDocument();
    ec2.addInstance({ instanceId: stopped.instanceId, ownerId: ACCOUNT, state: 'stopped', tags: { Role: 'web' } });
    expect((await httpToken(httpUrl, AWS_IID_TOKEN_TYPE, iidEnvelope(stopped, 'rsa2048', nonce()))).body).toMatchObject({ stint_code: 'ERR_TOKEN_REVIEW_REJECTED' });
    // An instance without the web tag is denied by policy.
    const untagged = instanceDocument();
    ec2.addInstance({ instanceId: untagged.instanceId, ownerId: ACCOUNT, state: 'running', tags: { Role: 'db' } });
    expect((await httpToken(httpUrl, AWS_IID_TOKEN_TYPE, iidEnvelope(untagged, 'rsa2048', nonce()))).body).toMatchObject({ stint_code: 'ERR_POLICY_DENIED' });
    await stillServes();
  });

  it('refuses hostile GetCallerIdentity requests and proofs under another kind\'s type, and keeps serving', async () => {
    const other = await grpcExchange(AWS_IAM_TOKEN_TYPE, await signed(role, 'vault.example.test'));
    expect(other.ok ? null : other.stintCode).toBe('ERR_TOKEN_AUDIENCE_INVALID');
    const elsewhere = JSON.parse(await signed()) as Record<string, unknown>;
    elsewhere.url = 'https://sts.attacker.example/';
    expect((await httpToken(httpUrl, AWS_IAM_TOKEN_TYPE, JSON.stringify(elsewhere))).body).toMatchObject({ stint_code: 'ERR_TOKEN_ISSUER_UNKNOWN' });
    // A request never presented before (the verified-identity cache would answer a repeated one).
    const fresh = await signGetCallerIdentity({ credentials: role, region: 'us-east-1', endpoint: `${sts.url}/`, serverId: SERVER_ID, now: new Date(Date.now() - 42_000) });
    sts.failNext('identity-extra-member');
    expect((await httpToken(httpUrl, AWS_IAM_TOKEN_TYPE, fresh)).body).toMatchObject({ stint_code: 'ERR_UPSTREAM_BAD_RESPONSE' });
    expect((await httpToken(httpUrl, AWS_IID_TOKEN_TYPE, await signed())).body).toMatchObject({ stint_code: 'ERR_TOKEN_MALFORMED' });
    const doc = webInstance();
    expect((await httpToken(httpUrl, AWS_IAM_TOKEN_TYPE, iidEnvelope(doc, 'rsa2048', nonce()))).body).toMatchObject({ stint_code: 'ERR_TOKEN_MALFORMED' });
    await stillServes();
  });
});

describe('the replay rule across two replicas on one PostgreSQL', () => {
  let pg: EmbeddedPg;
  const replicas: { url: string; program: RunningProgram }[] = [];

  beforeAll(async () => {
    pg = await startEmbeddedPg({ databases: ['stint'] });
    const env = { ...ec2Env, STINT_STORE_URL: pg.url({ database: 'stint' }) };
    const started = await Promise.all(['a', 'b'].map(async (name) => {
      const p = await ports();
      const file = join(dir, `replica-${name}.yaml`);
      writeFileSync(file, serviceConfig(p, '{ kind: postgres, url: { env: STINT_STORE_URL }, poolSize: 2 }', 'https://stint.replicas.test'));
      return { url: `http://127.0.0.1:${p.http}`, program: startProgram(['serve', '--config', file], { env }) };
    }));
    await Promise.all(started.map((r) => r.program.waitFor(/stint listening/, 30_000)));
    replicas.push(...started);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.program.stop()));
    await pg?.stop();
  });

  it('an instance bound through replica A is refused with another nonce at replica B, and still served with its own', async () => {
    const [a, b] = [replicas[0]!, replicas[1]!];
    const doc = webInstance();
    const mine = nonce();
    expect((await httpToken(a.url, AWS_IID_TOKEN_TYPE, iidEnvelope(doc, 'rsa2048', mine))).status).toBe(200);
    expect((await httpToken(b.url, AWS_IID_TOKEN_TYPE, iidEnvelope(doc, 'rsa2048', nonce()))).body).toMatchObject({ stint_code: 'ERR_TOKEN_REPLAYED' });
    expect((await httpToken(b.url, AWS_IID_TOKEN_TYPE, iidEnvelope(doc, 'pkcs7', mine))).status).toBe(200);
    // Two thieves racing on both replicas for a fresh instance: exactly one nonce wins.
    const fresh = webInstance();
    const results = await Promise.all([a, b, a, b].map((r) => httpToken(r.url, AWS_IID_TOKEN_TYPE, iidEnvelope(fresh, 'rsa2048', nonce()))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.body.stint_code === 'ERR_TOKEN_REPLAYED')).toHaveLength(3);
  });
});

describe('a VM journey: stint-sidecar with subjectToken aws-iid keeps an aws-container credential fresh', () => {
  let service: RunningProgram;
  let imds: FakeImds;
  let sidecar: RunningSidecar;
  let uri: string;
  let stintUrl: string;
  const tokenFile = (): string => join(dir, 'vm-auth-token');
  const nonceFile = (): string => join(dir, 'vm-state', 'aws-iid.nonce');

  beforeAll(async () => {
    const p = await ports();
    const file = join(dir, 'vm.yaml');
    writeFileSync(file, serviceConfig(p, `{ kind: sqlite, path: ${join(dir, 'vm.db')} }`));
    service = startProgram(['serve', '--config', file], { env: ec2Env });
    await service.waitFor(/stint listening/);
    stintUrl = `http://127.0.0.1:${p.http}`;
    sts.trustIssuer(stintUrl);
    imds = await FakeImds.start({ certificates: certs, document: webInstance() });
    const port = await freePort();
    uri = `http://127.0.0.1:${port}/v1/credentials`;
    const config = writeSidecarConfig(join(dir, 'sidecar-vm.yaml'), {
      stint: { url: stintUrl, timeout: '3s' },
      subjectToken: { source: 'aws-iid', imdsEndpoint: imds.url, signature: 'rsa2048', nonceFile: nonceFile() },
      ops: { listen: false },
      renewal: { jitter: 0.1, minInterval: '500ms', maxInterval: '2s', initialBackoff: '200ms', maxBackoff: '1s' },
      credentials: [{ name: 'aws', kind: 'aws-sts', target: APP_ROLE, ttl: '15m', outputs: [{ type: 'aws-container', listen: `127.0.0.1:${port}`, tokenFile: tokenFile() }] }],
    });
    sidecar = startSidecar(['--config', config]);
    await sidecar.waitFor(/credential issued/, 30_000);
  }, 90_000);
  afterAll(async () => {
    await sidecar?.stop();
    await service?.stop();
    await imds?.close();
  });

  it('read IMDSv2 with a session token, kept its nonce in a 0600 file, and an unmodified SDK calls STS with the credential', async () => {
    expect(imds.requests).toContain('PUT /latest/api/token 200');
    expect(imds.requests).toContain('GET /latest/dynamic/instance-identity/rsa2048 200');
    expect(statSync(nonceFile()).mode & 0o777).toBe(0o600);
    const out = await new Promise<Record<string, unknown>>((resolveRun, reject) => {
      const child = spawn(process.execPath, [AWS_CLIENT, 'us-east-1', sts.url, '1', '0', 'identity'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: dir, AWS_CONTAINER_CREDENTIALS_FULL_URI: uri, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.once('exit', (code) => (code === 0 ? resolveRun(JSON.parse(text.trim().split('\n')[0]!) as Record<string, unknown>) : reject(new Error(`aws app exited ${code}`))));
    });
    expect(out.error).toBeUndefined();
    expect(out.arn).toMatch(/^arn:aws:sts::123456789012:assumed-role\/app\//);
  });

  it('stint exchange --subject-token-source aws-iid on the same machine: served with the instance nonce, refused with another (ERR_TOKEN_REPLAYED)', async () => {
    const args = ['exchange', '--url', stintUrl, '--subject-token-source', 'aws-iid', '--imds-endpoint', imds.url, '--kind', 'aws-sts', '--target', APP_ROLE, '--output', 'json'];
    const ok = await runStint([...args, '--nonce-file', nonceFile()], { env: ec2Env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ credential_kind: 'aws-sts' });
    const other = await runStint([...args, '--nonce-file', join(dir, 'another-machine.nonce')], { env: ec2Env });
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/ERR_TOKEN_REPLAYED/);
  });

  it('renews with the same nonce (the binding holds) and serves a new credential after rotation', async () => {
    const nonceBefore = readFileSync(nonceFile(), 'utf8');
    const first = JSON.parse((await get(uri, { authorization: readFileSync(tokenFile(), 'utf8') })).text) as Record<string, string>;
    await eventually(async () => {
      const now = JSON.parse((await get(uri, { authorization: readFileSync(tokenFile(), 'utf8') })).text) as Record<string, string>;
      return now.AccessKeyId !== first.AccessKeyId ? now : null;
    }, 15_000);
    expect(readFileSync(nonceFile(), 'utf8')).toBe(nonceBefore);
    expect(imds.requests.filter((r) => r.startsWith('GET /latest/dynamic/instance-identity/document')).length).toBeGreaterThan(1);
  });
});
