/**
 * The gcp-access-token provider against a local fake of Google's OAuth, STS and IAM Credentials
 * endpoints (test/support/fake_gcp.ts), with the real google-auth-library pointed at it by its
 * endpoint settings. Stint's web identity JWTs are minted by the real registry wiring and
 * verified by the fake STS against a real discovery document and JWKS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GrantDraft } from '../../src/credentials/provider.js';
import { validateConfig } from '../../src/config/load.js';
import { builtinProviders } from '../../src/credentials/registry.js';
import { ACCESS_TOKEN_TYPE, createGcpProviders, gcpProviderConfigSchema, GCP_ACCESS_TOKEN_KIND } from '../../src/credentials/gcp.js';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { StintError, UpstreamError } from '../../src/errors.js';
import { CLOUD_PLATFORM_SCOPE, FakeGcp, fingerprint } from '../support/fake_gcp.js';
import { FakeClock } from '../support/fake_clock.js';
import { freePort } from '../support/ports.js';
import { TestIssuer } from '../support/test_issuer.js';
import { IDENTITY } from './drafts.js';

const WIF_AUDIENCE = '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/stint/providers/stint';
const READER = 'reader@demo-proj.iam.gserviceaccount.com';
const DEPLOYER = 'deployer@demo-proj.iam.gserviceaccount.com';
const STORAGE_READ = 'https://www.googleapis.com/auth/devstorage.read_only';
const OPERATOR = 'stint-operator@example.com';

const clock = new FakeClock();
let fake: FakeGcp;
/** Stint's issuer for web identity JWTs: its discovery and JWKS are what STS verifies against. */
let stintIssuer: TestIssuer;
let dir: string;
let userCredentialsFile: string;

beforeAll(async () => {
  fake = await FakeGcp.start({ clock });
  stintIssuer = await TestIssuer.start({ clock, alg: 'ES256', path: '/stint' });
  dir = mkdtempSync(join(tmpdir(), 'stint-gcp-'));
  userCredentialsFile = join(dir, 'operator.json');
  writeFileSync(userCredentialsFile, JSON.stringify(fake.addAuthorizedUser(OPERATOR)), { mode: 0o600 });
  fake.addWorkloadIdentityProvider({ audience: WIF_AUDIENCE, issuer: stintIssuer.issuer });
  fake.addServiceAccount(READER, [`user:${OPERATOR}`]);
  fake.addServiceAccount(DEPLOYER, [FakeGcp.federatedPrincipal(WIF_AUDIENCE, IDENTITY.id)]);
});

afterAll(async () => {
  await fake?.close();
  await stintIssuer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  fake.recover();
  fake.resetRequests();
});

/** The provider built as the service builds it: through builtinProviders with `providers.gcp`. */
function provider(overrides: Record<string, unknown> = {}, onUpstreamCall?: (kind: string, op: string, outcome: string, s: number, code?: string) => void): CredentialProvider {
  const config = gcpProviderConfigSchema.parse({
    credentialsFile: userCredentialsFile,
    workloadIdentityProvider: WIF_AUDIENCE,
    stsEndpoint: fake.stsEndpoint,
    iamCredentialsEndpoint: fake.iamCredentialsEndpoint,
    timeout: '3s',
    ...overrides,
  });
  const key = stintIssuer.signingKey;
  const providers = builtinProviders({
    issuer: stintIssuer.issuer,
    keyring: { maxTokenTtlSeconds: 7200, signer: () => ({ kid: key.kid, alg: 'ES256', privateKey: key.privateKey }) },
    clock,
    maxTtlSeconds: 7200,
    upstream: { gcp: config },
    ...(onUpstreamCall ? { onUpstreamCall } : {}),
  });
  const gcp = providers.find((p) => p.kind === GCP_ACCESS_TOKEN_KIND);
  if (!gcp) throw new Error('gcp-access-token not registered');
  return gcp;
}

interface DraftOptions {
  target?: string;
  scopes?: string[];
  ttl?: number;
  options?: Record<string, unknown>;
  rule?: string;
}

function draft(o: DraftOptions = {}): GrantDraft {
  const now = Math.floor(clock.now() / 1000);
  const ttl = o.ttl ?? 600;
  return {
    id: randomUUID(),
    identity: IDENTITY,
    rule: o.rule ?? 'gcp-rule',
    granted: {
      request: { kind: GCP_ACCESS_TOKEN_KIND, ...(o.target ? { target: o.target } : {}), ttlSeconds: ttl, scopes: o.scopes ?? [] },
      kind: GCP_ACCESS_TOKEN_KIND,
      ...(o.target ? { target: o.target } : {}),
      scopes: o.scopes ?? [],
      ttlSeconds: ttl,
      ttlCapped: false,
      passClaims: {},
      options: o.options ?? {},
    },
    issuedAt: now,
    expiresAt: now + ttl,
  };
}

const WIF = { mode: 'workload-identity-federation' };

async function failure(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StintError);
    return e as StintError;
  }
  throw new Error('expected a failure');
}

/** No secret the fake handed out may appear in an error. */
function expectNoSecrets(error: StintError): void {
  expect(error.cause).toBeUndefined();
  const text = `${error.message} ${JSON.stringify(error.details)}`;
  for (const token of fake.tokens.keys()) expect(text).not.toContain(token);
  expect(text).not.toMatch(/ya29\.|eyJ/);
}

describe('configuration', () => {
  it('has defaults for Google endpoints, scopes, 1 h lifetime and a 5 s timeout', () => {
    const config = gcpProviderConfigSchema.parse({});
    expect(config).toEqual({
      mode: 'impersonation',
      stsEndpoint: 'https://sts.googleapis.com/v1/token',
      iamCredentialsEndpoint: 'https://iamcredentials.googleapis.com',
      defaultScopes: [CLOUD_PLATFORM_SCOPE],
      maxTtl: 3600,
      timeout: 5000,
    });
  });

  it.each([
    [{ mode: 'workload-identity-federation' }, 'workloadIdentityProvider'],
    [{ workloadIdentityProvider: 'projects/1/locations/global/workloadIdentityPools/p/providers/x' }, 'workloadIdentityProvider'],
    [{ stsEndpoint: 'http://sts.example.com/v1/token' }, 'stsEndpoint'],
    [{ iamCredentialsEndpoint: 'https://user:pw@iam.example.com' }, 'iamCredentialsEndpoint'],
    [{ maxTtl: '13h' }, 'maxTtl'],
    [{ timeout: '10ms' }, 'timeout'],
    [{ defaultScopes: [] }, 'defaultScopes'],
    [{ mode: 'magic' }, 'mode'],
    [{ region: 'eu' }, ''],
  ])('refuses %j naming the key', (raw, key) => {
    const result = gcpProviderConfigSchema.safeParse(raw);
    expect(result.success).toBe(false);
    const issue = result.error!.issues[0]!;
    expect(issue.path.join('.')).toBe(key);
  });

  it('names the key path in the service configuration', () => {
    const base = { issuer: 'https://stint.example', store: { kind: 'sqlite', path: ':memory:' }, policy: { file: 'policy.yaml' } };
    expect(() => validateConfig({ ...base, providers: { gcp: { mode: 'workload-identity-federation' } } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID', path: 'providers.gcp.workloadIdentityProvider' }),
    );
    expect(() => validateConfig({ ...base, providers: { gcp: { iamCredentialsEndpoint: 'http://10.0.0.1' } } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID', path: 'providers.gcp.iamCredentialsEndpoint' }),
    );
  });

  it('accepts timeouts in ms and durations, and 12 h with the org policy constraint', () => {
    expect(gcpProviderConfigSchema.parse({ timeout: '750ms', maxTtl: '12h' })).toMatchObject({ timeout: 750, maxTtl: 43200 });
  });

  it('refuses an unreadable or unusable credentials file at startup, naming providers.gcp.credentialsFile', () => {
    const bad = (content: string | null): unknown => {
      const file = join(dir, `${randomUUID()}.json`);
      if (content !== null) writeFileSync(file, content);
      try {
        createGcpProviders(gcpProviderConfigSchema.parse({ credentialsFile: file }), { clock, issuer: 'x', webIdentityToken: () => Promise.reject(new Error('unused')) });
      } catch (e) {
        return e;
      }
      return null;
    };
    for (const content of [null, 'not json', '[]', '{"type":"api_key"}', JSON.stringify({ type: 'authorized_user', client_id: 'a', client_secret: 'b', refresh_token: 'c', token_uri: 'http://oauth.example.com/token' })]) {
      expect(bad(content)).toMatchObject({ code: 'ERR_CONFIG_INVALID', path: 'providers.gcp.credentialsFile' });
    }
  });
});

describe('impersonation with Stint\'s own credentials', () => {
  it('issues an access token for the target service account with the requested scope and lifetime', async () => {
    const gcp = provider();
    const now = Math.floor(clock.now() / 1000);
    const credential = await gcp.issue(draft({ target: READER, scopes: [STORAGE_READ], ttl: 600 }));
    expect(credential).toMatchObject({
      kind: 'gcp-access-token',
      tokenType: ACCESS_TOKEN_TYPE,
      secretFields: [],
      expiresAt: now + 600,
      renewAfter: now + 400,
      fields: { service_account: READER, token_type: 'Bearer', expires_at: new Date((now + 600) * 1000).toISOString() },
    });
    expect(credential.revocationHandle).toBeUndefined();
    expect(fake.tokenInfo(credential.token)).toMatchObject({ kind: 'service-account', email: READER, scopes: [STORAGE_READ] });

    // Stint's refresh token went to the OAuth endpoint; its access token called IAM Credentials.
    const [oauth, iam] = [fake.requestsTo('oauth'), fake.requestsTo('iam')];
    expect(oauth).toHaveLength(1);
    expect(oauth[0]!.body).toMatchObject({ grant_type: 'refresh_token' });
    expect(iam).toHaveLength(1);
    expect(iam[0]).toMatchObject({ serviceAccount: READER, body: { scope: [STORAGE_READ], lifetime: '600s', delegates: [] } });
    const sourceToken = [...fake.tokens].find(([, t]) => t.principal === `user:${OPERATOR}`)![0];
    expect(iam[0]!.bearer).toBe(fingerprint(sourceToken));
  });

  it('reuses Stint\'s own token across issuances and refreshes it once Google stops accepting it', async () => {
    const gcp = provider();
    await gcp.issue(draft({ target: READER }));
    await gcp.issue(draft({ target: READER }));
    expect(fake.requestsTo('oauth')).toHaveLength(1);
    expect(fake.requestsTo('iam')).toHaveLength(2);
    // Two hours later (fake time) Google rejects the cached token; the client refreshes and retries.
    clock.advance(2 * 3600_000);
    await gcp.issue(draft({ target: READER }));
    expect(fake.requestsTo('oauth')).toHaveLength(2);
    expect(fake.requestsTo('iam').map((r) => r.body.lifetime)).toEqual(['600s', '600s', '600s', '600s']);
  });

  it('requests the rule\'s default scopes, else the configured ones, when the request names none', async () => {
    await provider().issue(draft({ target: READER }));
    await provider({ defaultScopes: [STORAGE_READ] }).issue(draft({ target: READER }));
    await provider().issue(draft({ target: READER, options: { defaultScopes: ['https://www.googleapis.com/auth/devstorage.read_write'] } }));
    expect(fake.requestsTo('iam').map((r) => r.body.scope)).toEqual([[CLOUD_PLATFORM_SCOPE], [STORAGE_READ], ['https://www.googleapis.com/auth/devstorage.read_write']]);
  });

  it('caps the lifetime at the provider maximum (1 h) and asks longer only when configured', async () => {
    const gcp = provider();
    expect(gcp.maxTtlSeconds).toBe(3600);
    const now = Math.floor(clock.now() / 1000);
    expect((await gcp.issue(draft({ target: READER, ttl: 7200 }))).expiresAt).toBe(now + 3600);
    expect(fake.requestsTo('iam').at(-1)!.body.lifetime).toBe('3600s');

    // maxTtl 2h without the org policy constraint: Google refuses, with its own code.
    const long = provider({ maxTtl: '2h' });
    const error = await failure(long.issue(draft({ target: READER, ttl: 7200 })));
    expect(error).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', details: { upstreamCode: 'INVALID_ARGUMENT' } });
    expect(error.message).toContain('allowServiceAccountCredentialLifetimeExtension');
    // With the constraint in place for the account, 2 h tokens are issued.
    fake.allowLifetimeExtension(READER);
    expect((await long.issue(draft({ target: READER, ttl: 7200 }))).expiresAt).toBe(Math.floor(clock.now() / 1000) + 7200);
  });

  it('refuses a missing or malformed target before any call to Google', async () => {
    const gcp = provider();
    expect(await failure(gcp.issue(draft()))).toMatchObject({ code: 'ERR_INVALID_REQUEST', details: { field: 'target' } });
    for (const target of [
      'reader:generateIdToken#@demo-proj.iam.gserviceaccount.com',
      '../../v1/projects/-/serviceAccounts/x@y.iam.gserviceaccount.com',
      'reader@demo-proj.iam.gserviceaccount.com?x=1',
      'Reader@demo-proj.iam.gserviceaccount.com',
      'reader@demo-proj.iam.gserviceaccount.com/',
      'reader%40demo-proj.iam.gserviceaccount.com',
    ]) {
      expect(await failure(gcp.issue(draft({ target })))).toMatchObject({ code: 'ERR_INVALID_REQUEST', details: { field: 'target' } });
    }
    expect(fake.requests).toEqual([]);
  });

  it('maps Google\'s refusal to ERR_UPSTREAM_DENIED with its status as upstreamCode', async () => {
    const gcp = provider();
    // Not bound: the operator has no Token Creator role on the deployer account.
    const unbound = await failure(gcp.issue(draft({ target: DEPLOYER })));
    expect(unbound).toBeInstanceOf(UpstreamError);
    expect(unbound).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', details: { provider: 'gcp-access-token', upstreamCode: 'PERMISSION_DENIED' } });
    expect(unbound.message).toContain('IAM Credentials generateAccessToken refused: PERMISSION_DENIED');
    expectNoSecrets(unbound);
    // An injected denial on an account that is bound.
    fake.fail('iam', 'deny');
    expect(await failure(gcp.issue(draft({ target: READER })))).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', details: { upstreamCode: 'PERMISSION_DENIED' } });
  });

  it('maps a revoked refresh token of Stint\'s own credentials to ERR_UPSTREAM_DENIED invalid_grant', async () => {
    fake.fail('oauth', 'deny');
    const error = await failure(provider().issue(draft({ target: READER })));
    expect(error).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', details: { upstreamCode: 'invalid_grant' } });
    expect(error.message).toContain("Stint's own Google credentials");
    expectNoSecrets(error);
    expect(fake.requestsTo('iam')).toEqual([]);
  });

  it('maps throttling to ERR_UPSTREAM_UNAVAILABLE with Retry-After, after the client\'s own retries', async () => {
    fake.fail('iam', 'throttle');
    const error = await failure(provider().issue(draft({ target: READER })));
    expect(error).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', details: { upstreamCode: 'RESOURCE_EXHAUSTED', retryAfterSeconds: 7 } });
    // google-auth-library retries 429 three times before giving up.
    expect(fake.requestsTo('iam')).toHaveLength(4);
  });

  it('rides out one throttled answer through the client\'s retry', async () => {
    fake.fail('iam', 'throttle', 1);
    const credential = await provider().issue(draft({ target: READER }));
    expect(fake.tokenInfo(credential.token)?.email).toBe(READER);
    expect(fake.requestsTo('iam').map((r) => r.fault ?? 'ok')).toEqual(['throttle', 'ok']);
  });

  it('maps 503, a reset connection and a refused connection to ERR_UPSTREAM_UNAVAILABLE', async () => {
    fake.fail('iam', 'unavailable');
    expect(await failure(provider().issue(draft({ target: READER })))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', details: { upstreamCode: 'UNAVAILABLE', retryAfterSeconds: 5 } });
    fake.fail('iam', 'reset');
    expect(await failure(provider().issue(draft({ target: READER })))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', details: { retryAfterSeconds: 5 } });
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await failure(provider({ iamCredentialsEndpoint: closed }).issue(draft({ target: READER })))).toMatchObject({
      code: 'ERR_UPSTREAM_UNAVAILABLE',
      details: { upstreamCode: 'ECONNREFUSED' },
    });
  });

  it('times out a call that never answers', async () => {
    fake.fail('iam', 'hang');
    const started = Date.now();
    const error = await failure(provider({ timeout: '300ms' }).issue(draft({ target: READER })));
    expect(error).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('maps a malformed answer to ERR_UPSTREAM_BAD_RESPONSE', async () => {
    fake.fail('iam', 'malformed');
    expect(await failure(provider().issue(draft({ target: READER })))).toMatchObject({ code: 'ERR_UPSTREAM_BAD_RESPONSE', details: { upstreamCode: 'MALFORMED_RESPONSE' } });
  });

  it('without a credentials file uses ADC, and says so when there is none', async () => {
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = join(dir, 'missing-adc.json');
    try {
      const error = await failure(provider({ credentialsFile: undefined }).issue(draft({ target: READER })));
      expect(error).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', details: { upstreamCode: 'NO_CREDENTIALS', retryAfterSeconds: 30 } });
      expect(error.message).toContain('Application Default Credentials');
      expect(error.message).not.toContain('missing-adc.json');
      expect(fake.requests).toEqual([]);
      // ADC naming an external_account file: used as is, with no project id lookup on the network.
      const tokenFile = join(dir, 'adc-subject-token');
      const adcFile = join(dir, 'adc.json');
      const runner = 'adc-runner@platform.iam.gserviceaccount.com';
      writeFileSync(
        adcFile,
        JSON.stringify({
          type: 'external_account',
          audience: WIF_AUDIENCE,
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          token_url: fake.stsEndpoint,
          service_account_impersonation_url: `${fake.iamCredentialsEndpoint}/v1/projects/-/serviceAccounts/${runner}:generateAccessToken`,
          credential_source: { file: tokenFile },
        }),
      );
      process.env.GOOGLE_APPLICATION_CREDENTIALS = adcFile;
      const adc = provider({ credentialsFile: undefined });
      // Its subject token file is missing: Stint's own credential source, not Google, is at fault.
      const missingToken = await failure(adc.issue(draft({ target: READER })));
      expect(missingToken).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', details: { upstreamCode: 'ENOENT' } });
      expect(fake.requests).toEqual([]);
      // Once the file is there, Stint's own identity is federated and impersonates its runner account.
      const key = stintIssuer.signingKey;
      writeFileSync(tokenFile, await stintIssuer.mint({ iss: stintIssuer.issuer, sub: 'stint-itself', aud: WIF_AUDIENCE, iat: Math.floor(clock.now() / 1000), exp: Math.floor(clock.now() / 1000) + 600 }, { key }));
      fake.addServiceAccount(runner, [FakeGcp.federatedPrincipal(WIF_AUDIENCE, 'stint-itself')]);
      fake.addServiceAccount(READER, [`serviceAccount:${runner}`]);
      const credential = await adc.issue(draft({ target: READER }));
      expect(fake.tokenInfo(credential.token)?.email).toBe(READER);
      expect(fake.requests.map((r) => r.endpoint)).toEqual(['sts', 'iam', 'iam']);
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
    }
  });

  it('reports every Google call to the metrics hook', async () => {
    const calls: string[] = [];
    const gcp = provider({}, (kind, op, outcome, _s, code) => calls.push(`${kind} ${op} ${outcome}${code ? ` ${code}` : ''}`));
    await gcp.issue(draft({ target: READER }));
    fake.fail('iam', 'deny');
    await failure(gcp.issue(draft({ target: READER })));
    expect(calls).toEqual([
      'gcp-access-token SourceToken ok',
      'gcp-access-token GenerateAccessToken ok',
      'gcp-access-token SourceToken ok',
      'gcp-access-token GenerateAccessToken error PERMISSION_DENIED',
    ]);
  });

  it('uses an external_account credentials file (Stint itself federated) as its own credentials', async () => {
    // Stint runs outside Google: its own identity is a Kubernetes token exchanged at STS, then
    // its runner service account, which may impersonate the reader.
    const k8s = await TestIssuer.start({ clock });
    try {
      const ownAudience = '//iam.googleapis.com/projects/987/locations/global/workloadIdentityPools/platform/providers/cluster';
      fake.addWorkloadIdentityProvider({ audience: ownAudience, issuer: k8s.issuer });
      const runner = 'stint-runner@platform.iam.gserviceaccount.com';
      fake.addServiceAccount(runner, [FakeGcp.poolPrincipalSet(ownAudience)]);
      fake.addServiceAccount(READER, [`serviceAccount:${runner}`]);
      const tokenFile = join(dir, 'k8s-token');
      writeFileSync(tokenFile, await k8s.mintKubernetes({ namespace: 'stint', serviceAccount: 'stint', audience: `https:${ownAudience}` }));
      const credentialsFile = join(dir, 'external.json');
      writeFileSync(
        credentialsFile,
        JSON.stringify({
          type: 'external_account',
          audience: ownAudience,
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          token_url: fake.stsEndpoint,
          service_account_impersonation_url: `${fake.iamCredentialsEndpoint}/v1/projects/-/serviceAccounts/${runner}:generateAccessToken`,
          credential_source: { file: tokenFile },
        }),
      );
      const credential = await provider({ credentialsFile }).issue(draft({ target: READER, scopes: [STORAGE_READ] }));
      expect(fake.tokenInfo(credential.token)).toMatchObject({ email: READER, scopes: [STORAGE_READ] });
      expect(fake.requests.map((r) => `${r.endpoint}${r.serviceAccount ? ` ${r.serviceAccount}` : ''}`)).toEqual(['sts', `iam ${runner}`, `iam ${READER}`]);
    } finally {
      await k8s.close();
    }
  });
});

describe('workload identity federation', () => {
  it('exchanges a Stint JWT at STS, then impersonates the target with the federated token', async () => {
    const now = Math.floor(clock.now() / 1000);
    const credential = await provider().issue(draft({ target: DEPLOYER, scopes: [CLOUD_PLATFORM_SCOPE], ttl: 900, options: WIF }));
    expect(credential).toMatchObject({ tokenType: ACCESS_TOKEN_TYPE, expiresAt: now + 900, fields: { service_account: DEPLOYER, token_type: 'Bearer' } });
    expect(fake.tokenInfo(credential.token)).toMatchObject({ kind: 'service-account', email: DEPLOYER });

    const [sts, iam] = [fake.requestsTo('sts'), fake.requestsTo('iam')];
    expect(fake.requestsTo('oauth')).toEqual([]);
    expect(sts).toHaveLength(1);
    expect(sts[0]!.body).toMatchObject({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      audience: WIF_AUDIENCE,
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      scope: CLOUD_PLATFORM_SCOPE,
    });
    expect(sts[0]!.bearer).toBeNull();
    // The federated token (principal of the workload's identity) called generateAccessToken.
    const federated = [...fake.tokens].find(([token]) => fingerprint(token) === iam[0]!.bearer)!;
    expect(federated[1]).toMatchObject({ kind: 'federated', principal: FakeGcp.federatedPrincipal(WIF_AUDIENCE, IDENTITY.id), scopes: [CLOUD_PLATFORM_SCOPE] });
    expect(iam[0]).toMatchObject({ serviceAccount: DEPLOYER, body: { scope: [CLOUD_PLATFORM_SCOPE], lifetime: '900s' } });
  });

  it('returns the federated token itself when no service account is named', async () => {
    const now = Math.floor(clock.now() / 1000);
    const credential = await provider({ mode: 'workload-identity-federation' }).issue(draft({ scopes: [STORAGE_READ], ttl: 1200 }));
    // STS bounds the federated token by the Stint JWT's lifetime, which is the grant's.
    expect(credential).toMatchObject({ expiresAt: now + 1200, fields: { token_type: 'Bearer' } });
    expect(credential.fields.service_account).toBeUndefined();
    expect(fake.tokenInfo(credential.token)).toMatchObject({ kind: 'federated', scopes: [STORAGE_READ], principal: FakeGcp.federatedPrincipal(WIF_AUDIENCE, IDENTITY.id) });
    expect(fake.requestsTo('sts')[0]!.body.scope).toBe(STORAGE_READ);
    expect(fake.requestsTo('iam')).toEqual([]);
  });

  it('maps STS refusals to ERR_UPSTREAM_DENIED with the OAuth error as upstreamCode', async () => {
    // A pool provider Google does not know.
    const unknownPool = WIF_AUDIENCE.replace('/providers/stint', '/providers/gone');
    expect(await failure(provider({ workloadIdentityProvider: unknownPool }).issue(draft({ options: WIF })))).toMatchObject({
      code: 'ERR_UPSTREAM_DENIED',
      details: { upstreamCode: 'invalid_target' },
    });
    // A provider whose allowed audiences do not include the one Stint mints for.
    const strict = WIF_AUDIENCE.replace('/providers/stint', '/providers/strict');
    fake.addWorkloadIdentityProvider({ audience: strict, issuer: stintIssuer.issuer, allowedAudiences: ['https://other.example'] });
    const aud = await failure(provider({ workloadIdentityProvider: strict }).issue(draft({ options: WIF })));
    expect(aud).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', details: { upstreamCode: 'invalid_grant' } });
    expect(aud.message).toContain('STS token exchange refused: invalid_grant (The audience in ID Token does not match the expected audience.)');
    expectNoSecrets(aud);
    // An attribute condition that rejects this workload.
    const conditional = WIF_AUDIENCE.replace('/providers/stint', '/providers/conditional');
    fake.addWorkloadIdentityProvider({ audience: conditional, issuer: stintIssuer.issuer, condition: (claims) => claims.sub === 'someone-else' });
    expect(await failure(provider({ workloadIdentityProvider: conditional }).issue(draft({ options: WIF })))).toMatchObject({
      code: 'ERR_UPSTREAM_DENIED',
      details: { upstreamCode: 'unauthorized_client' },
    });
    // A provider that trusts other keys (or another issuer): STS checks the signature and `iss`.
    const other = await TestIssuer.start({ clock });
    try {
      const wrongKeys = WIF_AUDIENCE.replace('/providers/stint', '/providers/wrong-keys');
      fake.addWorkloadIdentityProvider({ audience: wrongKeys, issuer: stintIssuer.issuer, jwksUrl: other.jwksUrl });
      const signature = await failure(provider({ workloadIdentityProvider: wrongKeys }).issue(draft({ options: WIF })));
      expect(signature).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', details: { upstreamCode: 'invalid_grant' } });
      expect(signature.message).toContain('ERR_JWKS_NO_MATCHING_KEY');
      const wrongIssuer = WIF_AUDIENCE.replace('/providers/stint', '/providers/wrong-issuer');
      fake.addWorkloadIdentityProvider({ audience: wrongIssuer, issuer: other.issuer });
      expect(await failure(provider({ workloadIdentityProvider: wrongIssuer }).issue(draft({ options: WIF })))).toMatchObject({
        code: 'ERR_UPSTREAM_DENIED',
        details: { upstreamCode: 'invalid_grant' },
      });
    } finally {
      await other.close();
    }
    // Federated fine, but the workload's principal is not bound to the reader account.
    const iam = await failure(provider().issue(draft({ target: READER, options: WIF })));
    expect(iam).toMatchObject({ code: 'ERR_UPSTREAM_DENIED', details: { upstreamCode: 'PERMISSION_DENIED' } });
    expect(iam.message).toContain('IAM Credentials generateAccessToken refused');
  });

  it('maps STS throttling, outage and malformed replies', async () => {
    fake.fail('sts', 'throttle');
    expect(await failure(provider().issue(draft({ options: WIF })))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', details: { upstreamCode: 'RESOURCE_EXHAUSTED', retryAfterSeconds: 7 } });
    fake.fail('sts', 'unavailable', 4);
    expect(await failure(provider().issue(draft({ options: WIF })))).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', details: { upstreamCode: 'UNAVAILABLE' } });
    fake.fail('sts', 'malformed');
    expect(await failure(provider().issue(draft({ options: WIF })))).toMatchObject({ code: 'ERR_UPSTREAM_BAD_RESPONSE' });
    fake.recover();
    fake.fail('iam', 'malformed');
    expect(await failure(provider().issue(draft({ target: DEPLOYER, options: WIF })))).toMatchObject({ code: 'ERR_UPSTREAM_BAD_RESPONSE' });
  });

  it('refuses a federation rule when no workload identity provider is configured', async () => {
    const gcp = provider({ workloadIdentityProvider: undefined });
    expect(await failure(gcp.issue(draft({ options: WIF })))).toMatchObject({ code: 'ERR_CONFIG_INVALID', details: { path: 'providers.gcp.workloadIdentityProvider' } });
    expect(fake.requests).toEqual([]);
  });
});

describe('rule options, revocation and lifecycle', () => {
  it('refuses unknown or malformed rule options with ERR_POLICY_INVALID', async () => {
    for (const options of [{ mdoe: 'impersonation' }, { mode: 'federation' }, { defaultScopes: 'cloud-platform' }]) {
      expect(await failure(provider().issue(draft({ target: READER, options })))).toMatchObject({ code: 'ERR_POLICY_INVALID', details: { rule: 'gcp-rule' } });
    }
    expect(fake.requests).toEqual([]);
  });

  it('cannot revoke: says so plainly, and leaves nothing to reap or reconcile', async () => {
    const gcp = provider();
    const credential = await gcp.issue(draft({ target: READER }));
    const result = await gcp.revoke({ id: randomUUID(), kind: GCP_ACCESS_TOKEN_KIND, identity: IDENTITY.id, target: READER, audience: null, expiresAt: credential.expiresAt, revocationHandle: null });
    expect(result.effective).toBe(false);
    expect(result.note).toMatch(/cannot be revoked.*until it expires.*disable the service account/);
    expect(gcp.reapOnExpiry).toBe(false);
    expect(gcp.reap).toBeUndefined();
    expect(gcp.reconcile).toBeUndefined();
    expect(gcp.renew).toBeUndefined();
    // The token still works upstream: revocation is recorded in Stint only.
    expect(fake.tokenInfo(credential.token)).toBeDefined();
  });
});

describe('the issued token in a real Google client', () => {
  it('authenticates an API call until it expires, with the granted scopes', async () => {
    const credential = await provider().issue(draft({ target: READER, scopes: [STORAGE_READ], ttl: 300 }));
    const client = new OAuth2Client({ endpoints: { tokenInfoUrl: fake.tokenInfoEndpoint } });
    client.setCredentials({ access_token: credential.token });
    const bucket = await client.request<{ name: string; caller: string }>({ url: fake.bucketUrl('payments-data') });
    expect(bucket.data).toMatchObject({ name: 'payments-data', caller: `serviceAccount:${READER}` });
    const info = await client.getTokenInfo(credential.token);
    expect(info).toMatchObject({ email: READER, scopes: [STORAGE_READ] });

    // A token without a storage scope is refused by the API, as Google does.
    const narrow = await provider().issue(draft({ target: READER, scopes: ['https://www.googleapis.com/auth/pubsub'] }));
    client.setCredentials({ access_token: narrow.token });
    await expect(client.request({ url: fake.bucketUrl('payments-data'), retry: false })).rejects.toMatchObject({ status: 403 });

    // After expiry (fake time) the token no longer works.
    client.setCredentials({ access_token: credential.token });
    clock.advance(301_000);
    await expect(client.request({ url: fake.bucketUrl('payments-data'), retry: false })).rejects.toMatchObject({ status: 401 });
  });
});
