/**
 * Scenario (tls-and-admin-mtls): the workload listeners serve TLS, and the admin listener requires
 * client certificates (mTLS); an admin is a verified certificate whose CN is an admin name, or a
 * bearer token over the mutually authenticated channel.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningStint } from '../../src/service.js';
import { loadStintProto } from '../../src/grpc/stint_proto.js';
import { TestCa, type CertFiles } from '../support/certs.js';
import { TestIssuer } from '../support/test_issuer.js';
import { runStint, startStintInProcess, tempDir, type InProcessStint } from '../support/stint_under_test.js';
import { API_AUDIENCE, AUDIENCE, e2ePolicy } from './harness.js';

let env: InProcessStint;
let ca: TestCa;
let stint: RunningStint;
let k8s: TestIssuer;
let opsCert: CertFiles;
let strangerCert: CertFiles;

type Ctor = grpc.ServiceClientConstructor;
const proto = (): { stint: { v1: { TokenExchange: Ctor; Admin: Ctor } } } => grpc.loadPackageDefinition(loadStintProto()) as never;

beforeAll(async () => {
  const certs = tempDir('stint-tls-certs-');
  ca = new TestCa(certs.dir);
  const server = ca.server('stint');
  opsCert = ca.client('ops', 'ops');
  strangerCert = ca.client('stranger', 'stranger');
  k8s = await TestIssuer.start();
  env = await startStintInProcess({
    prefix: 'stint-tls-',
    issuer: 'https://127.0.0.1',
    audience: AUDIENCE,
    policy: e2ePolicy(k8s.issuer, 'https://unused.example'),
    attestors: [{ kind: 'kubernetes', name: 'cluster', issuer: k8s.issuer }],
    // The admin section is the test's subject: written whole, with its token file.
    admins: [],
    secretFiles: { 'admin.token': 'tls-admin-token\n' },
    extra: {
      tls: { certFile: server.certFile, keyFile: server.keyFile },
      admin: {
        tokens: [{ name: 'ops-token', secret: { file: './admin.token' } }],
        tls: { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: ca.caFile },
        clientNames: ['ops'],
      },
    },
    alsoClose: [k8s, { close: () => certs.cleanup() }],
  });
  stint = env.stint;
});

afterAll(() => env?.close());

function call(client: grpc.Client, method: string, req: unknown, md = new grpc.Metadata()): Promise<{ ok: boolean; code?: number; value?: Record<string, unknown> }> {
  return new Promise((resolve) => {
    (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: Record<string, unknown>) => void) => void>)[method]!.call(
      client,
      req,
      md,
      { deadline: Date.now() + 10_000 },
      (e, v) => resolve(e ? { ok: false, code: e.code } : { ok: true, value: v }),
    );
  });
}

function adminClient(cert?: CertFiles): grpc.Client {
  const creds = cert
    ? grpc.credentials.createSsl(readFileSync(ca.caFile), readFileSync(cert.keyFile), readFileSync(cert.certFile))
    : grpc.credentials.createSsl(readFileSync(ca.caFile));
  return new (proto().stint.v1.Admin)(`localhost:${stint.adminPort}`, creds);
}

describe('TLS listeners', () => {
  it('serves discovery over HTTPS and exchanges over gRPC with TLS', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port: stint.httpPort, path: '/.well-known/openid-configuration', ca: readFileSync(ca.caFile), servername: 'localhost' }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(JSON.parse(body).issuer).toBe('https://127.0.0.1');
    const client = new (proto().stint.v1.TokenExchange)(`localhost:${stint.grpcPort}`, grpc.credentials.createSsl(readFileSync(ca.caFile)));
    const subject = await k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-tls', audience: AUDIENCE });
    const res = await call(client, 'Exchange', { subject_token: subject, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });
    client.close();
    expect(res.ok).toBe(true);
  });

  it('admin listener: a client certificate named as admin is an admin, without a token', async () => {
    const client = adminClient(opsCert);
    const res = await call(client, 'ListGrants', {});
    client.close();
    expect(res.ok).toBe(true);
    expect((res.value!.grants as unknown[]).length).toBeGreaterThan(0);
  });

  it('admin listener: another client certificate needs the admin token too', async () => {
    const client = adminClient(strangerCert);
    expect((await call(client, 'ListGrants', {})).code).toBe(grpc.status.UNAUTHENTICATED);
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer tls-admin-token');
    expect((await call(client, 'ListGrants', {}, md)).ok).toBe(true);
    client.close();
  });

  it('stint grants list reaches the mTLS admin listener with a client certificate', async () => {
    const res = await runStint(['grants', 'list', '--json', '--admin', `localhost:${stint.adminPort}`, '--admin-ca-file', ca.caFile, '--admin-cert-file', opsCert.certFile, '--admin-key-file', opsCert.keyFile], {
      env: { STINT_ADMIN_TOKEN: '' },
    });
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as unknown[]).length).toBeGreaterThan(0);
  });

  it('admin listener: no client certificate, no connection', async () => {
    const client = adminClient();
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer tls-admin-token');
    expect((await call(client, 'ListGrants', {}, md)).code).toBe(grpc.status.UNAVAILABLE);
    client.close();
  });
});
