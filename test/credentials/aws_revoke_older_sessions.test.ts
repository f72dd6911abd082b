/**
 * The aws-sts provider's opt-in "revoke older sessions": on revoke it attaches to the grant's role
 * the inline deny policy on `aws:TokenIssueTime`, through the real @aws-sdk/client-iam against a
 * local IAM speaking the Query API and checking SigV4 (test/support/fake_iam.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { awsProviderConfigSchema, AWS_REVOKE_NOTE, createAwsStsProviders } from '../../src/credentials/aws_sts.js';
import { DEFAULT_REVOKE_POLICY_NAME, mergeRevokePolicy, REVOKE_STATEMENT_SID, roleNameOf, type RevokeCause } from '../../src/credentials/aws/revoke_older_sessions.js';
import type { CredentialProvider, GrantRef, ProviderDeps, RevokeResult } from '../../src/credentials/provider.js';
import { FakeClock } from '../support/fake_clock.js';
import { FakeIam } from '../support/fake_iam.js';

const KEY_ID = 'AKIAREVOKETEST000001';
const SECRET = 'revoke-test-secret-access-key-0123456789';
const ENV_ID = 'STINT_TEST_IAM_ACCESS_KEY_ID';
const ENV_SECRET = 'STINT_TEST_IAM_SECRET_ACCESS_KEY';

const clock = new FakeClock();
const upstreamCalls: unknown[][] = [];
const deps = {
  clock,
  issuer: 'https://stint.test',
  onUpstreamCall: (...args: unknown[]) => void upstreamCalls.push(args),
  webIdentityToken: () => Promise.reject(new Error('not used by revoke')),
} as unknown as ProviderDeps;

let iam: FakeIam;
const providers: CredentialProvider[] = [];

function provider(revokeOlderSessions: Record<string, unknown> = {}): CredentialProvider {
  const [p] = createAwsStsProviders(
    {
      region: 'eu-west-1',
      revokeOlderSessions: { enabled: true, endpoint: iam.url, credentials: { accessKeyId: { env: ENV_ID }, secretAccessKey: { env: ENV_SECRET } }, ...revokeOlderSessions },
    } as never,
    deps,
  );
  providers.push(p!);
  return p!;
}

function grant(role: string): GrantRef {
  return { id: randomUUID(), kind: 'aws-sts', identity: 'spiffe://prod/ns/payments/sa/api', target: iam.roleArn(role), audience: null, expiresAt: Math.floor(clock.now() / 1000) + 900, revocationHandle: `arn:aws:sts::${iam.accountId}:assumed-role/${role}/prod-ns-payments-sa-api-0a1b2c3d` };
}

/** The time in the role's Stint statement. */
function deniedBefore(role: string, policy = DEFAULT_REVOKE_POLICY_NAME): string | undefined {
  const doc = iam.rolePolicy(role, policy) as { Statement: { Sid?: string; Condition?: { DateLessThan?: Record<string, string> } }[] } | undefined;
  return doc?.Statement.find((s) => s.Sid === REVOKE_STATEMENT_SID)?.Condition?.DateLessThan?.['aws:TokenIssueTime'];
}

beforeAll(async () => {
  process.env[ENV_ID] = KEY_ID;
  process.env[ENV_SECRET] = SECRET;
  iam = await FakeIam.start({ principals: [{ accessKeyId: KEY_ID, secretAccessKey: SECRET }], roles: ['deploy-payments', 'other-role', 'shared'] });
});

afterEach(async () => {
  iam.recover();
  for (const p of providers.splice(0)) await p.close?.();
});

afterAll(async () => {
  await iam.close();
  delete process.env[ENV_ID];
  delete process.env[ENV_SECRET];
});

describe('revoke attaches the aws:TokenIssueTime deny policy', () => {
  it('puts the documented deny-all statement, DateLessThan the revocation time, on the grant role, signed with SigV4', async () => {
    clock.set(Date.UTC(2030, 0, 1, 12, 0, 0, 250));
    const result = await provider().revoke(grant('deploy-payments'));
    expect(result.effective).toBe(true);
    expect(result.note).toContain('deploy-payments');
    expect(result.note).toContain('2030-01-01T12:00:01Z');
    expect(iam.rolePolicy('deploy-payments', DEFAULT_REVOKE_POLICY_NAME)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: REVOKE_STATEMENT_SID, Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2030-01-01T12:00:01Z' } } }],
    });
    const put = iam.callsOf('PutRolePolicy').at(-1)!;
    expect(put).toMatchObject({ signedBy: KEY_ID, outcome: 'ok', params: { Version: '2010-05-08', RoleName: 'deploy-payments', PolicyName: DEFAULT_REVOKE_POLICY_NAME } });
    expect(iam.rolePolicy('other-role', DEFAULT_REVOKE_POLICY_NAME)).toBeUndefined();
    expect(upstreamCalls.some((c) => c[1] === 'PutRolePolicy' && c[2] === 'ok')).toBe(true);
  });

  it('a second revoke moves the time forward, and an earlier clock never moves it back', async () => {
    clock.set(Date.UTC(2030, 0, 2, 8, 0, 0));
    const p = provider();
    expect((await p.revoke(grant('shared'))).effective).toBe(true);
    expect(deniedBefore('shared')).toBe('2030-01-02T08:00:00Z');
    clock.set(Date.UTC(2030, 0, 2, 9, 30, 0));
    expect((await p.revoke(grant('shared'))).effective).toBe(true);
    expect(deniedBefore('shared')).toBe('2030-01-02T09:30:00Z');
    // A replica whose clock is behind: the policy keeps the later time, and nothing is written.
    const puts = iam.callsOf('PutRolePolicy').length;
    clock.set(Date.UTC(2030, 0, 2, 9, 0, 0));
    const behind = await provider().revoke(grant('shared'));
    expect(behind.effective).toBe(true);
    expect(behind.note).toContain('2030-01-02T09:30:00Z');
    expect(deniedBefore('shared')).toBe('2030-01-02T09:30:00Z');
    expect(iam.callsOf('PutRolePolicy').length).toBe(puts);
  });

  it('a concurrent writer that puts an older time right after ours is overwritten once more (read back)', async () => {
    iam.putRolePolicy('other-role', DEFAULT_REVOKE_POLICY_NAME, mergeRevokePolicy(null, '2030-01-04T00:00:00Z').document);
    let raced = false;
    iam.afterPut = (role, policy) => {
      if (raced) return;
      raced = true;
      // Another replica, a moment behind, wrote its older time over ours.
      iam.putRolePolicy(role, policy, mergeRevokePolicy(null, '2030-01-04T00:00:30Z').document);
    };
    try {
      clock.set(Date.UTC(2030, 0, 4, 0, 1, 0));
      expect((await provider().revoke(grant('other-role'))).effective).toBe(true);
      expect(deniedBefore('other-role')).toBe('2030-01-04T00:01:00Z');
      expect(iam.callsOf('PutRolePolicy').filter((c) => c.params.RoleName === 'other-role')).toHaveLength(2);
    } finally {
      iam.afterPut = null;
      iam.putRolePolicy('other-role', DEFAULT_REVOKE_POLICY_NAME, { Version: '2012-10-17', Statement: [] });
    }
  });

  it('keeps the other statements of an existing policy of that name, read back URL-encoded from GetRolePolicy', async () => {
    const operator = { Sid: 'OperatorDenyS3', Effect: 'Deny', Action: 's3:*', Resource: '*' };
    iam.putRolePolicy('other-role', 'Custom+Name', { Version: '2012-10-17', Statement: [operator, { Sid: REVOKE_STATEMENT_SID, Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2029-06-01T00:00:00Z' } } }] });
    clock.set(Date.UTC(2030, 0, 3, 0, 0, 0));
    expect((await provider({ policyName: 'Custom+Name' }).revoke(grant('other-role'))).effective).toBe(true);
    const doc = iam.rolePolicy('other-role', 'Custom+Name') as { Statement: unknown[] };
    expect(doc.Statement).toHaveLength(2);
    expect(doc.Statement[0]).toEqual(operator);
    expect(deniedBefore('other-role', 'Custom+Name')).toBe('2030-01-03T00:00:00Z');
  });

  it('a workload revoking its own grant, or a rollback, attaches nothing (only an operator revocation does)', async () => {
    const before = iam.calls.length;
    const p = provider() as CredentialProvider & { revoke(g: GrantRef, cause?: RevokeCause): Promise<RevokeResult> };
    expect(await p.revoke(grant('deploy-payments'), 'workload')).toEqual({ effective: false, note: AWS_REVOKE_NOTE });
    expect(await p.revoke(grant('deploy-payments'), 'rollback')).toEqual({ effective: false, note: AWS_REVOKE_NOTE });
    expect(iam.calls.length).toBe(before);
    expect((await p.revoke(grant('deploy-payments'), 'operator')).effective).toBe(true);
  });

  it('without the opt-in, revoke says the credentials stay valid and calls no IAM', async () => {
    const before = iam.calls.length;
    const [p] = createAwsStsProviders({ region: 'eu-west-1' }, deps);
    providers.push(p!);
    expect(await p!.revoke(grant('deploy-payments'))).toEqual({ effective: false, note: AWS_REVOKE_NOTE });
    expect(iam.calls.length).toBe(before);
  });
});

describe('an IAM failure leaves the revocation not effective, with a reason and no secret', () => {
  it.each([
    ['AccessDenied', { status: 403, code: 'AccessDenied', message: `User: arn:aws:iam::123456789012:user/stint is not authorized to perform: iam:PutRolePolicy` }],
    ['ServiceFailure', { status: 500, code: 'ServiceFailure', message: 'internal' }],
  ] as const)('%s: effective false naming the IAM code; the next revoke succeeds', async (code, answer) => {
    const p = provider();
    iam.fail(answer);
    const result = await p.revoke(grant('deploy-payments'));
    expect(result.effective).toBe(false);
    expect(result.note).toContain(`IAM answered ${code}`);
    expect(result.note).toContain('stay valid until they expire');
    expect(result.note).not.toContain(SECRET);
    expect(result.note).not.toContain(KEY_ID);
    iam.recover();
    expect((await p.revoke(grant('deploy-payments'))).effective).toBe(true);
  });

  it('a role IAM does not know is NoSuchEntity, not a missing policy', async () => {
    const result = await provider().revoke(grant('no-such-role'));
    expect(result.effective).toBe(false);
    expect(result.note).toContain('IAM answered NoSuchEntity');
  });

  it('a wrong secret key is refused by the SigV4 check (SignatureDoesNotMatch)', async () => {
    process.env[ENV_SECRET] = 'not-the-secret-access-key-at-all-000000';
    try {
      const result = await provider().revoke(grant('deploy-payments'));
      expect(result.effective).toBe(false);
      expect(result.note).toContain('IAM answered SignatureDoesNotMatch');
      expect(result.note).not.toContain('not-the-secret');
    } finally {
      process.env[ENV_SECRET] = SECRET;
    }
    expect((await provider().revoke(grant('deploy-payments'))).effective).toBe(true);
  });

  it('IAM unreachable: not effective, the connection failure named', async () => {
    const p = provider({ endpoint: 'http://127.0.0.1:1' });
    const result = await p.revoke(grant('deploy-payments'));
    expect(result.effective).toBe(false);
    expect(result.note).toContain('IAM unreachable (ECONNREFUSED)');
  });
});

describe('configuration and helpers', () => {
  it('refuses a bad policy name and an unknown key', () => {
    expect(awsProviderConfigSchema.safeParse({ region: 'eu-west-1', revokeOlderSessions: { enabled: true, policyName: 'bad name' } }).success).toBe(false);
    expect(awsProviderConfigSchema.safeParse({ region: 'eu-west-1', revokeOlderSessions: { enabled: true, roles: [] } }).success).toBe(false);
    const ok = awsProviderConfigSchema.parse({ region: 'eu-west-1', revokeOlderSessions: { enabled: true } });
    expect(ok.revokeOlderSessions).toMatchObject({ enabled: true, policyName: DEFAULT_REVOKE_POLICY_NAME, region: 'us-east-1', timeout: 5 });
  });

  it('finds the role name behind a path, or from the assumed-role ARN', () => {
    expect(roleNameOf({ target: 'arn:aws:iam::111122223333:role/team/a/deploy', revocationHandle: null })).toBe('deploy');
    expect(roleNameOf({ target: null, revocationHandle: 'arn:aws:sts::111122223333:assumed-role/deploy/sess-1' })).toBe('deploy');
    expect(roleNameOf({ target: 'arn:aws:s3:::bucket', revocationHandle: null })).toBeNull();
  });

  it('merging keeps the later time', () => {
    const old = mergeRevokePolicy(null, '2030-01-01T00:00:05Z').document;
    expect(mergeRevokePolicy(old, '2030-01-01T00:00:01Z')).toMatchObject({ changed: false, time: '2030-01-01T00:00:05Z' });
    expect(mergeRevokePolicy(old, '2030-01-01T00:00:09Z')).toMatchObject({ changed: true, time: '2030-01-01T00:00:09Z' });
  });
});
