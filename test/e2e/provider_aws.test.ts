/**
 * Scenario (aws-sts-web-identity-end-to-end): workloads exchange Kubernetes tokens for temporary
 * AWS credentials through the real service (in-process, fake clock) over HTTP (RFC 8693,
 * `credential_kind=aws-sts`, `resource=<role ARN>`) and gRPC. AWS is a local STS speaking the
 * Query API that, as AWS does, verifies the Stint JWT presented to AssumeRoleWithWebIdentity
 * against Stint's own discovery document and JWKS, and a real AWS SDK client signs with the
 * credentials Stint returns. Covers the credential fields, raising a short TTL to AWS's 900 s
 * minimum, a role the rule does not name (denied before any STS call), STS failures on both
 * transports, Admin revocation (recorded, not effective upstream: said so), expiry without
 * upstream cleanup, and the audit trail.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AWS_CREDENTIALS_TOKEN_TYPE, AWS_REVOKE_NOTE } from '../../src/credentials/aws_sts.js';
import { sessionName } from '../../src/credentials/aws/session.js';
import { fingerprint } from '../../src/fingerprint.js';
import type { RunningStint } from '../../src/service.js';
import { FakeClock } from '../support/fake_clock.js';
import { FakeSts } from '../support/fake_sts.js';
import type { StintGrpcClient } from '../support/grpc_client.js';
import { freePort } from '../support/ports.js';
import { httpExchange, queryAudit, tokenExchangeForm, type AuditEvent, type GrpcCredential, type InProcessStint } from '../support/stint_under_test.js';
import { TestIssuer } from '../support/test_issuer.js';
import { AUDIENCE, expectUpstreamFailureOnBothTransports, startProviderStint } from './harness.js';

const KIND = 'aws-sts';
const ADMIN_TOKEN = 'aws-e2e-admin-token';
const IDENTITY = 'spiffe://e2e.test/ns/payments/sa/api-deployer';

const clock = new FakeClock();
let k8s: TestIssuer;
let sts: FakeSts;
let env: InProcessStint;
let stint: RunningStint;
let grpc: StintGrpcClient;
let url: string;
let DEPLOY_ROLE: string;
let OTHER_ROLE: string;

function policy(k8sIssuer: string, deployRole: string): string {
  return `version: 1
rules:
  - name: aws-deploy
    match:
      attestor: kubernetes
      issuer: ${k8sIssuer}
      claims: { namespace: payments, service_account: { glob: "api-*" } }
    allow:
      - kind: ${KIND}
        targets: [${deployRole}]
        ttl: { default: 15m, max: 1h }
        options:
          sessionTags: { Namespace: namespace, ServiceAccount: service_account }
          sessionPolicy:
            Version: "2012-10-17"
            Statement:
              - { Effect: Allow, Action: "s3:*", Resource: "arn:aws:s3:::payments-artifacts/*" }
`;
}

beforeAll(async () => {
  k8s = await TestIssuer.start({ clock });
  const httpPort = await freePort();
  url = `http://127.0.0.1:${httpPort}`;
  // AWS trusts Stint as an OIDC provider: STS fetches Stint's discovery document and JWKS.
  sts = await FakeSts.start({ clock, trustedIssuer: url });
  DEPLOY_ROLE = sts.roleArn('payments-deploy');
  OTHER_ROLE = sts.roleArn('billing-admin');
  // Both roles trust Stint in AWS; only the policy keeps the workload away from the second one.
  sts.addRole({ arn: DEPLOY_ROLE, maxSessionDuration: 3600 });
  sts.addRole({ arn: OTHER_ROLE, maxSessionDuration: 3600 });
  env = await startProviderStint({
    prefix: 'stint-aws-e2e-',
    clock,
    k8s,
    httpPort,
    policy: policy(k8s.issuer, DEPLOY_ROLE),
    maxTtl: '1h',
    admin: { name: 'aws-operator', token: ADMIN_TOKEN },
    providers: { aws: { region: 'us-east-1', endpoint: sts.url, maxAttempts: 1, timeout: '3s' } },
    alsoClose: [sts],
  });
  ({ stint, grpc } = env);
}, 60_000);

afterAll(() => env?.close());

afterEach(() => {
  sts.recover();
  sts.reset();
});

const subject = (serviceAccount = 'api-deployer'): Promise<string> => k8s.mintKubernetes({ namespace: 'payments', serviceAccount, audience: AUDIENCE });
const now = (): number => Math.floor(clock.now() / 1000);

const awsForm = (subjectToken: string, extra: Record<string, string> = {}): Record<string, string> => tokenExchangeForm(subjectToken, { credential_kind: KIND, resource: DEPLOY_ROLE, ...extra });

async function grpcExchange(target: string, ttlSeconds = 0): ReturnType<StintGrpcClient['call']> {
  return grpc.call({ subject_token: await subject(), credentials: [{ kind: KIND, target, ttl_seconds: ttlSeconds }], context: { reason: 'deploy' } });
}

const audit = (filter: Record<string, unknown>): Promise<AuditEvent[]> => queryAudit(grpc, ADMIN_TOKEN, { limit: 100, ...filter });

/** Call GetCallerIdentity on the fake STS with an unmodified SDK client and the issued fields. */
function callerIdentity(fields: Record<string, string>): Promise<{ Arn?: string }> {
  const client = new STSClient({
    region: fields.region!,
    endpoint: sts.url,
    maxAttempts: 1,
    credentials: { accessKeyId: fields.access_key_id!, secretAccessKey: fields.secret_access_key!, sessionToken: fields.session_token! },
  });
  return client.send(new GetCallerIdentityCommand({})).finally(() => client.destroy());
}

describe('issuance over HTTP', () => {
  it('returns AWS credentials for the role, raising a 60 s request to the 900 s AWS minimum', async () => {
    const res = await httpExchange(url, awsForm(await subject(), { ttl_seconds: '60' }));
    expect(res.status).toBe(200);
    const body = res.body as Record<string, unknown> & { fields: Record<string, string> };
    const session = sts.sessions.get(body.fields.access_key_id!)!;
    expect(body).toMatchObject({
      access_token: session.sessionToken,
      issued_token_type: AWS_CREDENTIALS_TOKEN_TYPE,
      credential_kind: KIND,
      expires_in: 900,
      ttl_seconds: 900,
      rule: 'aws-deploy',
      expires_at: new Date((now() + 900) * 1000).toISOString(),
      renew_after: new Date((now() + 600) * 1000).toISOString(),
    });
    expect(body.fields).toEqual({
      access_key_id: session.accessKeyId,
      secret_access_key: session.secretAccessKey,
      session_token: session.sessionToken,
      expiration: new Date((now() + 900) * 1000).toISOString(),
      assumed_role_arn: session.assumedRoleArn,
      region: 'us-east-1',
    });

    // What STS received: the role, a session name from the identity, 900 s, the scoped-down
    // policy, and a Stint JWT for AWS's audience (verified by the fake against Stint's JWKS).
    const calls = sts.callsOf('AssumeRoleWithWebIdentity');
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call).toMatchObject({ outcome: 'ok', signed: false, roleArn: DEPLOY_ROLE, roleSessionName: sessionName(IDENTITY), durationSeconds: 900 });
    expect(JSON.parse(call.policy!)).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::payments-artifacts/*' }] });
    expect(call.webIdentityClaims).toMatchObject({ iss: url, aud: 'sts.amazonaws.com', sub: IDENTITY, jti: body.grant_id });

    // An unmodified AWS SDK client signs with them and STS knows who it is.
    const me = await callerIdentity(body.fields);
    expect(me.Arn).toBe(session.assumedRoleArn);
    expect(me.Arn).toBe(`arn:aws:sts::123456789012:assumed-role/payments-deploy/${sessionName(IDENTITY)}`);
  });

  it('session tags (the grant id and the chosen claims) and the source identity reach AWS in the web identity token', async () => {
    const res = await httpExchange(url, awsForm(await subject()));
    expect(res.status).toBe(200);
    const call = sts.callsOf('AssumeRoleWithWebIdentity')[0]!;
    expect(call.tags).toEqual([
      { Key: 'stint-grant', Value: res.body.grant_id },
      { Key: 'Namespace', Value: 'payments' },
      { Key: 'ServiceAccount', Value: 'api-deployer' },
    ]);
    expect(call.sourceIdentity).toBe(sessionName(IDENTITY));
  });

  it('denies a role ARN the rule does not name before any call reaches STS', async () => {
    const res = await httpExchange(url, awsForm(await subject(), { resource: OTHER_ROLE }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_target', stint_code: 'ERR_TARGET_DENIED', reason: 'TARGET_NOT_ALLOWED' });
    const missing = await httpExchange(url, awsForm(await subject(), { resource: '' }));
    expect(missing.body).toMatchObject({ stint_code: 'ERR_TARGET_DENIED', reason: 'TARGET_REQUIRED' });
    expect(sts.calls).toHaveLength(0);
  });
});

describe('issuance over gRPC', () => {
  it('returns the credential fields, with the requested TTL inside the rule', async () => {
    const res = await grpcExchange(DEPLOY_ROLE, 1800);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const cred = (res.value as unknown as { credentials: GrpcCredential[] }).credentials[0]!;
    expect(cred).toMatchObject({ kind: KIND, token_type: AWS_CREDENTIALS_TOKEN_TYPE, target: DEPLOY_ROLE, ttl_seconds: 1800 });
    expect(cred.token).toBe(cred.fields.session_token);
    expect(Object.keys(cred.fields).sort()).toEqual(['access_key_id', 'assumed_role_arn', 'expiration', 'region', 'secret_access_key', 'session_token']);
    expect(Date.parse(cred.expires_at)).toBe((now() + 1800) * 1000);
    expect(Date.parse(cred.renew_after)).toBe((now() + 1200) * 1000);
    expect(sts.calls[0]).toMatchObject({ durationSeconds: 1800, roleArn: DEPLOY_ROLE });
    expect((await callerIdentity(cred.fields)).Arn).toBe(cred.fields.assumed_role_arn);
  });

  it('caps a TTL above the rule maximum at the rule maximum', async () => {
    const res = await grpcExchange(DEPLOY_ROLE, 7200);
    expect(res.ok).toBe(true);
    expect(sts.calls[0]!.durationSeconds).toBe(3600);
  });

  it('denies a role ARN the rule does not name before any call reaches STS', async () => {
    const res = await grpcExchange(OTHER_ROLE);
    expect(res).toMatchObject({ ok: false, code: 7, stintCode: 'ERR_TARGET_DENIED', reason: 'TARGET_NOT_ALLOWED' });
    expect(sts.calls).toHaveLength(0);
  });
});

describe('STS failures', () => {
  const cases = [
    { name: 'AccessDenied', mode: 'deny', status: 400, oauth: 'invalid_target', grpcCode: 7, stintCode: 'ERR_UPSTREAM_DENIED', reason: 'AccessDenied' },
    { name: 'Throttling', mode: 'throttle', status: 503, oauth: 'temporarily_unavailable', grpcCode: 14, stintCode: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'Throttling' },
    { name: 'HTTP 503', mode: 'unavailable', status: 503, oauth: 'temporarily_unavailable', grpcCode: 14, stintCode: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'ServiceUnavailable' },
    { name: 'a closed connection', mode: 'close', status: 503, oauth: 'temporarily_unavailable', grpcCode: 14, stintCode: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'ECONNRESET' },
    { name: 'malformed XML', mode: 'malformed', status: 502, oauth: 'temporarily_unavailable', grpcCode: 14, stintCode: 'ERR_UPSTREAM_BAD_RESPONSE', reason: 'MalformedResponse' },
  ] as const;

  it.each(cases)('$name: $stintCode on both transports, audited, and the next request succeeds', async (c) => {
    sts.fail(c.mode);
    await expectUpstreamFailureOnBothTransports(c, {
      target: DEPLOY_ROLE,
      http: async () => httpExchange(url, awsForm(await subject())),
      grpc: () => grpcExchange(DEPLOY_ROLE),
      audit,
      afterBoth: () => expect(sts.calls).toHaveLength(2),
      recover: () => sts.recover(),
    });
  });
});

describe('revocation and expiry', () => {
  it('Admin RevokeGrant records the revocation and says plainly that the keys stay valid', async () => {
    const res = await httpExchange(url, awsForm(await subject()));
    expect(res.status).toBe(200);
    const grantId = String(res.body.grant_id);
    const fields = res.body.fields as Record<string, string>;
    sts.reset();

    const revoked = await grpc.adminCall<{ grants: { id: string; state: string }[]; notes: string[] }>('RevokeGrant', { grant_id: grantId, reason: 'leaked in a build log' }, ADMIN_TOKEN);
    expect(revoked.ok).toBe(true);
    if (!revoked.ok) return;
    expect(revoked.value.grants).toEqual([expect.objectContaining({ id: grantId, state: 'revoked' })]);
    expect(revoked.value.notes).toEqual([`${KIND}: ${AWS_REVOKE_NOTE}`]);
    // Nothing to call upstream: STS has no revocation. And indeed the keys still work.
    expect(sts.calls).toHaveLength(0);
    expect((await callerIdentity(fields)).Arn).toBe(fields.assumed_role_arn);

    const events = await audit({ grant_id: grantId });
    expect(events.map((e) => e.type).sort()).toEqual(['exchange.allowed', 'grant.revoked']);
    const revokeEvent = events.find((e) => e.type === 'grant.revoked')!;
    expect(revokeEvent).toMatchObject({ reason: 'leaked in a build log', data: { actor: 'aws-operator', kind: KIND, upstreamEffective: false, note: AWS_REVOKE_NOTE } });
  });

  it('an expired grant is reaped with no upstream call and no reaping event (nothing is left in AWS)', async () => {
    const res = await httpExchange(url, awsForm(await subject('api-expiring')));
    const grantId = String(res.body.grant_id);
    sts.reset();
    clock.advance(901_000);
    await stint.tick();
    const listed = await grpc.adminCall<{ grants: { id: string; state: string }[] }>('ListGrants', { identity: 'spiffe://e2e.test/ns/payments/sa/api-expiring' }, ADMIN_TOKEN);
    expect(listed.ok && listed.value.grants.find((g) => g.id === grantId)?.state).toBe('reaped');
    expect(sts.calls).toHaveLength(0);
    expect((await audit({ grant_id: grantId })).map((e) => e.type)).toEqual(['exchange.allowed']);
    // And STS agrees the keys are dead now.
    await expect(callerIdentity(res.body.fields as Record<string, string>)).rejects.toMatchObject({ Code: 'ExpiredToken' });
  });
});

describe('audit trail', () => {
  it('records each issuance with the role and a fingerprint, never a secret', async () => {
    const res = await httpExchange(url, awsForm(await subject(), { reason: 'release 7' }));
    const grantId = String(res.body.grant_id);
    const fields = res.body.fields as Record<string, string>;
    const [event] = await audit({ grant_id: grantId, type: 'exchange.allowed' });
    expect(event).toMatchObject({ outcome: 'allow', reason: 'RULE_MATCHED', grant_ids: [grantId] });
    expect(event!.data.granted).toEqual([
      { grantId, kind: KIND, audience: null, target: DEPLOY_ROLE, ttlSeconds: 900, ttlCapped: false, credentialFingerprint: fingerprint(fields.session_token!) },
    ]);
    const everything = JSON.stringify(await audit({}));
    for (const secret of [fields.secret_access_key!, fields.session_token!]) expect(everything).not.toContain(secret);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/stint_upstream_request_duration_seconds_count\{[^}]*provider="aws-sts"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/stint_upstream_errors_total\{[^}]*provider="aws-sts"[^}]*code="AccessDenied"[^}]*\} [1-9]/);
    for (const secret of [fields.secret_access_key!, fields.session_token!]) expect(metrics).not.toContain(secret);
  });
});
