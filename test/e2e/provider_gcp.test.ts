/**
 * Scenario (gcp-access-token-end-to-end): workloads exchange Kubernetes tokens for Google access
 * tokens through the real service (in-process, fake clock) over HTTP (RFC 8693) and gRPC, in
 * both modes: impersonation with Stint's own credentials, and workload identity federation where
 * Google's STS verifies the Stint JWT against Stint's own discovery document and JWKS. Google is
 * a local fake speaking the real wire formats; a real google-auth-library client uses the tokens.
 * Covers lifetime capping, a target outside the rule (denied before any Google call), upstream
 * failures on both transports, Admin revocation (recorded, not effective upstream: said so),
 * expiry without upstream cleanup, and the audit trail.
 */
import { OAuth2Client } from 'google-auth-library';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/fingerprint.js';
import type { RunningStint } from '../../src/service.js';
import { FakeClock } from '../support/fake_clock.js';
import { CLOUD_PLATFORM_SCOPE, FakeGcp } from '../support/fake_gcp.js';
import type { StintGrpcClient } from '../support/grpc_client.js';
import { freePort } from '../support/ports.js';
import { httpExchange, queryAudit, tokenExchangeForm, type AuditEvent, type GrpcCredential, type InProcessStint } from '../support/stint_under_test.js';
import { TestIssuer } from '../support/test_issuer.js';
import { AUDIENCE, startProviderStint } from './harness.js';

const WIF_AUDIENCE = '//iam.googleapis.com/projects/424242/locations/global/workloadIdentityPools/stint-e2e/providers/stint';
const READER = 'reader@payments-prod.iam.gserviceaccount.com';
const DEPLOYER = 'deployer@batch-prod.iam.gserviceaccount.com';
const STORAGE_READ = 'https://www.googleapis.com/auth/devstorage.read_only';
const BIGQUERY_READ = 'https://www.googleapis.com/auth/bigquery.readonly';
const ADMIN_TOKEN = 'gcp-e2e-admin-token';
const KIND = 'gcp-access-token';

const clock = new FakeClock();
let k8s: TestIssuer;
let fake: FakeGcp;
let env: InProcessStint;
let stint: RunningStint;
let grpc: StintGrpcClient;
let url: string;

function policy(k8sIssuer: string): string {
  return `version: 1
rules:
  - name: gcp-reader
    match: { attestor: kubernetes, issuer: ${k8sIssuer}, claims: { namespace: payments } }
    allow:
      - kind: ${KIND}
        targets: [${READER}]
        scopes: [${CLOUD_PLATFORM_SCOPE}, ${STORAGE_READ}]
        ttl: { default: 10m, max: 2h }
  - name: gcp-deployer
    match: { attestor: kubernetes, issuer: ${k8sIssuer}, claims: { namespace: batch } }
    allow:
      - kind: ${KIND}
        targets: [${DEPLOYER}]
        scopes: [${CLOUD_PLATFORM_SCOPE}]
        ttl: { default: 15m, max: 1h }
        options: { mode: workload-identity-federation }
  - name: gcp-federated
    match: { attestor: kubernetes, issuer: ${k8sIssuer}, claims: { namespace: analytics } }
    allow:
      - kind: ${KIND}
        ttl: { default: 5m, max: 30m }
        options: { mode: workload-identity-federation, defaultScopes: [${BIGQUERY_READ}] }
`;
}

beforeAll(async () => {
  k8s = await TestIssuer.start({ clock });
  fake = await FakeGcp.start({ clock });
  const httpPort = await freePort();
  url = `http://127.0.0.1:${httpPort}`;
  // Google trusts Stint as an OIDC issuer: STS fetches Stint's discovery document and JWKS.
  fake.addWorkloadIdentityProvider({ audience: WIF_AUDIENCE, issuer: url });
  fake.addServiceAccount(READER, ['user:stint@ops.example.com']);
  fake.addServiceAccount(DEPLOYER, [FakeGcp.federatedPrincipal(WIF_AUDIENCE, 'spiffe://e2e.test/ns/batch/sa/deployer')]);
  env = await startProviderStint({
    prefix: 'stint-gcp-e2e-',
    clock,
    k8s,
    httpPort,
    policy: policy(k8s.issuer),
    maxTtl: '2h',
    admin: { name: 'gcp-operator', token: ADMIN_TOKEN },
    secretFiles: { 'gcp-credentials.json': JSON.stringify(fake.addAuthorizedUser('stint@ops.example.com')) },
    providers: {
      gcp: {
        credentialsFile: './gcp-credentials.json',
        workloadIdentityProvider: WIF_AUDIENCE,
        stsEndpoint: fake.stsEndpoint,
        iamCredentialsEndpoint: fake.iamCredentialsEndpoint,
        timeout: '5s',
      },
    },
    alsoClose: [fake],
  });
  ({ stint, grpc } = env);
}, 60_000);

afterAll(() => env?.close());

afterEach(() => {
  fake.recover();
  fake.resetRequests();
});

const subject = (namespace: string, serviceAccount: string): Promise<string> => k8s.mintKubernetes({ namespace, serviceAccount, audience: AUDIENCE });

/** RFC 8693 form asking for a Google access token. */
async function gcpForm(namespace: string, serviceAccount: string, extra: Record<string, string>): Promise<Record<string, string>> {
  return tokenExchangeForm(await subject(namespace, serviceAccount), { credential_kind: KIND, ...extra });
}

async function grpcExchange(namespace: string, serviceAccount: string, credential: Record<string, unknown>) {
  return grpc.call<{ grant_id: string; rule: string; credentials: GrpcCredential[] }>({ subject_token: await subject(namespace, serviceAccount), credentials: [{ kind: KIND, ...credential }] });
}

/** A real google-auth-library client calling a Google API with the token. */
async function useToken(token: string): Promise<{ status: number; caller?: string }> {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token });
  try {
    const res = await client.request<{ caller: string }>({ url: fake.bucketUrl('payments-ledger'), retry: false });
    return { status: res.status, caller: res.data.caller };
  } catch (e) {
    return { status: (e as { status?: number }).status ?? 0 };
  }
}

const audit = (filter: Record<string, unknown>): Promise<AuditEvent[]> => queryAudit(grpc, ADMIN_TOKEN, filter);

describe('gcp-access-token through the service', () => {
  it('impersonation over HTTP: a token for the named service account that a Google client can use', async () => {
    const res = await httpExchange(url, await gcpForm('payments', 'api', { resource: READER, scope: `${CLOUD_PLATFORM_SCOPE} ${STORAGE_READ}`, ttl_seconds: '900' }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 900,
      credential_kind: KIND,
      rule: 'gcp-reader',
      scope: `${CLOUD_PLATFORM_SCOPE} ${STORAGE_READ}`,
      fields: { service_account: READER, token_type: 'Bearer' },
    });
    const token = String(res.body.access_token);
    expect(fake.requestsTo('iam')).toMatchObject([{ serviceAccount: READER, body: { scope: [CLOUD_PLATFORM_SCOPE, STORAGE_READ], lifetime: '900s' } }]);
    expect(await useToken(token)).toEqual({ status: 200, caller: `serviceAccount:${READER}` });

    // The grant and its audit event carry a fingerprint of the token, never the token.
    const events = await audit({ type: 'exchange.allowed', grant_id: String(res.body.grant_id) });
    expect(events).toHaveLength(1);
    expect(events[0]!.data.granted).toEqual([expect.objectContaining({ kind: KIND, target: READER, ttlSeconds: 900, credentialFingerprint: fingerprint(token) })]);
    expect(events[0]!.raw).not.toContain(token);
  });

  it('workload identity federation over gRPC: STS verifies the Stint JWT, then the federated token impersonates', async () => {
    const res = await grpcExchange('batch', 'deployer', { target: DEPLOYER, scopes: [CLOUD_PLATFORM_SCOPE] });
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const cred = res.value.credentials[0]!;
    expect(res.value.rule).toBe('gcp-deployer');
    expect(cred).toMatchObject({ kind: KIND, token_type: 'urn:ietf:params:oauth:token-type:access_token', ttl_seconds: 900, target: DEPLOYER, fields: { service_account: DEPLOYER, token_type: 'Bearer' } });
    expect(Date.parse(cred.expires_at)).toBe(clock.now() + 900_000);
    expect(fake.requests.map((r) => r.endpoint)).toEqual(['sts', 'iam']);
    expect(fake.requestsTo('sts')[0]!.body).toMatchObject({ audience: WIF_AUDIENCE, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' });
    // Google saw the workload's own identity as the federated principal.
    const federated = [...fake.tokens.values()].filter((t) => t.kind === 'federated').at(-1)!;
    expect(federated.principal).toBe(FakeGcp.federatedPrincipal(WIF_AUDIENCE, 'spiffe://e2e.test/ns/batch/sa/deployer'));
    expect(fake.tokenInfo(cred.token)).toMatchObject({ email: DEPLOYER, scopes: [CLOUD_PLATFORM_SCOPE] });
  });

  it('workload identity federation without a service account returns the federated token', async () => {
    const res = await grpcExchange('analytics', 'etl', {});
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const cred = res.value.credentials[0]!;
    expect(cred.ttl_seconds).toBe(300);
    expect(cred.fields.service_account).toBeUndefined();
    expect(Date.parse(cred.expires_at)).toBe(clock.now() + 300_000);
    expect(fake.tokenInfo(cred.token)).toMatchObject({ kind: 'federated', scopes: [BIGQUERY_READ], principal: FakeGcp.federatedPrincipal(WIF_AUDIENCE, 'spiffe://e2e.test/ns/analytics/sa/etl') });
    expect(fake.requestsTo('iam')).toEqual([]);
  });

  it('caps the lifetime at 3600 s, Google\'s limit, even where the rule allows 2 h', async () => {
    const res = await httpExchange(url, await gcpForm('payments', 'api', { resource: READER, ttl_seconds: '7200' }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ttl_seconds: 3600, ttl_capped: true, expires_in: 3600 });
    expect(fake.requestsTo('iam')[0]!.body.lifetime).toBe('3600s');
  });

  it('denies a target the rule does not name before any call to Google, on both transports', async () => {
    const viaHttp = await httpExchange(url, await gcpForm('payments', 'api', { resource: DEPLOYER }));
    expect(viaHttp.status).toBe(400);
    expect(viaHttp.body).toMatchObject({ error: 'invalid_target', stint_code: 'ERR_TARGET_DENIED', reason: 'TARGET_NOT_ALLOWED' });
    const viaGrpc = await grpcExchange('payments', 'api', { target: 'admin@payments-prod.iam.gserviceaccount.com' });
    expect(viaGrpc).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_TARGET_DENIED' });
    const scope = await grpcExchange('batch', 'deployer', { target: DEPLOYER, scopes: ['https://www.googleapis.com/auth/iam'] });
    expect(scope).toMatchObject({ ok: false, stintCode: 'ERR_TARGET_DENIED', reason: 'SCOPE_NOT_ALLOWED' });
    expect(fake.requests).toEqual([]);
  });

  it('maps Google\'s refusal, throttling and malformed replies on both transports, and keeps serving', async () => {
    fake.fail('iam', 'deny');
    const denied = await httpExchange(url, await gcpForm('payments', 'api', { resource: READER }));
    expect(denied.status).toBe(400);
    expect(denied.body).toMatchObject({ error: 'invalid_target', stint_code: 'ERR_UPSTREAM_DENIED', reason: 'PERMISSION_DENIED' });
    const deniedGrpc = await grpcExchange('payments', 'api', { target: READER });
    expect(deniedGrpc).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_UPSTREAM_DENIED', reason: 'PERMISSION_DENIED' });

    // STS throttles every attempt the Google client makes (1 + 3 retries).
    fake.recover();
    fake.fail('sts', 'throttle', 4);
    const throttled = await grpcExchange('batch', 'deployer', { target: DEPLOYER });
    expect(throttled).toMatchObject({ ok: false, code: 14, stintCode: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'RESOURCE_EXHAUSTED' });

    fake.fail('sts', 'malformed', 1);
    const malformed = await httpExchange(url, await gcpForm('analytics', 'etl', {}));
    expect(malformed.status).toBe(502);
    expect(malformed.body).toMatchObject({ error: 'temporarily_unavailable', stint_code: 'ERR_UPSTREAM_BAD_RESPONSE' });

    fake.fail('iam', 'unavailable', 4);
    const unavailable = await httpExchange(url, await gcpForm('payments', 'api', { resource: READER }));
    expect(unavailable.status).toBe(503);
    expect(unavailable.body).toMatchObject({ error: 'temporarily_unavailable', stint_code: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'UNAVAILABLE', retry_after: '5' });

    // Faults exhausted: the next requests succeed on both transports.
    expect((await httpExchange(url, await gcpForm('payments', 'api', { resource: READER }))).status).toBe(200);
    expect((await grpcExchange('batch', 'deployer', { target: DEPLOYER })).ok).toBe(true);

    // Each failure is in the audit trail with its code, and no grant was recorded for it.
    const errors = await audit({ type: 'exchange.error', limit: 4 });
    expect(errors.map((e) => e.reason)).toEqual(['ERR_UPSTREAM_UNAVAILABLE', 'ERR_UPSTREAM_BAD_RESPONSE', 'ERR_UPSTREAM_UNAVAILABLE', 'ERR_UPSTREAM_DENIED']);
    expect(errors.every((e) => e.grant_ids.length === 0 && e.outcome === 'error')).toBe(true);
    for (const e of errors) expect(e.raw).not.toMatch(/ya29\.|eyJ/);
  }, 30_000);

  it('Admin RevokeGrant records the revocation and says plainly that Google keeps the token valid until expiry', async () => {
    const res = await httpExchange(url, await gcpForm('payments', 'api', { resource: READER, ttl_seconds: '600' }));
    expect(res.status).toBe(200);
    const grantId = String(res.body.grant_id);
    const token = String(res.body.access_token);
    fake.resetRequests();

    const revoked = await grpc.adminCall<{ grants: { id: string; state: string }[]; notes: string[] }>('RevokeGrant', { grant_id: grantId, reason: 'incident 7' }, ADMIN_TOKEN);
    expect(revoked.ok).toBe(true);
    if (!revoked.ok) return;
    expect(revoked.value.grants).toMatchObject([{ id: grantId, state: 'revoked' }]);
    expect(revoked.value.notes.join('\n')).toMatch(/gcp-access-token: Google access tokens cannot be revoked one by one.*until it expires.*disable the service account/);
    const events = await audit({ type: 'grant.revoked', grant_id: grantId });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'incident 7', data: { actor: 'gcp-operator', kind: KIND, upstreamEffective: false } });
    // Nothing was asked of Google, and the token keeps working there until it expires.
    expect(fake.requests).toEqual([]);
    expect((await useToken(token)).status).toBe(200);

    // An admin call without the admin token is refused.
    expect(await grpc.adminCall('RevokeGrant', { grant_id: grantId }, 'wrong')).toMatchObject({ ok: false, stintCode: 'ERR_ADMIN_UNAUTHENTICATED' });
  });

  it('expires grants without any upstream cleanup, and the tokens stop working at Google', async () => {
    const res = await grpcExchange('payments', 'api', { target: READER, ttl_seconds: 120 });
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const { grant_id: grantId, token } = res.value.credentials[0]!;
    fake.resetRequests();
    clock.advance(121_000);
    await stint.tick();
    const listed = await grpc.adminCall<{ grants: { id: string; state: string }[] }>('ListGrants', { limit: 1000 }, ADMIN_TOKEN);
    expect(listed.ok).toBe(true);
    if (!listed.ok) return;
    expect(['expired', 'reaped']).toContain(listed.value.grants.find((g) => g.id === grantId)?.state);
    expect(fake.requests).toEqual([]);
    expect((await useToken(token)).status).toBe(401);
  });
});
