/**
 * The aws-iam attestor: signed sts:GetCallerIdentity requests checked locally, forwarded only to a
 * configured STS endpoint (the local STS verifies SigV4 for real) and answered in strict JSON. Each
 * hostile case asserts its code, then a good request still succeeds.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attestorConfigSchema } from '../../../src/config/schema.js';
import { createAttestorSet, type AttestorSet } from '../../../src/attestation/registry.js';
import { AWS_IAM_TOKEN_TYPE, AWS_IID_TOKEN_TYPE, JWT_TOKEN_TYPE } from '../../../src/attestation/token_types.js';
import { openSqliteStore, type SqliteStore } from '../../../src/store/sqlite.js';
import { NodeSha256, signGetCallerIdentity, type AwsCredentials } from '../../../src/client/subject_token/aws_iam.js';
import { FakeClock } from '../../support/fake_clock.js';
import { FakeSts } from '../../support/fake_sts.js';
import { FakeAwsCertificates } from '../../support/fake_imds.js';
import { AUDIENCE, expectRefused, TRUST_DOMAIN } from '../helpers.js';

const SERVER_ID = 'stint.example.test';
const USER: AwsCredentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const clock = new FakeClock(Date.now());
let sts: FakeSts;
let set: AttestorSet;
let role: AwsCredentials;
let store: SqliteStore;
let certs: FakeAwsCertificates;

beforeAll(async () => {
  sts = await FakeSts.start({ principals: [{ ...USER, arn: 'arn:aws:iam::123456789012:user/ops/deployer' }] });
  sts.addRole({ arn: sts.roleArn('web-server') });
  const client = new STSClient({ region: 'us-east-1', endpoint: sts.url, credentials: USER });
  const out = await client.send(new AssumeRoleCommand({ RoleArn: sts.roleArn('web-server'), RoleSessionName: 'i-0123456789abcdef0' }));
  client.destroy();
  role = { accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey!, sessionToken: out.Credentials!.SessionToken! };
  store = openSqliteStore(':memory:');
  certs = new FakeAwsCertificates();
  set = attestors();
});
afterAll(async () => {
  set.close();
  await sts.close();
  await store.close();
  certs.remove();
});
afterEach(() => sts.recover());

function attestors(config: Record<string, unknown> = {}): AttestorSet {
  const configs = [
    { kind: 'aws-iam', serverId: SERVER_ID, endpoints: [`${sts.url}/`], ...config },
    { kind: 'aws-iid', certificates: certs.bundleFile },
  ].map((c) => attestorConfigSchema.parse(c));
  return createAttestorSet(configs, { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN, bindings: store });
}

const attest = (value: string, type = AWS_IAM_TOKEN_TYPE, s = set) => s.attest({ type, value });
const good = (creds: AwsCredentials = role): Promise<string> => signGetCallerIdentity({ credentials: creds, region: 'us-east-1', endpoint: `${sts.url}/`, serverId: SERVER_ID, now: new Date(clock.now()) });

/** A request signed exactly as asked, for the hostile cases. */
async function crafted(o: { url?: string; query?: Record<string, string>; body?: string; headers?: Record<string, string>; unsigned?: string[]; at?: number; creds?: AwsCredentials } = {}): Promise<string> {
  const url = new URL(o.url ?? `${sts.url}/`);
  const headers: Record<string, string> = { host: url.host, 'content-type': 'application/x-www-form-urlencoded', 'x-stint-server-id': SERVER_ID, ...o.headers };
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  const body = o.body ?? 'Action=GetCallerIdentity&Version=2011-06-15';
  const request = new HttpRequest({ method: 'POST', protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined, path: url.pathname, ...(o.query ? { query: o.query } : {}), headers, body });
  const signer = new SignatureV4({ service: 'sts', region: 'us-east-1', credentials: o.creds ?? role, sha256: NodeSha256 });
  const signed = await signer.sign(request, { signingDate: new Date(o.at ?? clock.now()), ...(o.unsigned ? { unsignableHeaders: new Set(o.unsigned) } : {}) });
  const qs = o.query ? `?${new URLSearchParams(o.query).toString()}` : '';
  return JSON.stringify({ method: 'POST', url: `${url.protocol}//${url.host}${url.pathname}${qs}`, headers: signed.headers, body });
}

async function stillServes(): Promise<void> {
  await expect(attest(await good())).resolves.toMatchObject({ attestor: 'aws-iam' });
}

describe('aws-iam: a signed GetCallerIdentity', () => {
  it('verifies an assumed role through STS and normalizes the role ARN', async () => {
    const id = await attest(await good());
    expect(id).toMatchObject({
      attestor: 'aws-iam',
      issuer: 'aws-iam',
      subject: 'arn:aws:sts::123456789012:assumed-role/web-server/i-0123456789abcdef0',
      id: `spiffe://${TRUST_DOMAIN}/aws/123456789012/role/web-server`,
      claims: {
        account: '123456789012',
        arn: 'arn:aws:sts::123456789012:assumed-role/web-server/i-0123456789abcdef0',
        role_arn: 'arn:aws:iam::123456789012:role/web-server',
        role_name: 'web-server',
        session_name: 'i-0123456789abcdef0',
        principal_type: 'role',
      },
    });
    expect(id.claims['user_id']).toMatch(/^AROA\w+:i-0123456789abcdef0$/);
    expect(id.expiresAt).toBe(Math.floor(clock.now() / 1000) + 900);
    const call = sts.callsOf('GetCallerIdentity').at(-1)!;
    expect(call.signedBy).toBe(role.accessKeyId);
  });

  it('verifies an IAM user (the path dropped from the identity) and accepts the envelope base64-encoded', async () => {
    const id = await attest(Buffer.from(await good(USER)).toString('base64'));
    expect(id).toMatchObject({ id: `spiffe://${TRUST_DOMAIN}/aws/123456789012/user/deployer`, claims: { user_name: 'deployer', principal_type: 'user', arn: 'arn:aws:iam::123456789012:user/ops/deployer' } });
  });

  it('refuses an account outside the allowlist', async () => {
    const s = attestors({ accounts: ['111111111111'] });
    await expectRefused(attest(await good(), AWS_IAM_TOKEN_TYPE, s), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'account', reason: 'account_not_allowed' } });
    s.close();
    await stillServes();
  });
});

describe('aws-iam: hostile requests', () => {
  it('refuses a request for another action', async () => {
    await expectRefused(attest(await crafted({ body: 'Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/admin&RoleSessionName=x' })), 'ERR_TOKEN_CLAIM_INVALID', { details: { reason: 'parameter_not_allowed' } });
    await expectRefused(attest(await crafted({ body: 'Action=GetSessionToken&Version=2011-06-15' })), 'ERR_TOKEN_CLAIM_INVALID', { details: { reason: 'action_not_allowed' } });
    await stillServes();
  });

  it('refuses a request addressed to a host outside the allowlist, and a path other than /', async () => {
    const before = sts.calls.length;
    await expectRefused(attest(await crafted({ url: 'https://sts.attacker.example/' })), 'ERR_TOKEN_ISSUER_UNKNOWN', { details: { reason: 'sts_host_not_allowed' } });
    await expectRefused(attest(await crafted({ url: `${sts.url.replace('127.0.0.1', 'localhost')}/` })), 'ERR_TOKEN_ISSUER_UNKNOWN', { details: { reason: 'sts_host_not_allowed' } });
    await expectRefused(attest(await crafted({ headers: { host: 'sts.attacker.example' } })), 'ERR_TOKEN_ISSUER_UNKNOWN', { details: { reason: 'sts_host_not_allowed' } });
    await expectRefused(attest(await crafted({ url: `${sts.url}/redirect` })), 'ERR_TOKEN_CLAIM_INVALID', { details: { reason: 'path_not_allowed' } });
    expect(sts.calls.length).toBe(before);
    await stillServes();
  });

  it('refuses a request whose server-id header is missing, unsigned or for another server', async () => {
    await expectRefused(attest(await crafted({ headers: { 'x-stint-server-id': '' } })), 'ERR_TOKEN_AUDIENCE_INVALID', { details: { reason: 'server_id_missing' } });
    await expectRefused(attest(await crafted({ unsigned: ['x-stint-server-id'] })), 'ERR_TOKEN_AUDIENCE_INVALID', { details: { reason: 'server_id_unsigned' } });
    await expectRefused(attest(await crafted({ headers: { 'x-stint-server-id': 'vault.example.test' } })), 'ERR_TOKEN_AUDIENCE_INVALID', { details: { reason: 'server_id_mismatch' } });
    await stillServes();
  });

  it('refuses an expired or future X-Amz-Date', async () => {
    await expectRefused(attest(await crafted({ at: clock.now() - 16 * 60_000 })), 'ERR_TOKEN_EXPIRED', { details: { reason: 'signature_expired' } });
    await expectRefused(attest(await crafted({ at: clock.now() + 5 * 60_000 })), 'ERR_TOKEN_NOT_YET_VALID', { details: { reason: 'signature_in_future' } });
    // Within the window and the skew: accepted.
    await expect(attest(await crafted({ at: clock.now() - 14 * 60_000 }))).resolves.toMatchObject({ attestor: 'aws-iam' });
    await stillServes();
  });

  it('refuses a doubled query or body parameter', async () => {
    await expectRefused(attest(await crafted({ query: { Action: 'GetCallerIdentity' } })), 'ERR_TOKEN_DUPLICATE_MEMBER', { details: { reason: 'duplicate_parameter' } });
    await expectRefused(attest(await crafted({ body: 'Action=GetCallerIdentity&Version=2011-06-15&Action=AssumeRole' })), 'ERR_TOKEN_DUPLICATE_MEMBER', { details: { reason: 'duplicate_parameter' } });
    await stillServes();
  });

  it('refuses headers that are not allowlisted, and a header given twice in two cases', async () => {
    await expectRefused(attest(await crafted({ headers: { 'x-forwarded-host': 'sts.amazonaws.com' } })), 'ERR_TOKEN_HEADER_FORBIDDEN', { details: { reason: 'header_not_allowed' } });
    const doubled = JSON.parse(await good()) as { headers: Record<string, string> };
    doubled.headers['X-Stint-Server-ID'] = SERVER_ID;
    await expectRefused(attest(JSON.stringify(doubled)), 'ERR_TOKEN_DUPLICATE_MEMBER', { details: { reason: 'duplicate_header' } });
    await stillServes();
  });

  it('refuses a request STS does not accept: a forged signature, an unknown key', async () => {
    await expectRefused(attest(await crafted({ creds: { ...role, secretAccessKey: 'not-the-secret' } })), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'sts_rejected', upstreamReason: 'SignatureDoesNotMatch' } });
    await expectRefused(attest(await crafted({ creds: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'x' } })), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { upstreamReason: 'InvalidClientTokenId' } });
    await stillServes();
  });

  it('refuses an STS answer in XML or with extra members', async () => {
    sts.failNext('identity-xml');
    await expectRefused(attest(await good()), 'ERR_UPSTREAM_BAD_RESPONSE', { details: { reason: 'sts_response_invalid' } });
    sts.failNext('identity-extra-member');
    await expectRefused(attest(await good()), 'ERR_UPSTREAM_BAD_RESPONSE', { details: { reason: 'sts_response_invalid' } });
    sts.failNext('html');
    await expectRefused(attest(await good()), 'ERR_UPSTREAM_BAD_RESPONSE');
    sts.failNext('unavailable');
    await expectRefused(attest(await good()), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'sts_unavailable' } });
    await stillServes();
  });

  it('refuses malformed envelopes', async () => {
    const g = JSON.parse(await good()) as Record<string, unknown>;
    await expectRefused(attest(JSON.stringify({ ...g, extra: 1 })), 'ERR_TOKEN_MALFORMED', { details: { reason: 'envelope_members' } });
    await expectRefused(attest(JSON.stringify({ ...g, method: 'GET' })), 'ERR_TOKEN_MALFORMED', { details: { reason: 'method_not_allowed' } });
    await expectRefused(attest('not a request'), 'ERR_TOKEN_MALFORMED', { details: { reason: 'envelope_encoding' } });
    await stillServes();
  });

  it('refuses each kind\'s proof sent with another kind\'s token type', async () => {
    const value = await good();
    await expectRefused(attest(value, AWS_IID_TOKEN_TYPE), 'ERR_TOKEN_MALFORMED', { details: { reason: 'envelope_members' } });
    await expectRefused(attest(value, JWT_TOKEN_TYPE), 'ERR_TOKEN_MALFORMED');
    await stillServes();
  });
});
