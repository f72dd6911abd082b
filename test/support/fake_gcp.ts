/**
 * A fake of the Google Cloud endpoints the `gcp-access-token` provider talks to, over real HTTP
 * on loopback, speaking their real JSON wire formats:
 *
 * - `POST /token`: the OAuth 2.0 token endpoint (`oauth2.googleapis.com/token`), refresh_token
 *   grant for Stint's own `authorized_user` credentials.
 * - `POST /v1/token`: Security Token Service (`sts.googleapis.com/v1/token`), RFC 8693 token
 *   exchange of an OIDC JWT for a federated access token. The JWT is verified as Google does:
 *   signature against the provider's issuer (discovery, then JWKS, with jose), `iss`, `exp`/`iat`,
 *   and `aud` equal to the provider's canonical name (with or without `https:`) or one of its
 *   allowed audiences; an optional attribute condition.
 * - `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`: IAM Credentials. Checks the
 *   bearer token (live, with the cloud-platform or iam scope) and that its principal holds the
 *   Token Creator / Workload Identity User role on the service account; `lifetime` above 3600 s
 *   needs the org policy constraint `iam.allowServiceAccountCredentialLifetimeExtension`.
 * - `POST /tokeninfo` (`oauth2.googleapis.com/tokeninfo`) and `GET /storage/v1/b/{bucket}`: a
 *   protected API, so a test can show a real client USING an issued token.
 *
 * Errors use Google's shapes: `{ error: { code, message, status } }` for IAM and APIs,
 * `{ error, error_description }` for the OAuth and STS endpoints. Every request is recorded
 * (bearer tokens as fingerprints only). Faults per endpoint: deny, throttle (429 with
 * Retry-After), unavailable (503), malformed (200 with a broken body), reset (socket destroyed),
 * hang (no answer), for the next N requests or until cleared. Time comes from an injected clock.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../../src/clock.js';

/** The OAuth scope every Google API accepts. */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const IAM_SCOPE = 'https://www.googleapis.com/auth/iam';
const STORAGE_SCOPES = new Set([CLOUD_PLATFORM_SCOPE, 'https://www.googleapis.com/auth/devstorage.read_only', 'https://www.googleapis.com/auth/devstorage.read_write', 'https://www.googleapis.com/auth/devstorage.full_control']);

const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const SUBJECT_TOKEN_TYPES = new Set(['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token']);

/** An endpoint of the fake. */
export type GcpEndpoint = 'oauth' | 'sts' | 'iam' | 'tokeninfo' | 'api';

/** How an endpoint misbehaves. */
export type GcpFault = 'deny' | 'throttle' | 'unavailable' | 'malformed' | 'reset' | 'hang';

/** One request the fake received. */
export interface GcpRequest {
  readonly endpoint: GcpEndpoint | 'unknown';
  readonly method: string;
  readonly path: string;
  /** Parsed form or JSON body (subject tokens, refresh tokens and secrets replaced by fingerprints). */
  readonly body: Readonly<Record<string, unknown>>;
  /** Fingerprint of the bearer token presented, if any. */
  readonly bearer: string | null;
  /** The service account named in the path (IAM). */
  readonly serviceAccount?: string;
  /** The fault served instead of the normal answer, if any. */
  readonly fault?: GcpFault;
}

/** A workload identity pool provider STS trusts. */
export interface FakeWifProvider {
  /** `//iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`. */
  readonly audience: string;
  /** OIDC issuer; its discovery document names the JWKS. */
  readonly issuer: string;
  /** JWKS URL to use instead of discovery (an uploaded JWKS in GCP terms). */
  readonly jwksUrl?: string;
  /** Allowed `aud` values; empty: the provider's canonical name with or without `https:`. */
  readonly allowedAudiences?: readonly string[];
  /** Attribute condition over the verified claims (false: `unauthorized_client`). */
  readonly condition?: (claims: JWTPayload) => boolean;
}

/** An issued token, as the fake remembers it. */
export interface FakeIssuedToken {
  readonly kind: 'user' | 'federated' | 'service-account';
  /** IAM principal: `user:...`, `principal://iam.googleapis.com/...`, `serviceAccount:...`. */
  readonly principal: string;
  readonly scopes: readonly string[];
  /** Epoch milliseconds. */
  readonly expiresAtMs: number;
  /** The service account (service-account tokens). */
  readonly email?: string;
}

interface FaultState {
  fault: GcpFault;
  remaining: number;
}

interface UserCredential {
  readonly clientSecret: string;
  readonly refreshToken: string;
  readonly principal: string;
}

/** Options of {@link FakeGcp.start}. */
export interface FakeGcpOptions {
  /** Time for token expiry and JWT checks (default: the wall clock). */
  readonly clock?: Clock;
  /** Seconds sent in Retry-After with a throttle fault (default 7). */
  readonly retryAfterSeconds?: number;
}

/** The fake; start with {@link FakeGcp.start}. */
export class FakeGcp {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Every request, in order. */
  readonly requests: GcpRequest[] = [];
  /** Tokens issued, by value. */
  readonly tokens = new Map<string, FakeIssuedToken>();

  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #clock: Clock;
  readonly #retryAfter: number;
  readonly #faults = new Map<GcpEndpoint, FaultState>();
  readonly #users = new Map<string, UserCredential>();
  readonly #providers = new Map<string, { provider: FakeWifProvider; jwks: ReturnType<typeof createRemoteJWKSet> | null }>();
  readonly #serviceAccounts = new Map<string, Set<string>>();
  readonly #extendedLifetime = new Set<string>();
  readonly #hanging = new Set<ServerResponse>();

  private constructor(server: Server, url: string, options: FakeGcpOptions) {
    this.#server = server;
    this.url = url;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#retryAfter = options.retryAfterSeconds ?? 7;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) googleError(res, 500, 'INTERNAL', `fake failure: ${String(e)}`);
      });
    });
  }

  /** Start on a loopback port chosen by the OS. */
  static async start(options: FakeGcpOptions = {}): Promise<FakeGcp> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new FakeGcp(server, `http://127.0.0.1:${port}`, options);
  }

  /** The STS token endpoint (`token_url`). */
  get stsEndpoint(): string {
    return `${this.url}/v1/token`;
  }

  /** The IAM Credentials base URL (the library appends `/v1/projects/-/serviceAccounts/...`). */
  get iamCredentialsEndpoint(): string {
    return this.url;
  }

  /** The OAuth 2.0 token endpoint (`token_uri`). */
  get oauthTokenEndpoint(): string {
    return `${this.url}/token`;
  }

  /** The tokeninfo endpoint. */
  get tokenInfoEndpoint(): string {
    return `${this.url}/tokeninfo`;
  }

  /** URL of a bucket on the fake Cloud Storage API. */
  bucketUrl(bucket: string): string {
    return `${this.url}/storage/v1/b/${encodeURIComponent(bucket)}`;
  }

  /** Register a user for the refresh_token grant; returns its `authorized_user` credentials JSON. */
  addAuthorizedUser(email: string): Record<string, string> {
    const clientId = `${randomBytes(6).toString('hex')}.apps.googleusercontent.com`;
    const user: UserCredential = { clientSecret: randomBytes(12).toString('base64url'), refreshToken: `1//${randomBytes(24).toString('base64url')}`, principal: `user:${email}` };
    this.#users.set(clientId, user);
    return { type: 'authorized_user', client_id: clientId, client_secret: user.clientSecret, refresh_token: user.refreshToken, token_uri: this.oauthTokenEndpoint };
  }

  /** Trust a workload identity pool provider at STS. */
  addWorkloadIdentityProvider(provider: FakeWifProvider): void {
    this.#providers.set(provider.audience, { provider, jwks: null });
  }

  /** The IAM principal STS gives a federated token for `sub` under `audience`. */
  static federatedPrincipal(audience: string, subject: string): string {
    return `principal://${poolOf(audience)}/subject/${subject}`;
  }

  /** The principalSet of every identity of the pool behind `audience`. */
  static poolPrincipalSet(audience: string): string {
    return `principalSet://${poolOf(audience)}/*`;
  }

  /** Create a service account; `principals` may impersonate it (Token Creator / WI User role). */
  addServiceAccount(email: string, principals: readonly string[] = []): void {
    const set = this.#serviceAccounts.get(email) ?? new Set<string>();
    for (const p of principals) set.add(p);
    this.#serviceAccounts.set(email, set);
  }

  /** Allow lifetimes up to 12 h for `email` (org policy constraint iam.allowServiceAccountCredentialLifetimeExtension). */
  allowLifetimeExtension(email: string): void {
    this.#extendedLifetime.add(email);
  }

  /** Make `endpoint` misbehave for the next `times` requests (default: until cleared). */
  fail(endpoint: GcpEndpoint, fault: GcpFault, times = Number.POSITIVE_INFINITY): void {
    this.#faults.set(endpoint, { fault, remaining: times });
  }

  /** Serve `endpoint` (or every endpoint) normally again. */
  recover(endpoint?: GcpEndpoint): void {
    if (endpoint) this.#faults.delete(endpoint);
    else this.#faults.clear();
  }

  /** Requests to one endpoint. */
  requestsTo(endpoint: GcpEndpoint): GcpRequest[] {
    return this.requests.filter((r) => r.endpoint === endpoint);
  }

  /** Forget recorded requests. */
  resetRequests(): void {
    this.requests.length = 0;
  }

  /** What the fake knows of an access token it issued. */
  tokenInfo(token: string): FakeIssuedToken | undefined {
    return this.tokens.get(token);
  }

  /** Stop listening and drop connections. */
  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    const endpoint = endpointOf(method, path);
    const body = parseBody(req.headers['content-type'], raw);
    const bearer = bearerOf(req);
    const iamMatch = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(path);
    const serviceAccount = iamMatch ? decodeURIComponent(iamMatch[1]!) : undefined;
    const state = endpoint === 'unknown' ? undefined : this.#faults.get(endpoint);
    const fault = state && state.remaining > 0 ? state.fault : undefined;
    if (state && fault) state.remaining -= 1;
    this.requests.push({ endpoint, method, path, body: redact(body), bearer: bearer ? fingerprint(bearer) : null, ...(serviceAccount ? { serviceAccount } : {}), ...(fault ? { fault } : {}) });
    if (fault && endpoint !== 'unknown') return this.#serveFault(endpoint, fault, res);
    switch (endpoint) {
      case 'oauth':
        return this.#oauthToken(body, res);
      case 'sts':
        return this.#stsToken(body, req, res);
      case 'iam':
        return this.#generateAccessToken(serviceAccount!, body, bearer, res);
      case 'tokeninfo':
        return this.#tokenInfoEndpoint(bearer ?? stringOf(body.access_token) ?? url.searchParams.get('access_token'), res);
      case 'api':
        return this.#bucket(decodeURIComponent(path.slice('/storage/v1/b/'.length)), bearer, res);
      default:
        return googleError(res, 404, 'NOT_FOUND', `no route ${method} ${path}`);
    }
  }

  #serveFault(endpoint: GcpEndpoint, fault: GcpFault, res: ServerResponse): void {
    const oauthShaped = endpoint === 'oauth' || endpoint === 'sts';
    switch (fault) {
      case 'deny':
        if (endpoint === 'oauth') return oauthError(res, 400, 'invalid_grant', 'Token has been expired or revoked.');
        if (endpoint === 'sts') return oauthError(res, 400, 'invalid_grant', 'The given credential is rejected by the attribute condition.');
        return googleError(res, 403, 'PERMISSION_DENIED', "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
      case 'throttle':
        res.setHeader('retry-after', String(this.#retryAfter));
        return googleError(res, 429, 'RESOURCE_EXHAUSTED', oauthShaped ? 'Quota exceeded for quota metric token exchange requests.' : "Quota exceeded for quota metric 'Generate credentials requests' and limit 'Generate credentials requests per minute'.");
      case 'unavailable':
        return googleError(res, 503, 'UNAVAILABLE', 'The service is currently unavailable.');
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        res.end(endpoint === 'iam' ? '{"accessToken": "ya29.trunc' : '{"token_type": "Bearer", "expires_in": "soon"}');
        return;
      case 'reset':
        res.socket?.destroy();
        return;
      case 'hang':
        this.#hanging.add(res);
        res.on('close', () => this.#hanging.delete(res));
        return;
    }
  }

  /** OAuth 2.0 token endpoint: refresh_token grant. */
  #oauthToken(body: Record<string, unknown>, res: ServerResponse): void {
    if (body.grant_type !== 'refresh_token') return oauthError(res, 400, 'unsupported_grant_type', 'Invalid grant_type: ' + String(body.grant_type ?? ''));
    const clientId = stringOf(body.client_id);
    const user = clientId ? this.#users.get(clientId) : undefined;
    if (!user || body.client_secret !== user.clientSecret) return oauthError(res, 401, 'invalid_client', 'The OAuth client was not found.');
    if (body.refresh_token !== user.refreshToken) return oauthError(res, 400, 'invalid_grant', 'Bad Request');
    const scopes = [CLOUD_PLATFORM_SCOPE, 'openid', 'https://www.googleapis.com/auth/userinfo.email'];
    const token = this.#issue({ kind: 'user', principal: user.principal, scopes, expiresAtMs: this.#clock.now() + 3599_000 });
    json(res, 200, { access_token: token, expires_in: 3599, scope: scopes.join(' '), token_type: 'Bearer' });
  }

  /** STS v1/token: RFC 8693 exchange of an OIDC JWT for a federated access token. */
  async #stsToken(body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization) return oauthError(res, 400, 'invalid_request', 'The request must not carry an Authorization header.');
    if (body.grant_type !== TOKEN_EXCHANGE_GRANT) return oauthError(res, 400, 'unsupported_grant_type', `Invalid value for "grant_type": ${String(body.grant_type ?? '')}`);
    if (body.requested_token_type !== ACCESS_TOKEN_TYPE) return oauthError(res, 400, 'invalid_request', 'Invalid value for "requested_token_type".');
    if (!SUBJECT_TOKEN_TYPES.has(String(body.subject_token_type))) return oauthError(res, 400, 'invalid_request', 'Invalid value for "subject_token_type".');
    const audience = stringOf(body.audience) ?? '';
    const entry = this.#providers.get(audience);
    if (!entry) {
      return oauthError(res, 400, 'invalid_target', 'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.');
    }
    const scopes = (stringOf(body.scope) ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0) return oauthError(res, 400, 'invalid_scope', 'The "scope" parameter is required.');
    const subjectToken = stringOf(body.subject_token);
    if (!subjectToken) return oauthError(res, 400, 'invalid_request', 'The "subject_token" parameter is required.');
    const { provider } = entry;
    let claims: JWTPayload;
    try {
      entry.jwks ??= createRemoteJWKSet(new URL(provider.jwksUrl ?? (await discoverJwks(provider.issuer))));
      const allowed = provider.allowedAudiences?.length ? [...provider.allowedAudiences] : [provider.audience, `https:${provider.audience}`];
      ({ payload: claims } = await jwtVerify(subjectToken, entry.jwks, {
        issuer: provider.issuer,
        audience: allowed,
        algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'],
        currentDate: new Date(this.#clock.now()),
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (e) {
      entry.jwks = null;
      const err = e as { code?: string; claim?: string };
      const description =
        err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && err.claim === 'aud'
          ? 'The audience in ID Token does not match the expected audience.'
          : err.code === 'ERR_JWT_EXPIRED'
            ? 'ID Token has expired.'
            : err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && err.claim === 'iss'
              ? 'The issuer in ID Token does not match the expected issuer.'
              : `Invalid ID Token (${err.code ?? 'unverifiable'}).`;
      return oauthError(res, 400, 'invalid_grant', description);
    }
    if (provider.condition && !provider.condition(claims)) return oauthError(res, 400, 'unauthorized_client', 'The given credential is rejected by the attribute condition.');
    const now = this.#clock.now();
    // A federated token lives as long as the subject token, at most one hour.
    const lifetime = Math.min(3600, Math.floor(((claims.exp ?? 0) * 1000 - now) / 1000));
    const token = this.#issue({ kind: 'federated', principal: FakeGcp.federatedPrincipal(audience, String(claims.sub)), scopes, expiresAtMs: now + lifetime * 1000 });
    json(res, 200, { access_token: token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: lifetime });
  }

  /** IAM Credentials generateAccessToken. */
  #generateAccessToken(email: string, body: Record<string, unknown>, bearer: string | null, res: ServerResponse): void {
    const caller = bearer ? this.#live(bearer) : undefined;
    if (!caller) {
      return googleError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    }
    if (!caller.scopes.includes(CLOUD_PLATFORM_SCOPE) && !caller.scopes.includes(IAM_SCOPE)) {
      return googleError(res, 403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.');
    }
    const principals = this.#serviceAccounts.get(email);
    const allowed = principals && [...principals].some((p) => p === caller.principal || (p.endsWith('/*') && p.startsWith('principalSet://') && caller.principal.startsWith(`principal://${p.slice('principalSet://'.length, -1)}`)));
    if (!allowed) return googleError(res, 403, 'PERMISSION_DENIED', "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
    const scope = body.scope;
    if (!Array.isArray(scope) || scope.length === 0 || scope.some((s) => typeof s !== 'string' || s === '')) return googleError(res, 400, 'INVALID_ARGUMENT', 'Scope required.');
    const lifetimeText = body.lifetime === undefined ? '3600s' : String(body.lifetime);
    const m = /^(\d+)(?:\.\d+)?s$/.exec(lifetimeText);
    if (!m) return googleError(res, 400, 'INVALID_ARGUMENT', `Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), Field 'lifetime', Illegal duration format; duration must end with 's'`);
    const lifetime = Number(m[1]);
    const max = this.#extendedLifetime.has(email) ? 43200 : 3600;
    if (lifetime > max) {
      return googleError(res, 400, 'INVALID_ARGUMENT', `The lifetime of the requested token (${lifetime}s) exceeds the maximum of ${max}s; longer lifetimes need the constraints/iam.allowServiceAccountCredentialLifetimeExtension organization policy.`);
    }
    if (lifetime <= 0) return googleError(res, 400, 'INVALID_ARGUMENT', 'The lifetime must be positive.');
    const expiresAtMs = this.#clock.now() + lifetime * 1000;
    const token = this.#issue({ kind: 'service-account', principal: `serviceAccount:${email}`, email, scopes: scope as string[], expiresAtMs });
    json(res, 200, { accessToken: token, expireTime: rfc3339(expiresAtMs) });
  }

  /** tokeninfo: what Google says about an access token. */
  #tokenInfoEndpoint(token: string | null | undefined, res: ServerResponse): void {
    const info = token ? this.#live(token) : undefined;
    if (!info) return oauthError(res, 400, 'invalid_token', 'Invalid Value');
    const now = this.#clock.now();
    json(res, 200, {
      azp: '100000000000000000000',
      aud: '100000000000000000000',
      scope: info.scopes.join(' '),
      exp: String(Math.floor(info.expiresAtMs / 1000)),
      expires_in: Math.floor((info.expiresAtMs - now) / 1000),
      ...(info.email ? { email: info.email, email_verified: 'true' } : {}),
      access_type: 'online',
    });
  }

  /** Cloud Storage buckets.get, protected by the access token and its scopes. */
  #bucket(bucket: string, bearer: string | null, res: ServerResponse): void {
    const info = bearer ? this.#live(bearer) : undefined;
    if (!info) return googleError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    if (!info.scopes.some((s) => STORAGE_SCOPES.has(s))) return googleError(res, 403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.');
    json(res, 200, { kind: 'storage#bucket', id: bucket, name: bucket, location: 'EU', storageClass: 'STANDARD', caller: info.principal });
  }

  #issue(token: FakeIssuedToken): string {
    const value = `ya29.${token.kind === 'federated' ? 'd.' : ''}${randomBytes(32).toString('base64url')}`;
    this.tokens.set(value, token);
    return value;
  }

  #live(token: string): FakeIssuedToken | undefined {
    const info = this.tokens.get(token);
    return info && info.expiresAtMs > this.#clock.now() ? info : undefined;
  }
}

function endpointOf(method: string, path: string): GcpEndpoint | 'unknown' {
  if (method === 'POST' && path === '/token') return 'oauth';
  if (method === 'POST' && path === '/v1/token') return 'sts';
  if (method === 'POST' && /^\/v1\/projects\/-\/serviceAccounts\/[^/:]+:generateAccessToken$/.test(path)) return 'iam';
  if (path === '/tokeninfo') return 'tokeninfo';
  if (method === 'GET' && path.startsWith('/storage/v1/b/')) return 'api';
  return 'unknown';
}

function poolOf(audience: string): string {
  const m = /^\/\/(iam\.[^/]+\/projects\/[^/]+\/locations\/global\/workloadIdentityPools\/[^/]+)\/providers\/[^/]+$/.exec(audience);
  if (!m) throw new Error(`not a workload identity pool provider: ${audience}`);
  return m[1]!;
}

async function discoverJwks(issuer: string): Promise<string> {
  const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
  if (!res.ok) throw Object.assign(new Error(`discovery ${res.status}`), { code: 'ERR_DISCOVERY' });
  const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== issuer || typeof doc.jwks_uri !== 'string') throw Object.assign(new Error('bad discovery document'), { code: 'ERR_DISCOVERY' });
  return doc.jwks_uri;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(contentType: string | undefined, raw: string): Record<string, unknown> {
  if (!raw) return {};
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    try {
      const v = JSON.parse(raw) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

const SECRET_FIELDS = new Set(['subject_token', 'refresh_token', 'client_secret', 'access_token', 'assertion']);

function redact(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) out[k] = SECRET_FIELDS.has(k) && typeof v === 'string' ? fingerprint(v) : v;
  return out;
}

function bearerOf(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer (\S+)$/i.exec(h) : null;
  return m ? m[1]! : null;
}

function stringOf(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Short fingerprint of a secret (what the fake records instead of it). */
export function fingerprint(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}

/** RFC 3339 in Google's style: whole seconds, `Z`. */
function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function googleError(res: ServerResponse, code: number, status: string, message: string): void {
  json(res, code, { error: { code, message, status } });
}

function oauthError(res: ServerResponse, status: number, error: string, description: string): void {
  json(res, status, { error, error_description: description });
}
