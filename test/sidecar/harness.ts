/**
 * Sidecar test environment: the real `stint` service (with a test Kubernetes issuer and a policy
 * that issues short-lived Stint JWTs) started by the one harness (test/support/stint_under_test.ts),
 * beside which tests run the real `stint-sidecar` program; the program helpers are re-exported
 * from there for the sidecar tests and the benchmark.
 */
import { writeFileSync } from 'node:fs';
import { TestIssuer } from '../support/test_issuer.js';
import { startStintProgram, type RunningProgram } from '../support/stint_under_test.js';

export { ROOT, SIDECAR_BIN, STINT_BIN, freePort, get, metricValue, runSidecar, spawnProgram, startSidecar, tempDir } from '../support/stint_under_test.js';
export { eventually } from '../support/eventually.js';

/** A running `stint-sidecar` (or any child program). */
export type RunningSidecar = RunningProgram;

/** Stint's audience in these tests. */
export const STINT_AUDIENCE = 'stint-sidecar-e2e';
/** Audience of the Stint JWTs the sidecar asks for. */
export const API_AUDIENCE = 'https://api.example.com';

/** The policy: namespace `apps` may get Stint JWTs from 1 s to 1 h (plus `extraAllow` entries, YAML at the allow list's indentation). */
export function sidecarPolicy(k8sIssuer: string, extraAllow = ''): string {
  return `version: 1
defaults:
  ttlOverMax: cap
rules:
  - name: apps-sidecar
    match:
      attestor: kubernetes
      issuer: ${k8sIssuer}
      claims:
        namespace: apps
    allow:
      - kind: stint-jwt
        audiences: [${API_AUDIENCE}, sts.amazonaws.com, https://gcp.example.com]
        ttl: { default: 10s, max: 1h }
${extraAllow}`;
}

/** A running Stint for sidecar tests. */
export interface StintUnderTest {
  readonly k8s: TestIssuer;
  readonly dir: string;
  readonly url: string;
  /** Bearer token of the admin surface and of POST /introspect. */
  readonly adminToken: string;
  readonly service: RunningProgram | null;
  /** Write a fresh projected-token-shaped subject token to `file`. */
  writeSubjectToken(file: string, options?: { namespace?: string; ttlSeconds?: number }): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Options of startStintServe. */
export interface StintOptions {
  /** More allow entries for the `apps` rule (YAML, 6 spaces deep). */
  readonly extraAllow?: string;
  /** More top-level service configuration (YAML), e.g. `providers:`. */
  readonly extraConfig?: string;
}

/** Start a test issuer and the `stint serve` program (not the in-process startStint of src/service.ts). */
export async function startStintServe(options: StintOptions = {}): Promise<StintUnderTest> {
  const k8s = await TestIssuer.start();
  const program = await startStintProgram({
    prefix: 'stint-sidecar-svc-',
    audience: STINT_AUDIENCE,
    trustDomain: 'sidecar.test',
    policy: sidecarPolicy(k8s.issuer, options.extraAllow),
    maxTtl: '1h',
    attestors: [{ kind: 'kubernetes', name: 'cluster', issuer: k8s.issuer, maxLifetime: '2h', explainDenials: true }],
    admins: [{ name: 'sidecar-e2e' }],
    ...(options.extraConfig ? { extra: options.extraConfig } : {}),
    alsoClose: [k8s],
  });
  return {
    k8s,
    dir: program.dir,
    url: program.url,
    adminToken: program.adminToken,
    get service() {
      return program.service;
    },
    async writeSubjectToken(file, options = {}) {
      const token = await k8s.mintKubernetes({ namespace: options.namespace ?? 'apps', serviceAccount: 'app', podName: 'app-7d9f-xyz12', audience: STINT_AUDIENCE, ...(options.ttlSeconds ? { ttl: options.ttlSeconds } : {}) });
      writeFileSync(file, token, { mode: 0o600 });
    },
    start: () => program.start(),
    stop: () => program.stop(),
    close: () => program.close(),
  };
}
