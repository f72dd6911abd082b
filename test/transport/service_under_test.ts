/**
 * The transport tests' Stint: the one harness's in-process service (test/support/stint_under_test.ts)
 * on loopback ports, with a test Kubernetes issuer, an admin token, an introspection secret and
 * the service's log lines; the tests talk to its real HTTP, gRPC and admin listeners.
 */
import { randomBytes } from 'node:crypto';
import type { RunningStint } from '../../src/service.js';
import { appsPolicy, freeListenPorts, startStintInProcess, tokenExchangeForm } from '../support/stint_under_test.js';
import { TestIssuer } from '../support/test_issuer.js';

/** Stint's audience here. */
export const AUDIENCE = 'stint-transport';
/** The audience workloads ask Stint JWTs for. */
export const API_AUDIENCE = 'https://api.example.com';

/** A running in-process service. */
export interface ServiceUnderTest {
  readonly stint: RunningStint;
  readonly k8s: TestIssuer;
  readonly httpUrl: string;
  readonly adminToken: string;
  /** The secret of the introspection client `resource-server` (in `@DIR@/introspect.secret`). */
  readonly introspectionSecret: string;
  /** Parsed log lines so far. */
  readonly logs: Record<string, unknown>[];
  /** A fresh subject token of namespace `apps` (allowed) or another (denied). */
  subjectToken(namespace?: string): Promise<string>;
  close(): Promise<void>;
}

/** Start the service; `extra` is more top-level configuration (`@DIR@` stands for its folder). */
export async function startServiceUnderTest(extra: Record<string, unknown> = {}): Promise<ServiceUnderTest> {
  const k8s = await TestIssuer.start();
  const introspectionSecret = randomBytes(24).toString('base64url');
  const env = await startStintInProcess({
    prefix: 'stint-transport-',
    audience: AUDIENCE,
    ports: await freeListenPorts(),
    policy: appsPolicy(k8s.issuer, API_AUDIENCE),
    policySettings: { watch: false },
    attestors: [{ kind: 'kubernetes', name: 'cluster', issuer: k8s.issuer, explainDenials: true }],
    admins: [{ name: 'operator' }],
    extra,
    secretFiles: { 'introspect.secret': introspectionSecret },
    captureLogs: true,
    alsoClose: [k8s],
  });
  return {
    stint: env.stint,
    k8s,
    httpUrl: env.url,
    adminToken: env.adminToken,
    introspectionSecret,
    logs: env.logs,
    subjectToken: (namespace = 'apps') => k8s.mintKubernetes({ namespace, serviceAccount: 'app', podName: 'app-1', audience: AUDIENCE }),
    close: () => env.close(),
  };
}

/** The RFC 8693 form asking a Stint JWT for `subjectToken`. */
export function exchangeForm(subjectToken: string): URLSearchParams {
  return new URLSearchParams(tokenExchangeForm(subjectToken, { audience: API_AUDIENCE }));
}
