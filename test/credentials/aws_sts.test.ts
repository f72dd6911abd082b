/**
 * The aws-sts provider against a local STS speaking the Query API (test/support/fake_sts.ts),
 * with the real @aws-sdk/client-sts pointed at it by `endpoint`. The web identity is a real
 * Stint JWT that the fake verifies against a JWKS it fetches over HTTP from the issuer's
 * discovery document, as AWS does.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import { validateConfig } from '../../src/config/load.js';
import { AWS_CREDENTIALS_TOKEN_TYPE, AWS_REVOKE_NOTE, awsProviderConfigSchema, createAwsStsProviders } from '../../src/credentials/aws_sts.js';
import { sessionName } from '../../src/credentials/aws/session.js';
import type { CredentialProvider, GrantDraft, ProviderDeps } from '../../src/credentials/provider.js';
import { createStintJwtProvider } from '../../src/credentials/stint_jwt.js';
import { ConfigError, StintError, UpstreamError } from '../../src/errors.js';
import type { SigningKey } from '../../src/keys/keyring.js';
import { FakeClock } from '../support/fake_clock.js';
import { FakeSts, type StsFailureMode } from '../support/fake_sts.js';

const clock = new FakeClock();
const now = (): number => Math.floor(clock.now() / 1000);

/** Stint as an OIDC issuer: discovery and JWKS over HTTP, and the web identity minting ProviderDeps offers. */
interface StintIssuer {
  readonly issuer: string;
  readonly deps: ProviderDeps & { readonly upstreamCalls: unknown[][] };
  close(): Promise<void>;
}

async function startStintIssuer(): Promise<StintIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `aws-test-${randomUUID()}`;
  const signingKey: SigningKey = { kid, alg: 'ES256', privateKey };
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/.well-known/jwks.json` }));
    } else if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jwt = createStintJwtProvider({ issuer, keyring: { signer: () => signingKey, maxTokenTtlSeconds: 3600 }, clock, maxTtlSeconds: 3600 });
  const upstreamCalls: unknown[][] = [];
  const deps = {
    clock,
    issuer,
    upstreamCalls,
    onUpstreamCall: (...args: unknown[]) => void upstreamCalls.push(args),
    // As the registry mints it: a Stint JWT for the grant's identity, `audience`, and the given extra claims.
    async webIdentityToken(grant: GrantDraft, audience: string, ttlSeconds = 300, claims: Readonly<Record<string, unknown>> = {}) {
      const issuedAt = now();
      return (
        await jwt.issue({
          id: grant.id,
          identity: grant.identity,
          rule: grant.rule,
          granted: { request: { kind: 'stint-jwt', audience }, kind: 'stint-jwt', audience, scopes: [], ttlSeconds, ttlCapped: false, passClaims: claims, options: {} },
          issuedAt,
          expiresAt: issuedAt + ttlSeconds,
        })
      ).token;
    },
  } as unknown as ProviderDeps & { readonly upstreamCalls: unknown[][] };
  return { issuer, deps, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const IDENTITY: WorkloadIdentity = {
  attestor: 'github-actions',
  attestorName: 'github-actions',
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'repo:acme/payments:environment:production',
  id: 'https://token.actions.githubusercontent.com#repo:acme/payments:environment:production',
  claims: {
    repository: 'acme/payments',
    repository_id: 123456,
    environment: 'production',
    ref: 'refs/heads/main',
    actor: 'octo cat#1',
    long: 'x'.repeat(400),
    flag: true,
    nested: { team: 'payments' },
    list: ['a', 'b'],
  },
  expiresAt: 0,
};

function draft(target: string | undefined, ttl = 3600, options: Record<string, unknown> = {}, identity: WorkloadIdentity = IDENTITY): GrantDraft {
  const issuedAt = now();
  return {
    id: randomUUID(),
    identity,
    rule: 'deploy-payments',
    granted: {
      request: { kind: 'aws-sts', ...(target !== undefined ? { target } : {}), ttlSeconds: ttl },
      kind: 'aws-sts',
      ...(target !== undefined ? { target } : {}),
      scopes: [],
      ttlSeconds: ttl,
      ttlCapped: false,
      passClaims: {},
      options,
    },
    issuedAt,
    expiresAt: issuedAt + ttl,
  };
}

let stint: StintIssuer;
let sts: FakeSts;
let dir: string;
const providers: CredentialProvider[] = [];
let ROLE: string;

function provider(config: Record<string, unknown> = {}): CredentialProvider {
  const [p] = createAwsStsProviders({ region: 'eu-west-1', endpoint: sts.url, ...config } as never, stint.deps);
  providers.push(p!);
  return p!;
}

/** The UpstreamError an issuance fails with. */
async function failure(p: CredentialProvider, d: GrantDraft): Promise<StintError> {
  const err = await p.issue(d).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StintError);
  return err as StintError;
}

beforeAll(async () => {
  stint = await startStintIssuer();
  sts = await FakeSts.start({ clock, trustedIssuer: stint.issuer });
  ROLE = sts.roleArn('deploy-payments');
  sts.addRole({ arn: ROLE, maxSessionDuration: 7200 });
  dir = mkdtempSync(join(tmpdir(), 'stint-aws-'));
});
afterAll(async () => {
  for (const p of providers) await p.close?.();
  await sts?.close();
  await stint?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  sts.recover();
  sts.reset();
  stint.deps.upstreamCalls.length = 0;
});
afterEach(() => sts.recover());

describe('web-identity mode', () => {
  it('assumes the role with a Stint JWT and returns the credentials in the documented shape', async () => {
    const p = provider();
    const d = draft(ROLE, 1800, { sessionTags: { Repository: 'repository', Environment: 'environment' }, sessionPolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}' });
    const cred = await p.issue(d);
    const [call] = sts.callsOf('AssumeRoleWithWebIdentity');
    expect(sts.calls).toHaveLength(1);
    expect(call).toMatchObject({ outcome: 'ok', signed: false, roleArn: ROLE, roleSessionName: sessionName(IDENTITY.id), durationSeconds: 1800 });
    expect(call!.policy).toBe('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}');
    // Session tags and source identity travel in the token, as AWS reads them for OIDC providers.
    expect(call!.tags).toEqual([
      { Key: 'stint-grant', Value: d.id },
      { Key: 'Repository', Value: 'acme/payments' },
      { Key: 'Environment', Value: 'production' },
    ]);
    expect(call!.sourceIdentity).toBe(sessionName(IDENTITY.id));
    expect(call!.webIdentityClaims).toMatchObject({ iss: stint.issuer, aud: 'sts.amazonaws.com', sub: IDENTITY.id, jti: d.id });

    const session = sts.sessions.get(cred.fields.access_key_id!)!;
    expect(cred).toEqual({
      kind: 'aws-sts',
      token: session.sessionToken,
      tokenType: AWS_CREDENTIALS_TOKEN_TYPE,
      fields: {
        access_key_id: session.accessKeyId,
        secret_access_key: session.secretAccessKey,
        session_token: session.sessionToken,
        expiration: new Date((now() + 1800) * 1000).toISOString(),
        assumed_role_arn: session.assumedRoleArn,
        region: 'eu-west-1',
      },
      secretFields: ['secret_access_key', 'session_token'],
      expiresAt: now() + 1800,
      renewAfter: now() + 1200,
      revocationHandle: session.assumedRoleArn,
    });
    expect(session.assumedRoleArn).toBe(`arn:aws:sts::123456789012:assumed-role/deploy-payments/${sessionName(IDENTITY.id)}`);
    expect(stint.deps.upstreamCalls).toEqual([['aws-sts', 'AssumeRoleWithWebIdentity', 'ok', expect.any(Number)]]);
  });

  it('the returned credentials work with an unmodified AWS SDK client (all three parts checked by SigV4)', async () => {
    const cred = await provider().issue(draft(ROLE));
    const f = cred.fields;
    const client = (secret: string, token: string): STSClient =>
      new STSClient({ region: f.region, endpoint: sts.url, maxAttempts: 1, credentials: { accessKeyId: f.access_key_id!, secretAccessKey: secret, sessionToken: token } });
    const me = await client(f.secret_access_key!, f.session_token!).send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(f.assumed_role_arn);
    expect(me.Account).toBe('123456789012');
    // The fake is not a rubber stamp: a wrong secret or session token is refused.
    await expect(client(`${f.secret_access_key}x`, f.session_token!).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ Code: 'SignatureDoesNotMatch' });
    await expect(client(f.secret_access_key!, `${f.session_token}x`).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ Code: 'InvalidClientTokenId' });
    // And the credentials stop working when STS said they expire.
    clock.advance(3600_000);
    try {
      await expect(client(f.secret_access_key!, f.session_token!).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ Code: 'ExpiredToken' });
    } finally {
      clock.set(clock.now() - 3600_000);
    }
  });

  it('raises a TTL below 900 s to 900 and caps one above maxSessionDuration', async () => {
    const p = provider({ maxSessionDuration: '2h' });
    expect(p.minTtlSeconds).toBe(900);
    expect(p.maxTtlSeconds).toBe(7200);
    const short = await p.issue(draft(ROLE, 60));
    expect(short.expiresAt - now()).toBe(900);
    expect(short.renewAfter - now()).toBe(600);
    await p.issue(draft(ROLE, 20000));
    expect(sts.calls.map((c) => c.durationSeconds)).toEqual([900, 7200]);
    const defaults = provider();
    expect(defaults.maxTtlSeconds).toBe(3600);
    await defaults.issue(draft(ROLE, 20000));
    expect(sts.calls.at(-1)!.durationSeconds).toBe(3600);
  });

  it('presents the configured audience, and a mismatch is AWS refusing the token', async () => {
    sts.trustIssuer(stint.issuer, 'stint-aws-prod');
    try {
      const ok = await provider({ webIdentityAudience: 'stint-aws-prod' }).issue(draft(ROLE));
      expect(ok.fields.access_key_id).toMatch(/^ASIA/);
      expect(sts.calls[0]!.webIdentityClaims!.aud).toBe('stint-aws-prod');
      const err = await failure(provider(), draft(ROLE));
      expect(err).toBeInstanceOf(UpstreamError);
      expect(err).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'InvalidIdentityToken' });
    } finally {
      sts.trustIssuer(stint.issuer, 'sts.amazonaws.com');
    }
  });

  it('a role the account does not let Stint assume is AccessDenied from STS', async () => {
    const err = await failure(provider(), draft(sts.roleArn('not-trusted')));
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'AccessDenied', details: { provider: 'aws-sts', upstreamCode: 'AccessDenied' } });
    expect(err.message).toContain('AccessDenied');
  });

  it('session tag values are made to fit AWS tag rules; claims that are absent or not scalars are left out', async () => {
    const p = provider();
    const d = draft(ROLE, 3600, {
      sessionTags: { actor: 'actor', long: 'long', repo_id: 'repository_id', flag: 'flag', team: '/nested/team', missing: 'nope', list: 'list', nested: 'nested' },
    });
    await p.issue(d);
    const tags = sts.calls[0]!.tags;
    expect(tags).toEqual([
      { Key: 'stint-grant', Value: d.id },
      { Key: 'actor', Value: 'octo cat_1' },
      { Key: 'long', Value: 'x'.repeat(256) },
      { Key: 'repo_id', Value: '123456' },
      { Key: 'flag', Value: 'true' },
      { Key: 'team', Value: 'payments' },
    ]);
  });

  it('role session names fit AWS for any identity, so STS accepts them', async () => {
    const p = provider();
    const odd: WorkloadIdentity = { ...IDENTITY, id: `spiffe://e2e.test/ns/ünïcode/sa/${'very-long-name/'.repeat(10)}` , claims: {} };
    await p.issue(draft(ROLE, 900, {}, odd));
    const name = sts.calls[0]!.roleSessionName!;
    expect(sts.calls[0]!.outcome).toBe('ok');
    expect(name).toMatch(/^[\w+=,.@-]{2,64}$/);
    expect(name).toBe(sessionName(odd.id));
  });

  const upstreamCases: [string, StsFailureMode | { status: number; code: string }, string, string, number | undefined][] = [
    ['AccessDenied', 'deny', 'ERR_UPSTREAM_DENIED', 'AccessDenied', undefined],
    ['InvalidIdentityToken', { status: 400, code: 'InvalidIdentityToken' }, 'ERR_UPSTREAM_DENIED', 'InvalidIdentityToken', undefined],
    ['IDPRejectedClaim', { status: 403, code: 'IDPRejectedClaim' }, 'ERR_UPSTREAM_DENIED', 'IDPRejectedClaim', undefined],
    ['ExpiredTokenException', { status: 400, code: 'ExpiredTokenException' }, 'ERR_UPSTREAM_DENIED', 'ExpiredTokenException', undefined],
    ['MalformedPolicyDocument', { status: 400, code: 'MalformedPolicyDocument' }, 'ERR_UPSTREAM_DENIED', 'MalformedPolicyDocument', undefined],
    ['RegionDisabledException', { status: 403, code: 'RegionDisabledException' }, 'ERR_UPSTREAM_DENIED', 'RegionDisabledException', undefined],
    ['ValidationError', { status: 400, code: 'ValidationError' }, 'ERR_UPSTREAM_DENIED', 'ValidationError', undefined],
    ['Throttling', 'throttle', 'ERR_UPSTREAM_UNAVAILABLE', 'Throttling', 10],
    ['ThrottlingException', { status: 400, code: 'ThrottlingException' }, 'ERR_UPSTREAM_UNAVAILABLE', 'ThrottlingException', 10],
    ['RequestLimitExceeded', { status: 400, code: 'RequestLimitExceeded' }, 'ERR_UPSTREAM_UNAVAILABLE', 'RequestLimitExceeded', 10],
    ['IDPCommunicationError', { status: 400, code: 'IDPCommunicationError' }, 'ERR_UPSTREAM_UNAVAILABLE', 'IDPCommunicationError', 5],
    ['HTTP 500 InternalFailure', 'internal', 'ERR_UPSTREAM_UNAVAILABLE', 'InternalFailure', 5],
    ['HTTP 503 ServiceUnavailable', 'unavailable', 'ERR_UPSTREAM_UNAVAILABLE', 'ServiceUnavailable', 5],
    ['HTTP 502 from a proxy', 'bad-gateway', 'ERR_UPSTREAM_UNAVAILABLE', 'HTTP502', 5],
    ['a closed connection', 'close', 'ERR_UPSTREAM_UNAVAILABLE', 'ECONNRESET', 5],
    ['truncated XML', 'malformed', 'ERR_UPSTREAM_BAD_RESPONSE', 'MalformedResponse', undefined],
    ['XML without Credentials', 'no-credentials', 'ERR_UPSTREAM_BAD_RESPONSE', 'MalformedResponse', undefined],
    ['an HTML page with 200', 'html', 'ERR_UPSTREAM_BAD_RESPONSE', 'MalformedResponse', undefined],
  ];
  it.each(upstreamCases)('%s → %s', async (_name, mode, code, upstreamCode, retryAfter) => {
    sts.fail(mode);
    const p = provider({ maxAttempts: 1 });
    const err = await failure(p, draft(ROLE));
    expect(err).toBeInstanceOf(UpstreamError);
    expect({ code: err.code, upstreamCode: (err as UpstreamError).upstreamCode, retryAfter: err.details.retryAfterSeconds }).toEqual({ code, upstreamCode, retryAfter });
    expect(stint.deps.upstreamCalls).toEqual([['aws-sts', 'AssumeRoleWithWebIdentity', 'error', expect.any(Number), upstreamCode]]);
    // Neither the web identity token nor anything secret is in what the caller or a log sees.
    const token = sts.calls[0]!.webIdentityToken;
    const seen = JSON.stringify({ message: err.message, details: err.details, cause: String(err.cause ?? '') });
    if (token) expect(seen).not.toContain(token.split('.')[1]);
    expect(seen).not.toMatch(/eyJ/);
    // The provider still serves the next request once STS recovers.
    sts.recover();
    await expect(p.issue(draft(ROLE))).resolves.toMatchObject({ kind: 'aws-sts' });
  });

  it('a hanging STS is a timeout within the configured bound', async () => {
    sts.fail('hang');
    const started = Date.now();
    const err = await failure(provider({ timeout: 1, maxAttempts: 1 }), draft(ROLE));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', upstreamCode: 'Timeout', details: { retryAfterSeconds: 5 } });
  });

  it('the SDK retries at most maxAttempts times', async () => {
    sts.failNext('unavailable');
    await expect(provider({ maxAttempts: 2 }).issue(draft(ROLE))).resolves.toMatchObject({ kind: 'aws-sts' });
    expect(sts.calls.map((c) => c.outcome)).toEqual(['ServiceUnavailable', 'ok']);
    sts.reset();
    sts.fail('unavailable');
    await expect(provider({ maxAttempts: 2 }).issue(draft(ROLE))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(sts.calls).toHaveLength(2);
    sts.reset();
    await expect(provider({ maxAttempts: 1 }).issue(draft(ROLE))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(sts.calls).toHaveLength(1);
  });

  it('refuses a missing or malformed target before calling STS', async () => {
    const p = provider();
    await expect(p.issue(draft(undefined))).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST', details: { field: 'target' } });
    for (const bad of ['deploy-payments', 'arn:aws:iam::123456789012:user/alice', 'arn:aws:iam::12345:role/x', `${ROLE}\n`]) {
      await expect(p.issue(draft(bad))).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST' });
    }
    expect(sts.calls).toHaveLength(0);
  });

  const badOptions: [string, Record<string, unknown>, string][] = [
    ['an unknown option', { sessionTag: {} }, 'options.sessionTag'],
    ['sessionTags not a mapping', { sessionTags: ['repository'] }, 'options.sessionTags'],
    ['a tag key with a disallowed character', { sessionTags: { 'bad#key': 'repository' } }, 'options.sessionTags.bad#key'],
    ['a tag key starting with aws:', { sessionTags: { 'AWS:x': 'repository' } }, 'options.sessionTags.AWS:x'],
    ['the reserved stint-grant key', { sessionTags: { 'Stint-Grant': 'repository' } }, 'options.sessionTags.Stint-Grant'],
    ['keys equal but for case', { sessionTags: { Env: 'environment', env: 'environment' } }, 'options.sessionTags.env'],
    ['a tag mapped to a non-string', { sessionTags: { Env: 3 } }, 'options.sessionTags.Env'],
    ['a bad JSON Pointer', { sessionTags: { Env: '/a~2' } }, 'options.sessionTags.Env'],
    ['more than 49 tags', { sessionTags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'repository'])) }, 'options.sessionTags'],
    ['a session policy that is not JSON', { sessionPolicy: '{"Statement": [' }, 'options.sessionPolicy'],
    ['a session policy without Statement', { sessionPolicy: { Version: '2012-10-17' } }, 'options.sessionPolicy'],
    ['a session policy above 2048 characters', { sessionPolicy: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'x'.repeat(2100) }] } }, 'options.sessionPolicy'],
  ];
  it.each(badOptions)('refuses %s in the rule options before calling STS', async (_name, options, path) => {
    const err = await failure(provider(), draft(ROLE, 900, options));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe('ERR_POLICY_INVALID');
    expect((err as ConfigError).path).toBe(`rules[deploy-payments].allow[aws-sts].${path}`);
    expect(sts.calls).toHaveLength(0);
  });

  it('takes a session policy as a mapping and sends it minified', async () => {
    await provider().issue(draft(ROLE, 900, { sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] } }));
    expect(sts.calls[0]!.policy).toBe('{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}');
  });

  it('revoking says plainly that the keys stay valid; nothing to reap or reconcile', async () => {
    const p = provider();
    expect(p.reapOnExpiry).toBe(false);
    expect(p.reconcile).toBeUndefined();
    expect(p.requires).toBe('target');
    const result = await p.revoke({ id: randomUUID(), kind: 'aws-sts', identity: IDENTITY.id, target: ROLE, audience: null, expiresAt: now() + 900, revocationHandle: null });
    expect(result).toEqual({ effective: false, note: AWS_REVOKE_NOTE });
    expect(result.note).toContain('aws:TokenIssueTime');
    expect(sts.calls).toHaveLength(0);
  });
});

describe('assume-role mode', () => {
  const KEY_ID = 'AKIASTINTSELF0000001';
  const SECRET = 'stint-own-secret-access-key-0123456789ab';

  beforeAll(() => {
    sts.addPrincipal({ accessKeyId: KEY_ID, secretAccessKey: SECRET, arn: 'arn:aws:iam::123456789012:user/stint' });
    writeFileSync(join(dir, 'key-id'), `${KEY_ID}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'wrong-secret'), 'not-the-secret\n', { mode: 0o600 });
  });

  it('calls AssumeRole signed with Stint own key (from files), with tags and source identity as parameters', async () => {
    const p = provider({ mode: 'assume-role', credentials: { accessKeyId: { file: join(dir, 'key-id') }, secretAccessKey: { file: join(dir, 'secret') } } });
    const d = draft(ROLE, 900, { sessionTags: { Repository: 'repository' }, sessionPolicy: '{"Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}' });
    const cred = await p.issue(d);
    expect(sts.calls).toHaveLength(1);
    expect(sts.calls[0]).toMatchObject({
      action: 'AssumeRole',
      signed: true,
      signedBy: KEY_ID,
      outcome: 'ok',
      roleArn: ROLE,
      roleSessionName: sessionName(IDENTITY.id),
      durationSeconds: 900,
      sourceIdentity: sessionName(IDENTITY.id),
      tags: [
        { Key: 'stint-grant', Value: d.id },
        { Key: 'Repository', Value: 'acme/payments' },
      ],
      policy: '{"Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}',
    });
    expect(sts.calls[0]!.webIdentityToken).toBeUndefined();
    expect(cred.fields.access_key_id).toBe([...sts.sessions.keys()].at(-1));
    expect(stint.deps.upstreamCalls).toEqual([['aws-sts', 'AssumeRole', 'ok', expect.any(Number)]]);
  });

  it('uses the SDK default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) when no credentials are configured', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = SECRET;
    try {
      await provider({ mode: 'assume-role' }).issue(draft(ROLE));
      expect(sts.calls[0]).toMatchObject({ action: 'AssumeRole', signedBy: KEY_ID, outcome: 'ok' });
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });

  it('a wrong secret is STS refusing the signature', async () => {
    const p = provider({ mode: 'assume-role', maxAttempts: 1, credentials: { accessKeyId: { file: join(dir, 'key-id') }, secretAccessKey: { file: join(dir, 'wrong-secret') } } });
    const err = await failure(p, draft(ROLE));
    expect(err).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', upstreamCode: 'SignatureDoesNotMatch' });
    expect(err.message).not.toContain('not-the-secret');
  });
});

describe('configuration', () => {
  const base = { issuer: 'https://stint.test', store: { kind: 'sqlite', path: ':memory:' }, policy: { file: 'policy.yaml' } };
  const cases: [string, Record<string, unknown>, string][] = [
    ['a missing region', {}, 'providers.aws.region'],
    ['a malformed region', { region: 'Europe' }, 'providers.aws.region'],
    ['an unknown mode', { region: 'us-east-1', mode: 'keys' }, 'providers.aws.mode'],
    ['an endpoint that is not a URL', { region: 'us-east-1', endpoint: 'sts.local' }, 'providers.aws.endpoint'],
    ['a session shorter than AWS allows', { region: 'us-east-1', maxSessionDuration: '10m' }, 'providers.aws.maxSessionDuration'],
    ['a session longer than AWS allows', { region: 'us-east-1', maxSessionDuration: '13h' }, 'providers.aws.maxSessionDuration'],
    ['a timeout that is not a duration', { region: 'us-east-1', timeout: 'soon' }, 'providers.aws.timeout'],
    ['zero SDK attempts', { region: 'us-east-1', maxAttempts: 0 }, 'providers.aws.maxAttempts'],
    ['an empty audience', { region: 'us-east-1', webIdentityAudience: '' }, 'providers.aws.webIdentityAudience'],
    ['credentials in web-identity mode', { region: 'us-east-1', credentials: { accessKeyId: { env: 'A' }, secretAccessKey: { env: 'B' } } }, 'providers.aws.credentials'],
    ['an inlined secret', { region: 'us-east-1', mode: 'assume-role', credentials: { accessKeyId: 'AKIA', secretAccessKey: { env: 'B' } } }, 'providers.aws.credentials.accessKeyId'],
    ['an unknown key', { region: 'us-east-1', roleArn: 'x' }, 'providers.aws'],
  ];
  it.each(cases)('refuses %s, naming the key path', (_name, aws, path) => {
    let err: unknown;
    try {
      validateConfig({ ...base, providers: { aws } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe(path);
  });

  it('fills the documented defaults', () => {
    const config = validateConfig({ ...base, providers: { aws: { region: 'us-east-1' } } });
    expect(config.providers.aws).toEqual({ region: 'us-east-1', mode: 'web-identity', webIdentityAudience: 'sts.amazonaws.com', maxSessionDuration: 3600, timeout: 5, maxAttempts: 2 });
    expect(awsProviderConfigSchema.parse({ region: 'us-gov-west-1', maxSessionDuration: '12h', timeout: '2s' })).toMatchObject({ maxSessionDuration: 43200, timeout: 2 });
  });

  it('a secret reference that cannot be read fails at startup, naming the key path but no value', () => {
    delete process.env.STINT_TEST_AWS_SECRET;
    process.env.STINT_TEST_AWS_KEY_ID = 'AKIASTINTSELF0000001';
    try {
      createAwsStsProviders({ region: 'us-east-1', mode: 'assume-role', credentials: { accessKeyId: { env: 'STINT_TEST_AWS_KEY_ID' }, secretAccessKey: { env: 'STINT_TEST_AWS_SECRET' } } }, stint.deps);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).path).toBe('providers.aws.credentials.secretAccessKey');
      expect((e as Error).message).toContain('STINT_TEST_AWS_SECRET');
    } finally {
      delete process.env.STINT_TEST_AWS_KEY_ID;
    }
    expect(() => createAwsStsProviders({ region: 'nowhere' } as never, stint.deps)).toThrow(expect.objectContaining({ path: 'providers.aws.region' }));
  });
});
