/**
 * End-to-end environment: test OIDC issuers on loopback and the policy they are trusted by, run
 * as the real `stint` program by the one harness (test/support/stint_under_test.ts).
 */
import { expect } from 'vitest';
import { introspectionConfig } from './introspection_client.js';
import { TestIssuer } from '../support/test_issuer.js';
import type { CallResult, StintGrpcClient } from '../support/grpc_client.js';
import { FakeSts } from '../support/fake_sts.js';
import type { FakeClock } from '../support/fake_clock.js';
import { freeListenPorts, httpExchange, startStintInProcess, startStintProgram, tokenExchangeForm, type AuditEvent, type Closeable, type InProcessStint, type RunningProgram } from '../support/stint_under_test.js';

/** Stint's audience in these tests. */
export const AUDIENCE = 'stint-e2e';
/** The audience workloads ask Stint JWTs for. */
export const API_AUDIENCE = 'https://api.example.com';

/** The policy the end-to-end service enforces (plus an aws-sts rule when a deploy role is given). */
export function e2ePolicy(k8sIssuer: string, githubIssuer: string, awsDeployRole?: string): string {
  // The GitHub Actions match of both deploy rules: one repository and owner by id, from main.
  const fromMain = (environment: string): string => `    match:
      attestor: github-actions
      issuer: ${githubIssuer}
      claims:
        repository_id: "123456"
        repository_owner_id: "654321"
        ref: refs/heads/main
        environment: ${environment}
`;
  const aws = awsDeployRole
    ? `
  - name: deploy-aws-from-main
${fromMain('production')}    allow:
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
${fromMain('{ oneOf: [production, staging] }')}    allow:
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
  readonly service: RunningProgram;
  readonly grpc: StintGrpcClient;
  /** Stop and start the service again on the same state. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Start issuers and the real `stint serve --config` program (with `introspection`, the resource server `resource-server` may POST /introspect). */
export async function startE2E(options: { aws?: boolean; introspection?: boolean; extraConfig?: string } = {}): Promise<E2E> {
  const k8s = await TestIssuer.start();
  const github = await TestIssuer.start({ path: '/github' });
  const down = await TestIssuer.start({ path: '/down' });
  down.fail('http-500');
  const ports = await freeListenPorts();
  // AWS trusts Stint as an OIDC provider: the local STS verifies Stint JWTs through Stint's discovery.
  const sts = options.aws ? await FakeSts.start({ trustedIssuer: `http://127.0.0.1:${ports.http}` }) : null;
  const awsDeployRole = sts ? sts.roleArn('github-deploy') : null;
  if (sts && awsDeployRole) sts.addRole({ arn: awsDeployRole, maxSessionDuration: 3600 });
  const program = await startStintProgram({
    prefix: 'stint-e2e-',
    audience: AUDIENCE,
    trustDomain: 'e2e.test',
    ports,
    policy: e2ePolicy(k8s.issuer, github.issuer, awsDeployRole ?? undefined),
    maxTtl: '1h',
    attestors: [
      { kind: 'kubernetes', name: 'cluster', issuer: k8s.issuer, maxLifetime: '2h', explainDenials: true },
      { kind: 'github-actions', issuer: github.issuer, explainDenials: true },
      { kind: 'oidc', name: 'flaky', issuer: down.issuer, fetchTimeout: '2s' },
    ],
    admins: [{ name: 'e2e-operator' }, { name: 'e2e-approver', file: 'approver.token' }],
    extra: `${sts ? `providers:\n  aws: { region: eu-west-1, endpoint: "${sts.url}", maxAttempts: 1, timeout: 3s }\n` : ''}${options.introspection ? introspectionConfig() : ''}${options.extraConfig ?? ''}`,
    alsoClose: [k8s, github, down, sts],
  });
  return {
    k8s,
    github,
    down,
    dir: program.dir,
    configFile: program.configFile,
    sts,
    awsDeployRole,
    adminToken: program.adminToken,
    adminTokenFile: program.adminTokenFile,
    approverTokenFile: program.adminTokenFiles['e2e-approver']!,
    httpUrl: program.url,
    grpcAddr: program.grpcAddr,
    adminAddr: program.adminAddr,
    get service() {
      return program.service!;
    },
    get grpc() {
      return program.grpc;
    },
    restart: () => program.restart(),
    close: () => program.close(),
  };
}

/** A reaper that runs every 30 s and reconciles every minute (the provider files drive it with `tick()`). */
export const FAST_REAPER = { interval: '30s', initialBackoff: '10s', maxBackoff: '1m', reconcileInterval: '1m' } as const;

/** Options of startProviderStint. */
export interface ProviderStintOptions {
  readonly prefix: string;
  readonly clock: FakeClock;
  /** The Kubernetes issuer of the workloads (the attestor `cluster`). */
  readonly k8s: TestIssuer;
  readonly policy: string;
  readonly admin: { readonly name: string; readonly token: string };
  /** A fixed HTTP port, when the upstream must know Stint's issuer URL before it starts. */
  readonly httpPort?: number;
  readonly maxTtl: string;
  /** The `providers:` section. */
  readonly providers: Record<string, unknown>;
  readonly reaper?: Record<string, unknown>;
  readonly secretFiles?: Readonly<Record<string, string>>;
  /** The fakes to close after the service (the Kubernetes issuer is closed too). */
  readonly alsoClose: readonly Closeable[];
}

/** The provider end-to-end files' Stint: in-process on the fake clock, trust domain e2e.test, Kubernetes workloads. */
export function startProviderStint(o: ProviderStintOptions): Promise<InProcessStint> {
  return startStintInProcess({
    prefix: o.prefix,
    clock: o.clock,
    audience: AUDIENCE,
    trustDomain: 'e2e.test',
    ...(o.httpPort ? { ports: { http: o.httpPort } } : {}),
    policy: o.policy,
    maxTtl: o.maxTtl,
    attestors: [{ kind: 'kubernetes', name: 'cluster', issuer: o.k8s.issuer }],
    admins: [o.admin],
    ...(o.secretFiles ? { secretFiles: o.secretFiles } : {}),
    extra: { providers: o.providers, ...(o.reaper ? { reaper: o.reaper } : {}) },
    alsoClose: [...o.alsoClose, o.k8s],
  });
}

/** An upstream failure the fake is told to produce, and what each transport must answer. */
export interface UpstreamFailureCase {
  readonly name: string;
  readonly mode: string;
  readonly status: number;
  readonly oauth: string;
  readonly grpcCode: number;
  readonly stintCode: string;
  readonly reason: string;
}

/** How a provider file asks for its credential of `target`, checks the upstream and lets it recover. */
export interface UpstreamFailureProbe {
  readonly target: string;
  http(): Promise<{ status: number; body: Record<string, unknown> }>;
  grpc(): Promise<CallResult<unknown>>;
  audit(filter: Record<string, unknown>): Promise<AuditEvent[]>;
  /** Assertions on the upstream once both requests failed (nothing issued, the calls it saw). */
  afterBoth(): void;
  recover(): void;
}

/**
 * The upstream failure `c` (already injected) reaches HTTP and gRPC as `c.stintCode` with its
 * OAuth error, gRPC code and reason (a retry hint when it is temporary), both are audited as
 * errors with no grant, and both transports succeed once the upstream recovers.
 */
export async function expectUpstreamFailureOnBothTransports(c: UpstreamFailureCase, probe: UpstreamFailureProbe): Promise<void> {
  const http = await probe.http();
  expect(http.status).toBe(c.status);
  expect(http.body).toMatchObject({ error: c.oauth, stint_code: c.stintCode, reason: c.reason });
  if (c.stintCode === 'ERR_UPSTREAM_UNAVAILABLE') expect(Number(http.body.retry_after)).toBeGreaterThan(0);
  const viaGrpc = await probe.grpc();
  expect(viaGrpc).toMatchObject({ ok: false, code: c.grpcCode, stintCode: c.stintCode, reason: c.reason });
  probe.afterBoth();

  const errors = (await probe.audit({ type: 'exchange.error' })).filter((e) => e.reason === c.stintCode && (e.data.request as { target?: string }[])[0]?.target === probe.target);
  expect(errors.length).toBeGreaterThanOrEqual(2);
  expect(errors[0]).toMatchObject({ outcome: 'error', grant_ids: [] });

  probe.recover();
  expect((await probe.http()).status).toBe(200);
  expect((await probe.grpc()).ok).toBe(true);
}

/** POST /token with form fields; returns status and JSON body. */
export { httpExchange };

/** The standard token-exchange form for a subject token. */
export function exchangeForm(subjectToken: string, extra: Record<string, string> = {}): Record<string, string> {
  return tokenExchangeForm(subjectToken, { audience: API_AUDIENCE, ...extra });
}
