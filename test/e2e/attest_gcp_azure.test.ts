/**
 * Scenario: virtual machines on GCP and Azure prove themselves to the real `stint serve` with
 * their cloud's own proofs, served by local metadata fakes that speak the real wire formats: a
 * GCE instance identity token (format=full), an Entra managed identity token and an IMDS attested
 * document over a nonce from `POST /attestation/nonce`. Exchanges over gRPC and HTTP; then the VM
 * journey: the real `stint-sidecar` with `subjectToken.source` gcp-instance / azure-msi /
 * azure-imds keeps a credential fresh, and on GCP an unmodified google-auth-library consumes it
 * through the sidecar's gcp-metadata output.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AZURE_IMDS_TOKEN_TYPE, AZURE_MSI_TOKEN_TYPE, ACCESS_TOKEN_TYPE, GCP_INSTANCE_TOKEN_TYPE } from '../../src/attestation/token_types.js';
import { FakeAzureImds } from '../support/fake_azure_imds.js';
import { FakeGceMetadata } from '../support/fake_gce_metadata.js';
import type { StintGrpcClient } from '../support/grpc_client.js';
import { runJsonLinesProgram, runStint, startStintProgram, type ProgramRun, type StintProgram } from '../support/stint_under_test.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';
import { ROOT, eventually, freePort, startSidecar, tempDir, type RunningSidecar } from '../sidecar/harness.js';

const AUDIENCE = 'https://stint.vm-e2e.test';
const API = 'https://api.example.com';
const GCP_CLIENT = resolve(ROOT, 'dist/test/sidecar/gcp_client.js');
const tmp = tempDir('stint-vm-e2e-');
let gce: FakeGceMetadata;
let az: FakeAzureImds;
let env: StintProgram;
let url: string;
let grpc: StintGrpcClient;

function policy(): string {
  return `version: 1
rules:
  - name: gcp-web
    match:
      attestor: gcp-instance
      issuer: https://accounts.google.com
      claims:
        project_number: "123456789012"
        instance_name: web-1
    allow:
      - kind: stint-jwt
        audiences: [${API}]
        ttl: { default: 10m, max: 30m }
        passClaims: [project_id, instance_id, zone]
  - name: azure-web-identity
    match:
      attestor: azure
      issuer: ${az.issuer}
      claims:
        tid: ${az.vm.tenantId}
        subscription_id: ${az.vm.subscriptionId}
        resource_name: web-vm-1
    allow:
      - kind: stint-jwt
        audiences: [${API}]
        ttl: { default: 10m, max: 30m }
        passClaims: [resource_group, resource_name]
  - name: azure-web-vm
    match:
      attestor: azure
      issuer: https://metadata.azure.com/
      claims:
        subscription_id: ${az.vm.subscriptionId}
        vm_id: ${az.vm.vmId}
    allow:
      - kind: stint-jwt
        audiences: [${API}]
        ttl: { default: 10m, max: 30m }
        passClaims: [vm_id]
`;
}

beforeAll(async () => {
  gce = await FakeGceMetadata.start();
  az = await FakeAzureImds.start();
  env = await startStintProgram({
    prefix: 'stint-vm-e2e-svc-',
    cwd: tmp.dir,
    audience: AUDIENCE,
    trustDomain: 'vm.test',
    policy: policy(),
    maxTtl: '1h',
    attestors: [
      { kind: 'gcp-instance', discoveryUrl: gce.url, projects: ['acme-prod'], explainDenials: true },
      {
        kind: 'azure',
        tenantId: az.vm.tenantId,
        discoveryUrl: az.discoveryUrl,
        subscriptions: [az.vm.subscriptionId],
        attestedDocument: { roots: [az.rootFile] },
        explainDenials: true,
      },
    ],
    admins: [],
    alsoClose: [gce, az],
  });
  url = env.url;
  grpc = env.grpc;
}, 60_000);

afterAll(async () => {
  await env?.close();
  tmp.cleanup();
});

async function httpExchange(type: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: token, subject_token_type: type, audience: API }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function grpcExchange(type: string, token: string) {
  return grpc.call<{ rule: string; identity: string; credentials: Record<string, unknown>[] }>({
    subject_token: token,
    subject_token_type: type,
    credentials: [{ kind: 'stint-jwt', audience: API }],
  });
}

async function nonce(kind = 'azure'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/attestation/nonce`, { method: 'POST', body: new URLSearchParams({ kind }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function attestedDocument(): Promise<string> {
  const n = await nonce();
  expect(n.status).toBe(200);
  const res = await fetch(`${az.url}/metadata/attested/document?api-version=2020-09-01&nonce=${String(n.body.nonce)}`, { headers: { Metadata: 'true' } });
  return res.text();
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('GCE instance identity tokens', () => {
  it('exchange over gRPC and HTTP for the VM identity', async () => {
    const viaGrpc = await grpcExchange(GCP_INSTANCE_TOKEN_TYPE, await gce.mint({ audience: AUDIENCE }));
    expect(viaGrpc.ok).toBe(true);
    if (viaGrpc.ok) {
      expect(viaGrpc.value.rule).toBe('gcp-web');
      expect(viaGrpc.value.identity).toBe('spiffe://vm.test/gcp/acme-prod/europe-west1-b/4567890123456789012');
      expect(claimsOf(String(viaGrpc.value.credentials[0]!.token))).toMatchObject({ project_id: 'acme-prod', instance_id: '4567890123456789012' });
    }
    const viaHttp = await httpExchange(GCP_INSTANCE_TOKEN_TYPE, await gce.mint({ audience: AUDIENCE }));
    expect(viaHttp).toMatchObject({ status: 200, body: { rule: 'gcp-web' } });
  });

  it('refuses a token without compute_engine claims and one for another audience, then serves a good one', async () => {
    const standard = await httpExchange(GCP_INSTANCE_TOKEN_TYPE, await gce.mint({ audience: AUDIENCE, format: 'standard' }));
    expect(standard).toMatchObject({ status: 400, body: { error: 'invalid_request', stint_code: 'ERR_TOKEN_CLAIM_INVALID' } });
    const other = await grpcExchange(GCP_INSTANCE_TOKEN_TYPE, await gce.mint({ audience: 'https://other.example.com' }));
    expect(other.ok).toBe(false);
    expect(!other.ok && other.stintCode).toBe('ERR_TOKEN_AUDIENCE_INVALID');
    expect((await httpExchange(GCP_INSTANCE_TOKEN_TYPE, await gce.mint({ audience: AUDIENCE }))).status).toBe(200);
  });
});

describe('Azure managed identity tokens and attested documents', () => {
  it('exchange a managed identity token over gRPC and HTTP', async () => {
    const viaGrpc = await grpcExchange(AZURE_MSI_TOKEN_TYPE, await az.mintMsi({ resource: AUDIENCE }));
    expect(viaGrpc.ok && viaGrpc.value.rule).toBe('azure-web-identity');
    expect(viaGrpc.ok && viaGrpc.value.identity).toBe(`spiffe://vm.test/azure/${az.vm.tenantId}/${az.vm.subscriptionId}/rg-web/Microsoft.Compute/virtualMachines/web-vm-1`);
    const viaHttp = await httpExchange(ACCESS_TOKEN_TYPE, await az.mintMsi({ resource: AUDIENCE }));
    expect(viaHttp).toMatchObject({ status: 200, body: { rule: 'azure-web-identity' } });
  });

  it('refuses a token of another tenant or audience, then serves a good one', async () => {
    const tenant = await httpExchange(AZURE_MSI_TOKEN_TYPE, await az.mintMsi({ resource: AUDIENCE, claims: { tid: '11111111-2222-4333-8444-555555555555' } }));
    expect(tenant).toMatchObject({ status: 400, body: { stint_code: 'ERR_TOKEN_CLAIM_INVALID' } });
    const audience = await httpExchange(AZURE_MSI_TOKEN_TYPE, await az.mintMsi({ resource: 'https://management.azure.com/' }));
    expect(audience).toMatchObject({ status: 400, body: { stint_code: 'ERR_TOKEN_AUDIENCE_INVALID' } });
    expect((await httpExchange(AZURE_MSI_TOKEN_TYPE, await az.mintMsi({ resource: AUDIENCE }))).status).toBe(200);
  });

  it('issues nonces only for kinds that take them, and exchanges an attested document once over HTTP and gRPC', async () => {
    expect(await nonce('aws-iid')).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const issued = await nonce();
    expect(issued).toMatchObject({ status: 200, body: { expires_in: 120 } });
    expect(String(issued.body.nonce)).toMatch(/^\d{10}$/);

    const doc = await attestedDocument();
    const viaHttp = await httpExchange(AZURE_IMDS_TOKEN_TYPE, doc);
    expect(viaHttp).toMatchObject({ status: 200, body: { rule: 'azure-web-vm' } });
    const replay = await httpExchange(AZURE_IMDS_TOKEN_TYPE, doc);
    expect(replay).toMatchObject({ status: 400, body: { stint_code: 'ERR_TOKEN_REPLAYED' } });
    const viaGrpc = await grpcExchange(AZURE_IMDS_TOKEN_TYPE, await attestedDocument());
    expect(viaGrpc.ok && viaGrpc.value.identity).toBe(`spiffe://vm.test/azure/vm/${az.vm.subscriptionId}/${az.vm.vmId}`);
  });

  it('refuses a document whose nonce Stint never issued and a proof sent with another kind’s type', async () => {
    const foreign = await httpExchange(AZURE_IMDS_TOKEN_TYPE, az.attested({ nonce: '0000000001' }));
    expect(foreign).toMatchObject({ status: 400, body: { stint_code: 'ERR_TOKEN_REPLAYED' } });
    const crossed = await httpExchange(GCP_INSTANCE_TOKEN_TYPE, await az.mintMsi({ resource: AUDIENCE }));
    expect(crossed).toMatchObject({ status: 400, body: { stint_code: 'ERR_TOKEN_ISSUER_UNKNOWN' } });
    expect((await httpExchange(AZURE_IMDS_TOKEN_TYPE, await attestedDocument())).status).toBe(200);
  });
});

function runGcpApp(host: string, args: string[]): Promise<Record<string, unknown>[]> {
  return runJsonLinesProgram(GCP_CLIENT, args, { HOME: tmp.dir, GCE_METADATA_HOST: host });
}

/** A sidecar on the VM with `subjectToken` from the metadata service, a 3 s credential in a file (and more outputs). */
async function startVmSidecar(name: string, subjectToken: Record<string, unknown>, outputs: Record<string, unknown>[] = []): Promise<{ sidecar: RunningSidecar; file: string }> {
  const file = tmp.path(`${name}.jwt`);
  const config = baseConfig(url, tmp.path('unused'), false, [{ name, audience: API, ttl: '3s', outputs: [{ type: 'file', path: file }, ...outputs] }]);
  const sidecar = startSidecar(['--config', writeSidecarConfig(tmp.path(`${name}.json`), { ...config, subjectToken })]);
  await sidecar.waitFor(/credential issued/);
  return { sidecar, file };
}

/** The file's credential is replaced by a newer one (the sidecar renewed with a fresh proof). */
async function expectRenewed(file: string): Promise<Record<string, unknown>> {
  const first = readFileSync(file, 'utf8');
  await eventually(() => readFileSync(file, 'utf8') !== first, 15_000);
  return claimsOf(readFileSync(file, 'utf8').trim());
}

describe('VM journey: the sidecar proves the machine from its metadata service', () => {
  it('on GCE: keeps a credential fresh, and google-auth-library reads it from the sidecar', async () => {
    const host = `127.0.0.1:${await freePort()}`;
    const { sidecar, file } = await startVmSidecar('gce', { source: 'gcp-instance', audience: AUDIENCE, metadataHost: gce.host }, [
      { type: 'gcp-metadata', listen: host, projectId: 'acme-prod', numericProjectId: '123456789012', serviceAccountEmail: gce.instance.email },
    ]);
    try {
      const requestsBefore = gce.requests.length;
      expect(await expectRenewed(file)).toMatchObject({ aud: API, project_id: 'acme-prod', instance_id: '4567890123456789012' });
      expect(gce.requests.length).toBeGreaterThan(requestsBefore);
      expect(gce.requests.at(-1)).toEqual({ audience: AUDIENCE, format: 'full' });
      const lines = await runGcpApp(host, ['2', '0']);
      expect(lines[0]).toEqual({ projectId: 'acme-prod', client: 'Compute' });
      expect(lines.slice(1).every((l) => typeof l.token === 'string')).toBe(true);
    } finally {
      await sidecar.stop();
    }
  }, 60_000);

  it('on Azure with a managed identity token: keeps a credential fresh', async () => {
    const { sidecar, file } = await startVmSidecar('azure-msi', { source: 'azure-msi', resource: AUDIENCE, imdsEndpoint: az.url });
    try {
      expect(await expectRenewed(file)).toMatchObject({ aud: API, resource_name: 'web-vm-1', resource_group: 'rg-web' });
    } finally {
      await sidecar.stop();
    }
  }, 60_000);

  it('on Azure with the attested document: a new Stint nonce for every exchange keeps a credential fresh', async () => {
    const before = az.requests.filter((r) => r.path === '/metadata/attested/document').length;
    const { sidecar, file } = await startVmSidecar('azure-imds', { source: 'azure-imds', imdsEndpoint: az.url });
    try {
      expect(await expectRenewed(file)).toMatchObject({ aud: API, vm_id: az.vm.vmId });
      const docs = az.requests.filter((r) => r.path === '/metadata/attested/document').slice(before);
      expect(docs.length).toBeGreaterThanOrEqual(2);
      expect(new Set(docs.map((d) => d.query['nonce'])).size).toBe(docs.length);
    } finally {
      await sidecar.stop();
    }
  }, 60_000);
});

describe('stint exchange obtains the proof from the machine (--subject-token-source)', () => {
  const runExchange = (args: string[]): Promise<ProgramRun> => runStint(['exchange', '--url', url, '--audience', API, ...args], { cwd: tmp.dir });

  it('on GCE (gcp-instance), on Azure (azure-msi) and with an attested document over a Stint nonce (azure-imds)', async () => {
    const cases: [string, string[], Record<string, unknown>][] = [
      ['gcp-instance', ['--source-audience', AUDIENCE, '--metadata-host', gce.host], { instance_id: gce.instance.instanceId }],
      ['azure-msi', ['--source-audience', AUDIENCE, '--imds-endpoint', az.url], { resource_name: 'web-vm-1' }],
      ['azure-imds', ['--imds-endpoint', az.url], { vm_id: az.vm.vmId }],
    ];
    for (const [source, args, claims] of cases) {
      const r = await runExchange(['--subject-token-source', source, ...args]);
      expect(r.code, `${source}: ${r.stderr}`).toBe(0);
      const payload = JSON.parse(Buffer.from(r.stdout.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      expect(payload).toMatchObject({ aud: API, ...claims });
    }
  }, 60_000);

  it('a source missing its setting is refused with the key it needs and exit 2', async () => {
    const r = await runExchange(['--subject-token-source', 'gcp-instance']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/audience/);
  });
});
