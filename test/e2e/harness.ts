/**
 * End-to-end harness: test OIDC issuers on loopback, a config and policy for the real `stint`
 * program, and clients for its gRPC and HTTP surfaces.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TestIssuer } from '../support/test_issuer.js';
import { freePort } from '../support/ports.js';
import { startProgram, type RunningProgram } from '../support/programs.js';
import { StintGrpcClient } from '../support/grpc_client.js';
import { FakeSts } from '../support/fake_sts.js';

/** Stint's audience in these tests. */
export const AUDIENCE = 'stint-e2e';
/** The audience workloads ask Stint JWTs for. */
export const API_AUDIENCE = 'https://api.example.com';

/** The policy the end-to-end service enforces (plus an aws-sts rule when a deploy role is given). */
export function e2ePolicy(k8sIssuer: string, githubIssuer: string, awsDeployRole?: string): string {
  const aws = awsDeployRole
    ? `
  - name: deploy-aws-from-main
    match:
      attestor: github-actions
      issuer: ${githubIssuer}
      claims:
        repository_id: "123456"
        repository_owner_id: "654321"
        ref: refs/heads/main
        environment: production
    allow:
      - kind: aws-sts
        targets: [${awsDeployRole}]
        ttl: { default: 15m, max: 1h }
        options:
          sessionTags: { Repository: repository }
`
    : '';
  return `version: 1
defaults:
  ttlOverMax: cap
rules:
  - name: payments-api
    match:
      attestor: kubernetes
      issuer: ${k8sIssuer}
      claims:
        namespace: payments
        service_account: { glob: "api-*" }
    allow:
      - kind: stint-jwt
        audiences: [${API_AUDIENCE}]
        ttl: { default: 10m, max: 30m }
        passClaims: [namespace, service_account]
  - name: batch-strict-ttl
    ttlOverMax: deny
    match:
      attestor: kubernetes
      issuer: ${k8sIssuer}
      claims:
        namespace: batch
    allow:
      - kind: stint-jwt
        audiences: [${API_AUDIENCE}]
        ttl: { default: 5m, max: 15m }
  - name: deploy-from-main
    match:
      attestor: github-actions
      issuer: ${githubIssuer}
      claims:
        repository_id: "123456"
        repository_owner_id: "654321"
        ref: refs/heads/main
        environment: { oneOf: [production, staging] }
    allow:
      - kind: stint-jwt
        audiences: [${API_AUDIENCE}]
        ttl: { default: 15m, max: 1h }
        passClaims: [repository, ref, environment]
${aws}`;
}

/** A running end-to-end environment. */
export interface E2E {
  readonly k8s: TestIssuer;
  readonly github: TestIssuer;
  /** An issuer whose JWKS is down from the start. */
  readonly down: TestIssuer;
  readonly dir: string;
  readonly configFile: string;
  /** The local STS (with `aws: true`) and the role its policy rule allows. */
  readonly sts: FakeSts | null;
  readonly awsDeployRole: string | null;
  readonly adminToken: string;
  readonly adminTokenFile: string;
  /** A second admin (another credential), for actions that need two distinct admins (break-glass). */
  readonly approverTokenFile: string;
  readonly httpUrl: string;
  readonly grpcAddr: string;
  readonly adminAddr: string;
  service: RunningProgram;
  grpc: StintGrpcClient;
  /** Stop and start the service again on the same state. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Start issuers and the real `stint serve --config` program. */
export async function startE2E(options: { aws?: boolean; extraConfig?: string } = {}): Promise<E2E> {
  const k8s = await TestIssuer.start();
  const github = await TestIssuer.start({ path: '/github' });
  const down = await TestIssuer.start({ path: '/down' });
  down.fail('http-500');
  const dir = mkdtempSync(join(tmpdir(), 'stint-e2e-'));
  const [http, grpc, admin] = [await freePort(), await freePort(), await freePort()];
  // AWS trusts Stint as an OIDC provider: the local STS verifies Stint JWTs through Stint's discovery.
  const sts = options.aws ? await FakeSts.start({ trustedIssuer: `http://127.0.0.1:${http}` }) : null;
  const awsDeployRole = sts ? sts.roleArn('github-deploy') : null;
  if (sts && awsDeployRole) sts.addRole({ arn: awsDeployRole, maxSessionDuration: 3600 });
  const adminToken = randomBytes(24).toString('base64url');
  const adminTokenFile = join(dir, 'admin.token');
  writeFileSync(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
  const approverTokenFile = join(dir, 'approver.token');
  writeFileSync(approverTokenFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'policy.yaml'), e2ePolicy(k8s.issuer, github.issuer, awsDeployRole ?? undefined));
  const configFile = join(dir, 'stint.yaml');
  writeFileSync(
    configFile,
    `issuer: http://127.0.0.1:${http}
audience: ${AUDIENCE}
trustDomain: e2e.test
listen: { http: "127.0.0.1:${http}", grpc: "127.0.0.1:${grpc}", admin: "127.0.0.1:${admin}" }
store: { kind: sqlite, path: ./state/stint.db }
policy: { file: ./policy.yaml }
credentials: { maxTtl: 1h }
attestors:
  - kind: kubernetes
    name: cluster
    issuer: ${k8s.issuer}
    maxLifetime: 2h
    explainDenials: true
  - kind: github-actions
    issuer: ${github.issuer}
    explainDenials: true
  - kind: oidc
    name: flaky
    issuer: ${down.issuer}
    fetchTimeout: 2s
admin:
  tokens:
    - name: e2e-operator
      secret: { file: ./admin.token }
    - name: e2e-approver
      secret: { file: ./approver.token }
${sts ? `providers:\n  aws: { region: eu-west-1, endpoint: "${sts.url}", maxAttempts: 1, timeout: 3s }\n` : ''}${options.extraConfig ?? ''}`,
  );
  const start = async (): Promise<RunningProgram> => {
    const p = startProgram(['serve', '--config', configFile]);
    await p.waitFor(/stint listening/);
    return p;
  };
  const env: E2E = {
    k8s,
    github,
    down,
    dir,
    configFile,
    sts,
    awsDeployRole,
    adminToken,
    adminTokenFile,
    approverTokenFile,
    httpUrl: `http://127.0.0.1:${http}`,
    grpcAddr: `127.0.0.1:${grpc}`,
    adminAddr: `127.0.0.1:${admin}`,
    service: await start(),
    grpc: new StintGrpcClient(`127.0.0.1:${grpc}`, `127.0.0.1:${admin}`),
    async restart() {
      env.grpc.close();
      await env.service.stop();
      env.service = await start();
      env.grpc = new StintGrpcClient(env.grpcAddr, env.adminAddr);
    },
    async close() {
      env.grpc.close();
      await env.service.stop();
      await Promise.all([k8s.close(), github.close(), down.close(), sts?.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

/** POST /token with form fields; returns status and JSON body. */
export async function httpExchange(baseUrl: string, fields: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/token`, { method: 'POST', body: new URLSearchParams(fields) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The standard token-exchange form for a subject token. */
export function exchangeForm(subjectToken: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: subjectToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: API_AUDIENCE,
    ...extra,
  };
}
