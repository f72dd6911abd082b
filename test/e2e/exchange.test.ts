/**
 * Scenario: a workload exchanges its platform token for a Stint JWT through the real `stint`
 * program, over gRPC and over HTTP; every bad input gets its specific code on both transports and
 * the service keeps serving the next good request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { API_AUDIENCE, AUDIENCE, exchangeForm, httpExchange, startE2E, type E2E } from './harness.js';
import { introspectAsResourceServer } from './introspection_client.js';
import { b64url, tokenParts } from '../support/test_issuer.js';
import { runStint } from '../support/programs.js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let env: E2E;

beforeAll(async () => {
  env = await startE2E({ introspection: true });
}, 60_000);
afterAll(() => env?.close());

const grpcRequest = (subjectToken: string, credential: Record<string, unknown> = {}): Record<string, unknown> => ({
  subject_token: subjectToken,
  subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
  credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE, ...credential }],
  context: { reason: 'e2e' },
});

const goodK8s = (): Promise<string> => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-server', podName: 'api-server-6c9f-abcde', audience: AUDIENCE });

async function verifyWithStintDiscovery(token: string): Promise<Record<string, unknown>> {
  const discovery = (await (await fetch(`${env.httpUrl}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const { payload } = await jwtVerify(token, jwks, { issuer: discovery.issuer, audience: API_AUDIENCE });
  return payload as Record<string, unknown>;
}

/** The next good request still succeeds on both transports. */
async function expectStillServing(): Promise<void> {
  const viaGrpc = await env.grpc.call(grpcRequest(await goodK8s()));
  expect(viaGrpc.ok).toBe(true);
  const viaHttp = await httpExchange(env.httpUrl, exchangeForm(await goodK8s()));
  expect(viaHttp.status).toBe(200);
}

describe('a good exchange', () => {
  it('issues a Stint JWT over gRPC that a jose verifier accepts through Stint discovery', async () => {
    const res = await env.grpc.call<{ grant_id: string; rule: string; identity: string; credentials: Record<string, unknown>[] }>(grpcRequest(await goodK8s()));
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.value.rule).toBe('payments-api');
    expect(res.value.identity).toBe('spiffe://e2e.test/ns/payments/sa/api-server');
    const cred = res.value.credentials[0]!;
    expect(cred.kind).toBe('stint-jwt');
    expect(cred.grant_id).toBe(res.value.grant_id);
    expect(cred.ttl_seconds).toBe(600);
    expect(Date.parse(String(cred.renew_after))).toBeLessThan(Date.parse(String(cred.expires_at)));
    const claims = await verifyWithStintDiscovery(String(cred.token));
    expect(claims.sub).toBe('spiffe://e2e.test/ns/payments/sa/api-server');
    expect(claims.aud).toBe(API_AUDIENCE);
    expect(claims.jti).toBe(res.value.grant_id);
    expect(claims.namespace).toBe('payments');
    expect(claims.service_account).toBe('api-server');
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);
    expect(decodeProtectedHeader(String(cred.token)).alg).toBe('ES256');
  });

  it('issues a Stint JWT over HTTP (RFC 8693) for a GitHub Actions token pinned by numeric ids', async () => {
    const token = await env.github.mintGithub({ repository: 'acme/deployer', repositoryId: 123456, ownerId: 654321, environment: 'production', audience: AUDIENCE });
    const res = await httpExchange(env.httpUrl, exchangeForm(token, { ttl_seconds: '1800' }));
    expect(res.status).toBe(200);
    expect(res.body.issued_token_type).toBe('urn:ietf:params:oauth:token-type:jwt');
    expect(res.body.token_type).toBe('Bearer');
    expect(res.body.expires_in).toBe(1800);
    expect(res.body.rule).toBe('deploy-from-main');
    const claims = await verifyWithStintDiscovery(String(res.body.access_token));
    expect(claims.repository).toBe('acme/deployer');
    expect(claims.environment).toBe('production');
  });

  it('caps a TTL above the rule maximum and shows the TTL really granted', async () => {
    const res = await env.grpc.call<{ credentials: Record<string, unknown>[] }>(grpcRequest(await goodK8s(), { ttl_seconds: 7200 }));
    expect(res.ok && res.value.credentials[0]!.ttl_seconds).toBe(1800);
    expect(res.ok && res.value.credentials[0]!.ttl_capped).toBe(true);
    const viaHttp = await httpExchange(env.httpUrl, exchangeForm(await goodK8s(), { ttl_seconds: '7200' }));
    expect(viaHttp.body.ttl_seconds).toBe(1800);
    expect(viaHttp.body.expires_in).toBe(1800);
    expect(viaHttp.body.ttl_capped).toBe(true);
    // A Stint JWT is not renewed in place: the client exchanges again.
    expect(res.ok && res.value.credentials[0]!.renewable).toBe(false);
    expect(viaHttp.body.renewable).toBe(false);
  });

  it('reuses the verification of a repeated subject token and still issues a distinct grant each time', async () => {
    const token = await goodK8s();
    const a = await env.grpc.call<{ grant_id: string }>(grpcRequest(token));
    const b = await env.grpc.call<{ grant_id: string }>(grpcRequest(token));
    expect(a.ok && b.ok && a.value.grant_id !== b.value.grant_id).toBe(true);
    const metrics = await (await fetch(`${env.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/stint_subject_token_cache_total\{result="hit"\} [1-9]/);
  });
});

interface BadCase {
  readonly name: string;
  readonly token: () => Promise<string>;
  readonly code: string;
  readonly grpc: number;
  readonly http: number;
  readonly oauth: string;
  readonly credential?: Record<string, unknown>;
  readonly form?: Record<string, string>;
  /** The code over HTTP where it differs (a form over the body cap is refused before its token is read). */
  readonly httpCode?: string;
}

const U = grpc.status.UNAUTHENTICATED;

const badCases: BadCase[] = [
  { name: 'alg none', code: 'ERR_TOKEN_ALG_NOT_ALLOWED', grpc: U, http: 400, oauth: 'invalid_request', token: async () => env.k8s.mintRaw({ alg: 'none', typ: 'JWT' }, env.k8s.claims(AUDIENCE)) },
  {
    name: 'HS256 signed with the issuer public key as HMAC secret',
    code: 'ERR_TOKEN_ALG_NOT_ALLOWED', grpc: U, http: 400, oauth: 'invalid_request',
    token: async () => env.k8s.mintRaw({ alg: 'HS256', kid: env.k8s.signingKey.kid }, env.k8s.claims(AUDIENCE), { hmacSecret: env.k8s.signingKey.publicKey.export({ format: 'pem', type: 'spki' }) as string }),
  },
  { name: 'unknown kid', code: 'ERR_TOKEN_KEY_NOT_FOUND', grpc: U, http: 400, oauth: 'invalid_request', token: async () => env.k8s.mintRaw({ alg: 'RS256', kid: 'no-such-key' }, env.k8s.claims(AUDIENCE)) },
  { name: 'kid with path characters', code: 'ERR_TOKEN_KEY_NOT_FOUND', grpc: U, http: 400, oauth: 'invalid_request', token: async () => env.k8s.mintRaw({ alg: 'RS256', kid: '../../../etc/passwd' }, env.k8s.claims(AUDIENCE)) },
  { name: 'jku header pointing at an attacker', code: 'ERR_TOKEN_HEADER_FORBIDDEN', grpc: U, http: 400, oauth: 'invalid_request', token: async () => env.k8s.mintRaw({ alg: 'RS256', kid: env.k8s.signingKey.kid, jku: 'http://127.0.0.1:1/jwks' }, env.k8s.claims(AUDIENCE)) },
  { name: 'x5u header', code: 'ERR_TOKEN_HEADER_FORBIDDEN', grpc: U, http: 400, oauth: 'invalid_request', token: async () => env.k8s.mintRaw({ alg: 'RS256', kid: env.k8s.signingKey.kid, x5u: 'http://127.0.0.1:1/cert.pem' }, env.k8s.claims(AUDIENCE)) },
  {
    name: 'embedded jwk of an attacker key',
    code: 'ERR_TOKEN_HEADER_FORBIDDEN', grpc: U, http: 400, oauth: 'invalid_request',
    token: async () => {
      const attacker = env.k8s.unpublishedKey('RS256');
      return env.k8s.mintRaw({ alg: 'RS256', jwk: attacker.publicJwk }, env.k8s.claims(AUDIENCE), { key: attacker });
    },
  },
  { name: 'x5c header', code: 'ERR_TOKEN_HEADER_FORBIDDEN', grpc: U, http: 400, oauth: 'invalid_request', token: async () => env.k8s.mintRaw({ alg: 'RS256', kid: env.k8s.signingKey.kid, x5c: ['MIIB'] }, env.k8s.claims(AUDIENCE)) },
  { name: 'unknown crit header', code: 'ERR_TOKEN_CRIT_UNSUPPORTED', grpc: U, http: 400, oauth: 'invalid_request', token: async () => env.k8s.mintRaw({ alg: 'RS256', kid: env.k8s.signingKey.kid, crit: ['urn:example:x'], 'urn:example:x': 1 }, env.k8s.claims(AUDIENCE)) },
  {
    name: 'signature from a key the issuer never published (published kid)',
    code: 'ERR_TOKEN_SIGNATURE_INVALID', grpc: U, http: 400, oauth: 'invalid_request',
    token: async () => env.k8s.mintRaw({ alg: 'RS256', kid: env.k8s.signingKey.kid }, env.k8s.claims(AUDIENCE), { key: env.k8s.unpublishedKey('RS256') }),
  },
  {
    name: 'truncated signature',
    code: 'ERR_TOKEN_MALFORMED', grpc: U, http: 400, oauth: 'invalid_request',
    token: async () => {
      const t = await goodK8s();
      return t.slice(0, t.length - 20);
    },
  },
  {
    name: 'non-base64url signature',
    code: 'ERR_TOKEN_MALFORMED', grpc: U, http: 400, oauth: 'invalid_request',
    token: async () => {
      const p = tokenParts(await goodK8s());
      return `${p.header}.${p.payload}.${p.signature.slice(0, 10)}+/=${p.signature.slice(13)}`;
    },
  },
  { name: 'expired', code: 'ERR_TOKEN_EXPIRED', grpc: U, http: 400, oauth: 'invalid_request', token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a', audience: AUDIENCE, iat: Math.floor(Date.now() / 1000) - 7200, ttl: 3600 }) },
  {
    name: 'nbf in the future beyond skew',
    code: 'ERR_TOKEN_NOT_YET_VALID', grpc: U, http: 400, oauth: 'invalid_request',
    token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a', audience: AUDIENCE, claims: { nbf: Math.floor(Date.now() / 1000) + 600 } }),
  },
  {
    name: 'iat in the future beyond skew',
    code: 'ERR_TOKEN_NOT_YET_VALID', grpc: U, http: 400, oauth: 'invalid_request',
    token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a', audience: AUDIENCE, iat: Math.floor(Date.now() / 1000) + 600, claims: { nbf: Math.floor(Date.now() / 1000) - 10 } }),
  },
  { name: 'lifetime above the issuer maximum', code: 'ERR_TOKEN_LIFETIME_TOO_LONG', grpc: U, http: 400, oauth: 'invalid_request', token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a', audience: AUDIENCE, ttl: 3 * 3600 }) },
  { name: 'wrong iss (trailing slash)', code: 'ERR_TOKEN_ISSUER_UNKNOWN', grpc: U, http: 400, oauth: 'invalid_request', token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a', audience: AUDIENCE, issuer: `${env.k8s.issuer}/` }) },
  { name: 'aud missing', code: 'ERR_TOKEN_AUDIENCE_INVALID', grpc: U, http: 400, oauth: 'invalid_request', token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a', audience: AUDIENCE, claims: { aud: undefined } }) },
  { name: 'aud not Stint', code: 'ERR_TOKEN_AUDIENCE_INVALID', grpc: U, http: 400, oauth: 'invalid_request', token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a', audience: 'https://vault.example.com' }) },
  { name: 'aud naming Stint beside another audience', code: 'ERR_TOKEN_AUDIENCE_INVALID', grpc: U, http: 400, oauth: 'invalid_request', token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a', audience: [AUDIENCE, 'https://other.example.com'] }) },
  {
    name: 'payload with duplicate member names',
    code: 'ERR_TOKEN_DUPLICATE_MEMBER', grpc: U, http: 400, oauth: 'invalid_request',
    token: async () => {
      const c = env.k8s.claims(AUDIENCE, { 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api-a', uid: 'u' } } });
      const json = JSON.stringify(c).replace(/^\{/, '{"sub":"system:serviceaccount:kube-system:admin",');
      return env.k8s.signRaw(JSON.stringify({ alg: 'RS256', kid: env.k8s.signingKey.kid }), json);
    },
  },
  { name: 'missing exp', code: 'ERR_TOKEN_CLAIM_INVALID', grpc: U, http: 400, oauth: 'invalid_request', token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-a', audience: AUDIENCE, claims: { exp: undefined } }) },
  {
    name: 'a 1 MB token',
    code: 'ERR_TOKEN_TOO_LARGE', grpc: grpc.status.INVALID_ARGUMENT, http: 400, oauth: 'invalid_request',
    // Over HTTP the 1 MB form is over the 64 KiB body cap: an oversized request, not a token verdict.
    httpCode: 'ERR_INVALID_REQUEST',
    token: async () => `${b64url(JSON.stringify({ alg: 'RS256' }))}.${'A'.repeat(1024 * 1024)}.sig`,
  },
  {
    name: 'deeply nested payload',
    code: 'ERR_TOKEN_MALFORMED', grpc: U, http: 400, oauth: 'invalid_request',
    token: async () => env.k8s.signRaw(JSON.stringify({ alg: 'RS256', kid: env.k8s.signingKey.kid }), `${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}`),
  },
  { name: 'non-JSON payload', code: 'ERR_TOKEN_MALFORMED', grpc: U, http: 400, oauth: 'invalid_request', token: async () => env.k8s.signRaw(JSON.stringify({ alg: 'RS256', kid: env.k8s.signingKey.kid }), 'not json at all') },
  { name: 'JWE (five segments)', code: 'ERR_TOKEN_MALFORMED', grpc: U, http: 400, oauth: 'invalid_request', token: async () => 'eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d' },
  { name: 'legacy Kubernetes secret token', code: 'ERR_TOKEN_LEGACY_REJECTED', grpc: U, http: 400, oauth: 'invalid_request', token: () => env.k8s.mintLegacyKubernetes({ namespace: 'payments', serviceAccount: 'api-a' }) },
  {
    name: 'an issuer whose JWKS is down',
    code: 'ERR_ISSUER_UNAVAILABLE', grpc: grpc.status.UNAVAILABLE, http: 503, oauth: 'temporarily_unavailable',
    token: async () => env.down.mintRaw({ alg: 'RS256', kid: env.down.signingKey.kid }, env.down.claims(AUDIENCE)),
  },
  { name: 'an audience the rule does not allow', code: 'ERR_TARGET_DENIED', grpc: grpc.status.PERMISSION_DENIED, http: 400, oauth: 'invalid_target', token: goodK8s, credential: { audience: 'https://evil.example.com' }, form: { audience: 'https://evil.example.com' } },
  { name: 'a credential kind no provider serves', code: 'ERR_INVALID_REQUEST', grpc: grpc.status.INVALID_ARGUMENT, http: 400, oauth: 'invalid_request', token: goodK8s, credential: { kind: 'aws-sts' }, form: { credential_kind: 'aws-sts' } },
  {
    name: 'a TTL above the maximum of a rule that refuses instead of capping',
    code: 'ERR_TARGET_DENIED', grpc: grpc.status.PERMISSION_DENIED, http: 400, oauth: 'invalid_target',
    token: () => env.k8s.mintKubernetes({ namespace: 'batch', serviceAccount: 'nightly', audience: AUDIENCE }),
    credential: { ttl_seconds: 3600 }, form: { ttl_seconds: '3600' },
  },
  {
    name: 'an identity no rule matches',
    code: 'ERR_POLICY_DENIED', grpc: grpc.status.PERMISSION_DENIED, http: 400, oauth: 'unauthorized_client',
    token: () => env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'worker', audience: AUDIENCE }),
  },
  {
    name: 'a GitHub repository with the right name but another id',
    code: 'ERR_POLICY_DENIED', grpc: grpc.status.PERMISSION_DENIED, http: 400, oauth: 'unauthorized_client',
    token: () => env.github.mintGithub({ repository: 'acme/deployer', repositoryId: 999999, ownerId: 654321, environment: 'production', audience: AUDIENCE }),
  },
];

describe('bad input: each gets its code on both transports, and the next good request succeeds', () => {
  for (const c of badCases) {
    it(`refuses ${c.name} with ${c.code}`, async () => {
      const viaGrpc = await env.grpc.call(grpcRequest(await c.token(), c.credential));
      expect(viaGrpc.ok).toBe(false);
      if (viaGrpc.ok) return;
      expect({ code: viaGrpc.code, stint: viaGrpc.stintCode }).toEqual({ code: c.grpc, stint: c.code });
      const viaHttp = await httpExchange(env.httpUrl, exchangeForm(await c.token(), c.form));
      expect({ status: viaHttp.status, error: viaHttp.body.error, stint: viaHttp.body.stint_code }).toEqual({ status: c.http, error: c.oauth, stint: c.httpCode ?? c.code });
      expect(String(viaHttp.body.error_description)).not.toMatch(/eyJ/);
      await expectStillServing();
    });
  }

  it('reports the reason code and, where the issuer allows it, the nearest rule of a denial', async () => {
    const token = await env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount: 'api-x', audience: AUDIENCE });
    const res = await httpExchange(env.httpUrl, exchangeForm(token, { audience: 'https://evil.example.com' }));
    expect(res.body.reason).toBe('AUDIENCE_NOT_ALLOWED');
    expect(res.body.rule).toBe('payments-api');
  });

  it('refuses a request without grant_type, subject_token_type or with an actor token', async () => {
    const token = await goodK8s();
    for (const [field, form] of [
      ['grant_type', { ...exchangeForm(token), grant_type: 'client_credentials' }],
      ['subject_token_type', { ...exchangeForm(token), subject_token_type: '' }],
      ['actor_token', { ...exchangeForm(token), actor_token: token }],
    ] as const) {
      const res = await httpExchange(env.httpUrl, form);
      expect({ field, status: res.status, error: res.body.error }).toEqual({ field, status: 400, error: 'invalid_request' });
    }
    const wrongType = await httpExchange(env.httpUrl, exchangeForm(token, { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }));
    expect(wrongType.body.error).toBe('unsupported_token_type');
    const empty = await env.grpc.call({ subject_token: '', credentials: [] });
    expect(!empty.ok && empty.stintCode).toBe('ERR_INVALID_REQUEST');
    await expectStillServing();
  });

  it('refuses a repeated parameter on /token, /revoke and /renew, never picking one of the copies', async () => {
    const token = await goodK8s();
    const issued = await httpExchange(env.httpUrl, exchangeForm(token));
    const grantId = String(issued.body.grant_id);
    const forms: [string, string, URLSearchParams][] = [
      ['/token', 'audience', new URLSearchParams([...Object.entries(exchangeForm(token)), ['audience', 'https://other.example.com']])],
      ['/revoke', 'grant_id', new URLSearchParams([['subject_token', token], ['grant_id', grantId], ['grant_id', 'another']])],
      ['/renew', 'subject_token', new URLSearchParams([['subject_token', token], ['subject_token', token], ['grant_id', grantId]])],
    ];
    for (const [path, field, body] of forms) {
      const res = await fetch(`${env.httpUrl}${path}`, { method: 'POST', body });
      expect({ path, status: res.status, body: await res.json() }).toMatchObject({ path, status: 400, body: { error: 'invalid_request', stint_code: 'ERR_INVALID_REQUEST', error_description: `parameter ${field} must be given at most once` } });
    }
    // The grant was not revoked by the refused request.
    expect((await introspectAsResourceServer(env.httpUrl, String(issued.body.access_token))).body.active).toBe(true);
    await expectStillServing();
  });

  it('answers each HTTP request with a request id: the one the caller sent when sane, else a UUIDv7', async () => {
    const own = await fetch(`${env.httpUrl}/token`, { method: 'POST', headers: { 'x-request-id': 'ci-run-42.step-3' }, body: new URLSearchParams(exchangeForm(await goodK8s())) });
    expect(own.headers.get('x-request-id')).toBe('ci-run-42.step-3');
    const insane = await fetch(`${env.httpUrl}/token`, { method: 'POST', headers: { 'x-request-id': 'a b\tc' }, body: new URLSearchParams(exchangeForm(await goodK8s())) });
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('surfaces', () => {
  it('serves OIDC discovery naming the JWKS, the token and introspection endpoints', async () => {
    const d = (await (await fetch(`${env.httpUrl}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(d.issuer).toBe(env.httpUrl);
    expect(d.token_endpoint).toBe(`${env.httpUrl}/token`);
    expect(d.introspection_endpoint).toBe(`${env.httpUrl}/introspect`);
    const jwks = (await (await fetch(String(d.jwks_uri))).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const k of jwks.keys) expect(k.d).toBeUndefined();
  });

  it('answers health over HTTP and gRPC, and readiness once keys, store and policy are loaded', async () => {
    expect((await fetch(`${env.httpUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${env.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    const def = protoLoader.loadSync(healthProtoPath, { enums: String });
    const health = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
    const client = new health.grpc.health.v1.Health(env.grpcAddr, grpc.credentials.createInsecure());
    const status = await new Promise<{ status: string }>((res, rej) =>
      (client as unknown as { Check: (r: unknown, cb: (e: Error | null, v: { status: string }) => void) => void }).Check({ service: 'stint.v1.TokenExchange' }, (e, v) => (e ? rej(e) : res(v))),
    );
    client.close();
    expect(status.status).toBe('SERVING');
  });

  it('serves reflection so grpcurl can list the services', async () => {
    const reflectionProto = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '../proto/grpc/reflection/v1/reflection.proto');
    const def = protoLoader.loadSync(reflectionProto, { keepCase: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } } };
    for (const [addr, service] of [[env.grpcAddr, 'stint.v1.TokenExchange'], [env.adminAddr, 'stint.v1.Admin']] as const) {
      const client = new pkg.grpc.reflection.v1.ServerReflection(addr, grpc.credentials.createInsecure());
      const call = (client as unknown as { ServerReflectionInfo: () => grpc.ClientDuplexStream<unknown, { list_services_response?: { service: { name: string }[] } }> }).ServerReflectionInfo();
      const names = await new Promise<string[]>((res, rej) => {
        call.on('data', (m) => {
          res((m.list_services_response?.service ?? []).map((x: { name: string }) => x.name));
          call.end();
        });
        call.on('error', rej);
        call.write({ list_services: '*' });
      });
      client.close();
      expect(names).toContain(service);
      expect(names).toContain('grpc.health.v1.Health');
    }
  });

  it('exports the exchange metrics with bounded labels', async () => {
    const text = await (await fetch(`${env.httpUrl}/metrics`)).text();
    for (const name of ['stint_exchange_duration_seconds_bucket', 'stint_exchanges_total', 'stint_policy_decisions_total', 'stint_issued_credential_ttl_seconds_bucket', 'stint_active_grants', 'stint_jwks_fetch_total', 'stint_jwks_fetch_duration_seconds_bucket']) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/stint_exchanges_total\{outcome="deny",reason="NO_RULE_MATCHED"\}/);
    expect(text).not.toMatch(/eyJ|spiffe:/);
  });

  it('keeps the admin surface for admin credentials only: none, a wrong one and a workload token are refused', async () => {
    const none = await env.grpc.adminCall('ListGrants', {});
    expect(!none.ok && [none.code, none.stintCode]).toEqual([grpc.status.UNAUTHENTICATED, 'ERR_ADMIN_UNAUTHENTICATED']);
    const wrong = await env.grpc.adminCall('ListGrants', {}, 'not-the-token');
    expect(!wrong.ok && wrong.stintCode).toBe('ERR_ADMIN_UNAUTHENTICATED');
    const workload = await env.grpc.adminCall('ListGrants', {}, await goodK8s());
    expect(!workload.ok && workload.stintCode).toBe('ERR_ADMIN_UNAUTHENTICATED');
    const ok = await env.grpc.adminCall<{ grants: unknown[] }>('ListGrants', {}, env.adminToken);
    expect(ok.ok && ok.value.grants.length).toBeGreaterThan(0);
    const policy = await env.grpc.adminCall<{ rules: string[] }>('GetPolicy', {}, env.adminToken);
    expect(policy.ok && policy.value.rules).toEqual(['payments-api', 'batch-strict-ttl', 'deploy-from-main']);
  });

  it('audits allowed, denied and failed exchanges with fingerprints, and never logs a token', async () => {
    const res = await runStint(['audit', '--json', '--since', '1h', '--limit', '1000', '--admin', env.adminAddr, '--admin-token-file', env.adminTokenFile]);
    expect(res.code).toBe(0);
    const events = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    const types = new Set(events.map((e) => e.type));
    for (const t of ['exchange.allowed', 'exchange.denied', 'exchange.error', 'policy.loaded']) expect(types).toContain(t);
    const allowed = events.find((e) => e.type === 'exchange.allowed')!;
    expect(String(allowed.data.subjectTokenFingerprint)).toMatch(/^sha256:[0-9a-f]{16}$/);
    // No JWT (header "eyJ...") anywhere: not in the audit trail, not in the service's logs.
    expect(res.stdout).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}/);
    expect(env.service.stdout() + env.service.stderr()).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}/);
    // Logs are JSON lines carrying request id, identity, rule and outcome.
    const line = env.service.stdout().split('\n').find((l) => l.includes('"exchange.allowed"'))!;
    const log = JSON.parse(line) as Record<string, unknown>;
    expect(log).toMatchObject({ audit: 'exchange.allowed', outcome: 'allow' });
    expect(log.requestId).toBeTruthy();
    expect(log.identity).toBeTruthy();
    expect(log.rule).toBeTruthy();
  });
});
