/**
 * Scenario: the sidecar's `gcp-metadata` endpoint serves real Google access tokens from Stint's
 * `gcp-access-token` provider (the real `stint serve` against a local Google fake speaking the
 * real wire formats), in both modes: impersonation (Stint's own Google credentials call IAM
 * Credentials generateAccessToken) and workload identity federation (Google's STS verifies a
 * Stint JWT against Stint's discovery document and JWKS, then the federated token impersonates).
 * Unmodified google-auth-library code with only GCE_METADATA_HOST obtains exactly the token the
 * fake minted for the service account, calls a Google API with it, and after a rotation gets the
 * newly minted one. The Google tokens never reach the sidecar's logs.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOUD_PLATFORM_SCOPE, FakeGcp } from '../support/fake_gcp.js';
import { ROOT, eventually, freePort, get, metricValue, startSidecar, startStintServe, tempDir, type RunningSidecar, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';

const GCP_CLIENT = resolve(ROOT, 'dist/test/sidecar/gcp_client.js');
const WIF_AUDIENCE = '//iam.googleapis.com/projects/424242/locations/global/workloadIdentityPools/stint-sidecar/providers/stint';
const READER = 'reader@stint-test-project.iam.gserviceaccount.com';
const DEPLOYER = 'deployer@stint-test-project.iam.gserviceaccount.com';
const STORAGE_READ = 'https://www.googleapis.com/auth/devstorage.read_only';
const IDENTITY = 'spiffe://sidecar.test/ns/apps/sa/app';

const tmp = tempDir('stint-sidecar-gcp-provider-');
let fake: FakeGcp;
let stint: StintUnderTest;
let sidecar: RunningSidecar;
let ops: number;
const hosts = { reader: '', deployer: '' };

beforeAll(async () => {
  fake = await FakeGcp.start();
  fake.addServiceAccount(READER, ['user:stint@ops.example.com']);
  fake.addServiceAccount(DEPLOYER, [FakeGcp.federatedPrincipal(WIF_AUDIENCE, IDENTITY)]);
  writeFileSync(tmp.path('gcp-credentials.json'), JSON.stringify(fake.addAuthorizedUser('stint@ops.example.com')), { mode: 0o600 });
  stint = await startStintServe({
    extraConfig: `providers:
  gcp:
    credentialsFile: "${tmp.path('gcp-credentials.json')}"
    workloadIdentityProvider: "${WIF_AUDIENCE}"
    stsEndpoint: "${fake.stsEndpoint}"
    iamCredentialsEndpoint: "${fake.iamCredentialsEndpoint}"
    timeout: 5s
`,
    extraAllow: `      - kind: gcp-access-token
        targets: [${READER}]
        scopes: [${CLOUD_PLATFORM_SCOPE}, ${STORAGE_READ}]
        ttl: { default: 10m, max: 1h }
      - kind: gcp-access-token
        targets: [${DEPLOYER}]
        scopes: [${CLOUD_PLATFORM_SCOPE}]
        ttl: { default: 10m, max: 1h }
        options: { mode: workload-identity-federation }
`,
  });
  // Google trusts Stint as an OIDC issuer: STS fetches Stint's discovery document and JWKS.
  fake.addWorkloadIdentityProvider({ audience: WIF_AUDIENCE, issuer: stint.url });
  await stint.writeSubjectToken(tmp.path('subject.jwt'));
  hosts.reader = `127.0.0.1:${await freePort()}`;
  hosts.deployer = `127.0.0.1:${await freePort()}`;
  ops = await freePort();
  const metadata = (listen: string, email: string): Record<string, unknown> => ({ type: 'gcp-metadata', listen, projectId: 'stint-test-project', numericProjectId: '424242', serviceAccountEmail: email });
  const config = writeSidecarConfig(
    tmp.path('gcp.yaml'),
    baseConfig(stint.url, tmp.path('subject.jwt'), ops, [
      { name: 'reader', kind: 'gcp-access-token', target: READER, scopes: [CLOUD_PLATFORM_SCOPE, STORAGE_READ], ttl: '3s', outputs: [metadata(hosts.reader, READER)] },
      { name: 'deployer', kind: 'gcp-access-token', target: DEPLOYER, ttl: '3s', outputs: [metadata(hosts.deployer, DEPLOYER)] },
    ]),
  );
  sidecar = startSidecar(['--config', config]);
  await sidecar.waitFor(/"msg":"credential issued","credential":"reader"/);
  await sidecar.waitFor(/"msg":"credential issued","credential":"deployer"/);
}, 60_000);

afterAll(async () => {
  if (sidecar) expect(await sidecar.stop()).toBe(0);
  await stint?.close();
  await fake?.close();
  tmp.cleanup();
});

/** Run `node SCRIPT ARGS...` as the application: a clean environment naming only the metadata host. */
function runApp(host: string, args: string[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH, HOME: tmp.dir, GCE_METADATA_HOST: host }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolveRun(out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)) : reject(new Error(`gcp app exited ${code}: ${err}`))));
  });
}

/** test/sidecar/gcp_client.ts: project id, client class, then one access token (as a SHA-256 prefix). */
async function tokenHashVia(host: string): Promise<string> {
  const lines = await runApp(host, [GCP_CLIENT, '1', '0']);
  expect(lines[0]).toEqual({ projectId: 'stint-test-project', client: 'Compute' });
  expect(lines[1]?.error).toBeUndefined();
  return String(lines[1]!.token);
}

/** An application calling a Google API (Cloud Storage buckets.get on the fake) with Application Default Credentials. */
const API_APP = `
import { GoogleAuth } from 'google-auth-library';
const auth = new GoogleAuth({ scopes: ['${CLOUD_PLATFORM_SCOPE}'] });
try {
  const res = await auth.request({ url: process.argv[1], retry: false });
  console.log(JSON.stringify({ status: res.status, caller: res.data.caller }));
} catch (e) {
  console.log(JSON.stringify({ error: e.name, status: e.status ?? null, message: String(e.message).split('\\n')[0] }));
}
`;

const sha = (v: string): string => createHash('sha256').update(v).digest('hex').slice(0, 16);

/** The token the fake minted whose SHA-256 prefix is `hash`. */
function minted(hash: string): { value: string; kind: string; email?: string; principal: string; scopes: readonly string[]; index: number } {
  const all = [...fake.tokens.entries()];
  const index = all.findIndex(([value]) => sha(value) === hash);
  expect(index, `token ${hash} was not minted by the fake`).toBeGreaterThanOrEqual(0);
  const [value, info] = all[index]!;
  return { value, ...info, index };
}

async function renewalCount(credential: string): Promise<number> {
  return metricValue((await get(`http://127.0.0.1:${ops}/metrics`)).text, 'stint_sidecar_renewals_total', { credential });
}

/** Wait until the credential was obtained again after the count was `n` (the counter moves once the endpoint holds the new token). */
async function nextRenewal(credential: string, n: number): Promise<void> {
  await eventually(async () => (await renewalCount(credential)) > n, 10_000);
}

describe('gcp-access-token behind the GCE metadata endpoint', () => {
  it('impersonation: google-auth-library gets the token the fake minted for the service account, uses it, and gets the new one after a rotation', async () => {
    const h1 = await tokenHashVia(hosts.reader);
    const t1 = minted(h1);
    expect(t1).toMatchObject({ kind: 'service-account', email: READER, principal: `serviceAccount:${READER}`, scopes: [CLOUD_PLATFORM_SCOPE, STORAGE_READ] });
    // Stint asked IAM Credentials for it with its own (authorized_user) token, for the requested lifetime and scopes.
    const iam = [...fake.requestsTo('iam').filter((r) => r.serviceAccount === READER)];
    expect(iam.length).toBeGreaterThanOrEqual(1);
    expect(iam[0]).toMatchObject({ method: 'POST', path: `/v1/projects/-/serviceAccounts/${READER}:generateAccessToken`, body: { scope: [CLOUD_PLATFORM_SCOPE, STORAGE_READ] } });
    // The grant's 3 s, counted from the provider's own clock reading (2 s when a second boundary fell in between).
    expect(['3s', '2s']).toContain(iam[0]!.body.lifetime);
    expect(iam[0]!.bearer).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(fake.requestsTo('oauth').length).toBeGreaterThanOrEqual(1);
    expect(fake.requestsTo('oauth')[0]!.body).toMatchObject({ grant_type: 'refresh_token' });

    // The application calls a Google API with what the endpoint serves: Google sees the service account.
    const [call] = await runApp(hosts.reader, ['--input-type=module', '-e', API_APP, fake.bucketUrl('payments-ledger')]);
    expect(call).toEqual({ status: 200, caller: `serviceAccount:${READER}` });

    // renew_after is two thirds of the 3 s lifetime: after the next renewal the endpoint serves a newly minted token.
    await nextRenewal('reader', await renewalCount('reader'));
    const h2 = await tokenHashVia(hosts.reader);
    expect(h2).not.toBe(h1);
    const t2 = minted(h2);
    expect(t2).toMatchObject({ kind: 'service-account', email: READER });
    expect(t2.index).toBeGreaterThan(t1.index);
    expect(fake.requestsTo('iam').filter((r) => r.serviceAccount === READER).length).toBeGreaterThan(iam.length);
  });

  it('workload identity federation: STS verified the Stint JWT, the federated token impersonated, and the client gets the result', async () => {
    const h1 = await tokenHashVia(hosts.deployer);
    const t1 = minted(h1);
    expect(t1).toMatchObject({ kind: 'service-account', email: DEPLOYER, principal: `serviceAccount:${DEPLOYER}`, scopes: [CLOUD_PLATFORM_SCOPE] });
    // STS exchanged a Stint JWT for the pool provider; Google saw the workload's own identity.
    const sts = fake.requestsTo('sts');
    expect(sts.length).toBeGreaterThanOrEqual(1);
    expect(sts[0]!.body).toMatchObject({ audience: WIF_AUDIENCE, grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' });
    const federated = [...fake.tokens.entries()].filter(([, t]) => t.kind === 'federated');
    expect(federated.length).toBeGreaterThanOrEqual(1);
    expect(federated.every(([, t]) => t.principal === FakeGcp.federatedPrincipal(WIF_AUDIENCE, IDENTITY))).toBe(true);
    // ...and the federated token is what called generateAccessToken for the deployer.
    const federatedPrints = new Set(federated.map(([v]) => `sha256:${sha(v)}`));
    const iam = fake.requestsTo('iam').filter((r) => r.serviceAccount === DEPLOYER);
    expect(iam.length).toBeGreaterThanOrEqual(1);
    expect(iam.every((r) => r.bearer !== null && federatedPrints.has(r.bearer))).toBe(true);

    await nextRenewal('deployer', await renewalCount('deployer'));
    const h2 = await tokenHashVia(hosts.deployer);
    expect(h2).not.toBe(h1);
    const t2 = minted(h2);
    expect(t2).toMatchObject({ kind: 'service-account', email: DEPLOYER });
    expect(t2.index).toBeGreaterThan(t1.index);
  });

  it('the endpoint answers with the live token and its remaining lifetime; the Google tokens never reach the logs', async () => {
    const res = await get(`http://${hosts.reader}/computeMetadata/v1/instance/service-accounts/default/token`, { 'metadata-flavor': 'Google' });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text) as { access_token: string; expires_in: number; token_type: string };
    expect(body.token_type).toBe('Bearer');
    const info = fake.tokenInfo(body.access_token);
    expect(info).toMatchObject({ kind: 'service-account', email: READER });
    expect(body.expires_in).toBeLessThanOrEqual(Math.ceil((info!.expiresAtMs - Date.now()) / 1000));
    expect((await get(`http://${hosts.reader}/computeMetadata/v1/instance/service-accounts/default/email`, { 'metadata-flavor': 'Google' })).text).toBe(READER);
    expect((await get(`http://${hosts.deployer}/computeMetadata/v1/instance/service-accounts/default/email`, { 'metadata-flavor': 'Google' })).text).toBe(DEPLOYER);

    const logs = sidecar.stdout() + sidecar.stderr();
    expect(logs).not.toMatch(/ya29\./);
    for (const token of fake.tokens.keys()) expect(logs).not.toContain(token);
    // No exchange or output failed along the way.
    const metrics = (await get(`http://127.0.0.1:${ops}/metrics`)).text;
    expect(metricValue(metrics, 'stint_sidecar_renewal_failures_total')).toBe(0);
    expect(metricValue(metrics, 'stint_sidecar_output_failures_total')).toBe(0);
    expect(metricValue(metrics, 'stint_sidecar_credential_ready', { credential: 'reader' })).toBe(1);
    expect(metricValue(metrics, 'stint_sidecar_credential_ready', { credential: 'deployer' })).toBe(1);
  });
});
