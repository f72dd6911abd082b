/**
 * Scenario (aws-sts-revoke-older-sessions, issue 14): with `providers.aws.revokeOlderSessions`
 * enabled, revoking an AWS grant through the real service (in process, fake clock) attaches to
 * the role the `aws:TokenIssueTime` deny policy through the real @aws-sdk/client-iam, against a
 * local IAM speaking the Query API and checking SigV4 (test/support/fake_iam.ts). Admin
 * RevokeGrant and RevokeIdentity with quarantine both reach IAM; the revocation is reported
 * effective with the blast radius in its note and audited so; a later revocation moves the time
 * forward; an IAM refusal leaves the grant revoked, reported not effective with IAM's code and no
 * secret; the next revocation after IAM recovers succeeds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REVOKE_POLICY_NAME, REVOKE_STATEMENT_SID, revocationTime } from '../../src/credentials/aws/revoke_older_sessions.js';
import { FakeClock } from '../support/fake_clock.js';
import { FakeIam } from '../support/fake_iam.js';
import { FakeSts } from '../support/fake_sts.js';
import type { StintGrpcClient } from '../support/grpc_client.js';
import { freePort } from '../support/ports.js';
import { httpExchange, queryAudit, tokenExchangeForm, type AuditEvent, type InProcessStint } from '../support/stint_under_test.js';
import { TestIssuer } from '../support/test_issuer.js';
import { AUDIENCE, startProviderStint } from './harness.js';

const KIND = 'aws-sts';
const ADMIN_TOKEN = 'aws-revoke-e2e-admin-token';
const IAM_KEY_ID = 'AKIASTINTREVOKEE2E01';
const IAM_SECRET = 'stint-e2e-iam-secret-access-key-0123456789';
const ENV_ID = 'STINT_E2E_IAM_ACCESS_KEY_ID';
const ENV_SECRET = 'STINT_E2E_IAM_SECRET_ACCESS_KEY';

const clock = new FakeClock();
let k8s: TestIssuer;
let sts: FakeSts;
let iam: FakeIam;
let env: InProcessStint;
let grpc: StintGrpcClient;
let url: string;
let ROLE: string;

beforeAll(async () => {
  process.env[ENV_ID] = IAM_KEY_ID;
  process.env[ENV_SECRET] = IAM_SECRET;
  k8s = await TestIssuer.start({ clock });
  const httpPort = await freePort();
  url = `http://127.0.0.1:${httpPort}`;
  sts = await FakeSts.start({ clock, trustedIssuer: url });
  iam = await FakeIam.start({ principals: [{ accessKeyId: IAM_KEY_ID, secretAccessKey: IAM_SECRET }], roles: ['payments-deploy'] });
  ROLE = sts.roleArn('payments-deploy');
  sts.addRole({ arn: ROLE, maxSessionDuration: 3600 });
  env = await startProviderStint({
    prefix: 'stint-aws-revoke-e2e-',
    clock,
    k8s,
    httpPort,
    policy: `version: 1
rules:
  - name: aws-deploy
    match:
      attestor: kubernetes
      issuer: ${k8s.issuer}
      claims: { namespace: payments }
    allow:
      - kind: ${KIND}
        targets: [${ROLE}]
        ttl: { default: 15m, max: 1h }
`,
    maxTtl: '1h',
    admin: { name: 'aws-operator', token: ADMIN_TOKEN },
    providers: {
      aws: {
        region: 'us-east-1',
        endpoint: sts.url,
        maxAttempts: 1,
        timeout: '3s',
        revokeOlderSessions: { enabled: true, endpoint: iam.url, timeout: '3s', credentials: { accessKeyId: { env: ENV_ID }, secretAccessKey: { env: ENV_SECRET } } },
      },
    },
    alsoClose: [sts, iam],
  });
  ({ grpc } = env);
}, 60_000);

afterAll(async () => {
  await env?.close();
  delete process.env[ENV_ID];
  delete process.env[ENV_SECRET];
});

afterEach(() => iam.recover());

const subject = (serviceAccount: string): Promise<string> => k8s.mintKubernetes({ namespace: 'payments', serviceAccount, audience: AUDIENCE });
const audit = (filter: Record<string, unknown>): Promise<AuditEvent[]> => queryAudit(grpc, ADMIN_TOKEN, { limit: 100, ...filter });

async function exchange(serviceAccount: string): Promise<string> {
  const res = await httpExchange(url, tokenExchangeForm(await subject(serviceAccount), { credential_kind: KIND, resource: ROLE }));
  expect(res.status).toBe(200);
  return String(res.body.grant_id);
}

function deniedBefore(): string | undefined {
  const doc = iam.rolePolicy('payments-deploy', DEFAULT_REVOKE_POLICY_NAME) as { Statement: { Sid?: string; Condition?: { DateLessThan?: Record<string, string> } }[] } | undefined;
  return doc?.Statement.find((s) => s.Sid === REVOKE_STATEMENT_SID)?.Condition?.DateLessThan?.['aws:TokenIssueTime'];
}

type Revoked = { grants: { id: string; state: string }[]; notes: string[] };

describe('revoke older sessions through the service', () => {
  it('Admin RevokeGrant attaches the deny policy to the role, effective, the blast radius in the note and the audit', async () => {
    const grantId = await exchange('api-one');
    clock.advance(1_500);
    const expected = revocationTime(clock.now());
    const revoked = await grpc.adminCall<Revoked>('RevokeGrant', { grant_id: grantId, reason: 'leaked in a build log' }, ADMIN_TOKEN);
    expect(revoked.ok).toBe(true);
    if (!revoked.ok) return;
    expect(revoked.value.grants).toEqual([expect.objectContaining({ id: grantId, state: 'revoked' })]);
    expect(revoked.value.notes.join('\n')).toContain(`denied every session of IAM role payments-deploy issued before ${expected}`);
    expect(revoked.value.notes.join('\n')).toContain('every other workload using the role');
    expect(deniedBefore()).toBe(expected);
    expect(iam.callsOf('PutRolePolicy').at(-1)).toMatchObject({ signedBy: IAM_KEY_ID, outcome: 'ok' });

    const event = (await audit({ grant_id: grantId })).find((e) => e.type === 'grant.revoked')!;
    expect(event).toMatchObject({ reason: 'leaked in a build log', data: { actor: 'aws-operator', kind: KIND, upstreamEffective: true } });
    expect(JSON.stringify(event)).not.toContain(IAM_SECRET);
  });

  it('RevokeIdentity with quarantine reaches IAM too, and moves the time forward', async () => {
    const before = deniedBefore()!;
    await exchange('api-two');
    clock.advance(60_000);
    const expected = revocationTime(clock.now());
    const revoked = await grpc.adminCall<Revoked>('RevokeIdentity', { identity: 'spiffe://e2e.test/ns/payments/sa/api-two', reason: 'compromised pod', quarantine: true, quarantine_seconds: 600 }, ADMIN_TOKEN);
    expect(revoked.ok).toBe(true);
    if (!revoked.ok) return;
    expect(revoked.value.grants.every((g) => g.state === 'revoked')).toBe(true);
    expect(Date.parse(expected)).toBeGreaterThan(Date.parse(before));
    expect(deniedBefore()).toBe(expected);
  });

  it('IAM refusing: the grant is revoked all the same, reported not effective with the IAM code and no secret; then a revoke succeeds', async () => {
    const grantId = await exchange('api-three');
    const kept = deniedBefore();
    iam.fail({ status: 403, code: 'AccessDenied', message: 'User: arn:aws:iam::123456789012:user/stint is not authorized to perform: iam:PutRolePolicy' });
    clock.advance(30_000);
    const revoked = await grpc.adminCall<Revoked>('RevokeGrant', { grant_id: grantId, reason: 'suspicious' }, ADMIN_TOKEN);
    expect(revoked.ok).toBe(true);
    if (!revoked.ok) return;
    expect(revoked.value.grants).toEqual([expect.objectContaining({ id: grantId, state: 'revoked' })]);
    const note = revoked.value.notes.join('\n');
    expect(note).toContain('revokeOlderSessions failed for IAM role payments-deploy (IAM answered AccessDenied (HTTP 403)');
    expect(note).not.toContain(IAM_SECRET);
    expect(note).not.toContain(IAM_KEY_ID);
    expect(deniedBefore()).toBe(kept);
    const event = (await audit({ grant_id: grantId })).find((e) => e.type === 'grant.revoked')!;
    expect(event).toMatchObject({ data: { upstreamEffective: false } });

    iam.recover();
    const next = await exchange('api-four');
    const ok = await grpc.adminCall<Revoked>('RevokeGrant', { grant_id: next, reason: 'rotate' }, ADMIN_TOKEN);
    expect(ok.ok && ok.value.notes.join('\n')).toContain('denied every session of IAM role payments-deploy');
    expect(deniedBefore()).toBe(revocationTime(clock.now()));
  });
});
