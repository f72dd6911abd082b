/**
 * An in-process Stint (`startStint`, the code `stint serve` runs) on loopback ports, with a test
 * Kubernetes issuer, an admin token and an introspection client, for the transport tests: they
 * talk to its real HTTP, gRPC and admin listeners.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Writable } from 'node:stream';
import { validateConfig } from '../../src/config/load.js';
import { startStint, type RunningStint } from '../../src/service.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { freePort } from '../support/ports.js';
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
  /** The secret of the introspection client `resource-server`. */
  readonly introspectionSecret: string;
  /** Parsed log lines so far. */
  readonly logs: Record<string, unknown>[];
  /** A fresh subject token of namespace `apps` (allowed) or another (denied). */
  subjectToken(namespace?: string): Promise<string>;
  close(): Promise<void>;
}

/** Start the service; `extra` is more top-level YAML merged into the configuration. */
export async function startServiceUnderTest(extra: Record<string, unknown> = {}): Promise<ServiceUnderTest> {
  const k8s = await TestIssuer.start();
  const dir = mkdtempSync(join(tmpdir(), 'stint-transport-'));
  const [http, grpc, admin] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'policy.yaml'),
    `version: 1
rules:
  - name: apps
    match:
      attestor: kubernetes
      issuer: ${k8s.issuer}
      claims:
        namespace: apps
    allow:
      - kind: stint-jwt
        audiences: [${API_AUDIENCE}]
        ttl: { default: 10m, max: 1h }
`,
  );
  const adminToken = randomBytes(24).toString('base64url');
  const introspectionSecret = randomBytes(24).toString('base64url');
  writeFileSync(join(dir, 'admin.token'), adminToken, { mode: 0o600 });
  writeFileSync(join(dir, 'introspect.secret'), introspectionSecret, { mode: 0o600 });
  const raw = {
    ...(parse(`issuer: http://127.0.0.1:${http}
audience: ${AUDIENCE}
listen: { http: "127.0.0.1:${http}", grpc: "127.0.0.1:${grpc}", admin: "127.0.0.1:${admin}" }
store: { kind: sqlite, path: ${join(dir, 'stint.db')} }
policy: { file: ${join(dir, 'policy.yaml')}, watch: false }
attestors:
  - kind: kubernetes
    name: cluster
    issuer: ${k8s.issuer}
    explainDenials: true
admin:
  tokens: [{ name: operator, secret: { file: ${join(dir, 'admin.token')} } }]
`) as Record<string, unknown>),
    ...extra,
  };
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const config = validateConfig(JSON.parse(JSON.stringify(raw).replaceAll('@DIR@', dir)));
  const stint = await startStint(config, { logger: createLogger('info', sink), tickIntervalMs: 0 });
  return {
    stint,
    k8s,
    httpUrl: `http://127.0.0.1:${stint.httpPort}`,
    adminToken,
    introspectionSecret,
    logs,
    subjectToken: (namespace = 'apps') => k8s.mintKubernetes({ namespace, serviceAccount: 'app', podName: 'app-1', audience: AUDIENCE }),
    async close() {
      await stint.close();
      await k8s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The RFC 8693 form asking a Stint JWT for `subjectToken`. */
export function exchangeForm(subjectToken: string): URLSearchParams {
  return new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: subjectToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience: API_AUDIENCE,
  });
}
