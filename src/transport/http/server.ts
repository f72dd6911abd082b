/**
 * The HTTP transport: OIDC discovery and JWKS, RFC 8693 token exchange, RFC 7662 introspection,
 * metrics and health. A thin adapter over the pipeline.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { JSONWebKeySet } from 'jose';
import type { Registry } from 'prom-client';
import { JWT_TOKEN_TYPE } from '../../attestation/token_types.js';
import { TOKEN_EXCHANGE_GRANT } from '../../client/constants.js';
import { StintError } from '../../errors.js';
import { uuidv7 } from '../../ids.js';
import { readBody } from '../../http/body.js';
import { attestationNonce, type NonceEndpoint } from './nonce.js';
import type { ExchangePipeline } from '../../pipeline/exchange.js';
import type { Introspector } from '../../pipeline/introspect.js';
import type { WorkloadGrants } from '../../pipeline/workload_grants.js';
import type { CredentialRequest } from '../../policy/decision.js';
import type { Logger } from '../../telemetry/logger.js';
import type { BearerAuthenticator } from '../admin_auth.js';
import { toOAuthError } from '../../http/oauth_error.js';
import { sendJson } from '../../http/send_json.js';
import { DEFAULT_LISTENER_LIMITS, httpServerOptions, limitConnections, type ListenerLimits } from '../../net/connections.js';
import { guardHttp } from '../../net/guard.js';

/** Largest accepted request body. */
const MAX_BODY_BYTES = 64 * 1024;

/** What the HTTP transport needs from the service. */
export interface HttpDeps {
  readonly issuer: string;
  readonly pipeline: ExchangePipeline;
  readonly introspector: Introspector;
  /** The introspection clients (resource servers): the only credentials `POST /introspect` takes. */
  readonly introspectionAuth: BearerAuthenticator;
  /** The admin tokens, recognised only to be refused: admin credentials stay off the workload listener. */
  readonly adminAuth?: BearerAuthenticator;
  readonly workloadGrants: WorkloadGrants;
  /** The published keys; may re-read them first (keys another replica created). */
  readonly jwks: () => JSONWebKeySet | Promise<JSONWebKeySet>;
  readonly signingAlgorithms: () => string[];
  readonly metrics: Registry;
  /** Readiness checks: name → ok or a reason. */
  readonly readiness: () => Promise<Record<string, true | string>>;
  /** Where unexpected handler failures are logged. */
  readonly logger?: Logger;
  /** Server nonces for proofs that embed one (POST /attestation/nonce); absent: every kind is refused. */
  readonly attestationNonces?: NonceEndpoint;
}

/** Build the OIDC discovery document of Stint. */
export function discoveryDocument(deps: Pick<HttpDeps, 'issuer' | 'signingAlgorithms'>): Record<string, unknown> {
  const base = deps.issuer.replace(/\/$/, '');
  return {
    issuer: deps.issuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    token_endpoint: `${base}/token`,
    introspection_endpoint: `${base}/introspect`,
    revocation_endpoint: `${base}/revoke`,
    grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: deps.signingAlgorithms(),
    token_endpoint_auth_methods_supported: ['none'],
    introspection_endpoint_auth_methods_supported: ['bearer'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti'],
  };
}

/** Create the HTTP server (not yet listening), with its idle, handshake and per-source limits. */
export function createHttpServer(deps: HttpDeps, tls?: { cert: Buffer; key: Buffer; ca: Buffer | null }, limits: ListenerLimits = DEFAULT_LISTENER_LIMITS): Server {
  // No request can end the process: every failure becomes an OAuth error answer.
  const handler = guardHttp('http', (req, res) => handle(deps, req, res), sendOAuthError, deps.logger);
  // With a client CA, only clients holding a certificate it signed get through the TLS handshake (mTLS).
  const options = httpServerOptions(limits);
  const server: Server = tls
    ? createHttpsServer({ ...options, cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}), minVersion: 'TLSv1.2' }, handler)
    : createServer(options, handler);
  limitConnections(server, limits, (source) => deps.logger?.warn({ listener: 'http', source, maxPerSource: limits.maxPerSource }, 'connection refused: too many from one source'));
  return server;
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const path = url.split('?', 1)[0]!;
  const method = req.method ?? 'GET';
  switch (path) {
    case '/.well-known/openid-configuration':
      if (onlyGet(method, res)) sendJson(res, 200, discoveryDocument(deps), { 'cache-control': 'public, max-age=300' });
      return;
    case '/.well-known/jwks.json':
      if (onlyGet(method, res)) sendJson(res, 200, await deps.jwks(), { 'cache-control': 'public, max-age=60' });
      return;
    case '/token':
      return method === 'POST' ? tokenExchange(deps, req, res) : methodNotAllowed(res, 'POST');
    case '/introspect':
      return method === 'POST' ? introspect(deps, req, res) : methodNotAllowed(res, 'POST');
    case '/revoke':
      return method === 'POST' ? selfRevoke(deps, req, res) : methodNotAllowed(res, 'POST');
    case '/renew':
      return method === 'POST' ? selfRenew(deps, req, res) : methodNotAllowed(res, 'POST');
    case '/grants/status':
      return method === 'POST' ? grantStatus(deps, req, res) : methodNotAllowed(res, 'POST');
    case '/attestation/nonce':
      return attestationNonce(deps.attestationNonces, req, res);
    case '/metrics': {
      if (!onlyGet(method, res)) return;
      const body = await deps.metrics.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.contentType });
      res.end(body);
      return;
    }
    case '/healthz':
      if (onlyGet(method, res)) sendJson(res, 200, { status: 'ok' });
      return;
    case '/readyz': {
      if (!onlyGet(method, res)) return;
      const checks = await deps.readiness();
      const ready = Object.values(checks).every((v) => v === true);
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
    }
    default:
      sendJson(res, 404, { error: 'not_found', error_description: `no route ${path.slice(0, 100)}` });
  }
}

/** POST /token: RFC 8693 token exchange, form-encoded. */
async function tokenExchange(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const single = (name: string): string | undefined => singleParam(form, name);
  const grantType = single('grant_type');
  if (grantType !== TOKEN_EXCHANGE_GRANT) {
    throw new StintError('ERR_INVALID_REQUEST', `grant_type must be ${TOKEN_EXCHANGE_GRANT}`, { field: 'grant_type' });
  }
  const subjectTokenType = single('subject_token_type');
  if (!subjectTokenType) throw new StintError('ERR_INVALID_REQUEST', 'subject_token_type is required', { field: 'subject_token_type' });
  if (form.has('actor_token')) throw new StintError('ERR_INVALID_REQUEST', 'actor_token (delegation) is not supported', { field: 'actor_token' });
  const ttlText = single('ttl_seconds');
  const ttlSeconds = ttlText === undefined ? undefined : Number(ttlText);
  if (ttlText !== undefined && !/^\d{1,8}$/.test(ttlText)) throw new StintError('ERR_INVALID_REQUEST', 'ttl_seconds must be a whole number', { field: 'ttl_seconds' });
  const scope = single('scope');
  const request: CredentialRequest = {
    kind: single('credential_kind') ?? 'stint-jwt',
    audience: single('audience'),
    target: single('resource'),
    ttlSeconds,
    scopes: scope ? scope.split(' ').filter(Boolean) : undefined,
  };
  const result = await deps.pipeline.exchange({
    subjectToken: single('subject_token') ?? '',
    subjectTokenType,
    credentials: [request],
    context: { reason: single('reason'), ticket: single('ticket'), runId: single('run_id') },
    requestId: requestIdOf(req),
    transport: 'http',
    source: req.socket.remoteAddress,
  });
  const issued = result.issued[0]!;
  const cred = issued.credential;
  sendJson(
    res,
    200,
    {
      access_token: cred.token,
      issued_token_type: cred.tokenType,
      token_type: 'Bearer',
      expires_in: Math.max(0, cred.expiresAt - issued.grant.issuedAt),
      ...(issued.granted.scopes.length ? { scope: issued.granted.scopes.join(' ') } : {}),
      credential_kind: cred.kind,
      grant_id: issued.grant.id,
      expires_at: new Date(cred.expiresAt * 1000).toISOString(),
      renew_after: new Date(cred.renewAfter * 1000).toISOString(),
      ttl_seconds: issued.granted.ttlSeconds,
      ttl_capped: issued.granted.ttlCapped,
      renewable: issued.renewable,
      rule: result.rule,
      ...(Object.keys(cred.fields).length ? { fields: cred.fields, secret_fields: cred.secretFields } : {}),
    },
    { 'cache-control': 'no-store', pragma: 'no-cache', 'x-request-id': result.requestId },
  );
}

/** POST /introspect: RFC 7662, the caller a resource server authenticated by its introspection credential. */
async function introspect(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (deps.adminAuth?.match(req.headers.authorization)) {
    throw new StintError('ERR_ADMIN_UNAUTHENTICATED', 'an admin credential is not accepted on the workload listener: introspection takes an introspection client credential (introspection.clients)', { reason: 'admin_credential_refused' });
  }
  deps.introspectionAuth.authenticate(req.headers.authorization);
  const form = await readForm(req);
  const token = form.get('token');
  if (!token) throw new StintError('ERR_INVALID_REQUEST', 'token is required', { field: 'token' });
  sendJson(res, 200, await deps.introspector.introspect(token), { 'cache-control': 'no-store' });
}

/** The subject token of a /revoke or /renew form: its RFC 8693 type (default jwt) and value. */
function subjectTokenOf(form: URLSearchParams): { type: string; value: string } {
  return { type: singleParam(form, 'subject_token_type') || JWT_TOKEN_TYPE, value: singleParam(form, 'subject_token') ?? '' };
}

/** POST /revoke: a workload revokes its own grant, proving its identity with a fresh subject token. */
async function selfRevoke(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const result = await deps.workloadGrants.revoke(subjectTokenOf(form), singleParam(form, 'grant_id') ?? '', singleParam(form, 'reason') ?? '');
  sendJson(res, 200, { revoked: result.grants.map((g) => ({ grant_id: g.id, state: g.state })), notes: result.notes }, { 'cache-control': 'no-store' });
}

/** POST /renew: a workload extends its own grant in place where the upstream allows (Vault lease, PostgreSQL role). */
async function selfRenew(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const ttlText = singleParam(form, 'ttl_seconds');
  if (ttlText !== undefined && !/^\d{1,8}$/.test(ttlText)) throw new StintError('ERR_INVALID_REQUEST', 'ttl_seconds must be a whole number', { field: 'ttl_seconds' });
  const { grant, renewAfter } = await deps.workloadGrants.renew(subjectTokenOf(form), singleParam(form, 'grant_id') ?? '', ttlText === undefined ? undefined : Number(ttlText));
  sendJson(res, 200, { grant_id: grant.id, expires_at: new Date(grant.expiresAt * 1000).toISOString(), renew_after: new Date(renewAfter * 1000).toISOString() }, { 'cache-control': 'no-store' });
}

/** POST /grants/status: is the caller's own grant still to be served (a sidecar polls this to learn of a revocation within seconds)? */
async function grantStatus(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const s = await deps.workloadGrants.status(subjectTokenOf(form), singleParam(form, 'grant_id') ?? '');
  sendJson(res, 200, { grant_id: s.grantId, state: s.state, quarantined: s.quarantined, expires_at: new Date(s.expiresAt * 1000).toISOString() }, { 'cache-control': 'no-store' });
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(req, { contentType: 'application/x-www-form-urlencoded', maxBytes: MAX_BODY_BYTES, tooLargeCode: 'ERR_INVALID_REQUEST' });
  return new URLSearchParams(body.toString('utf8'));
}

/**
 * A form parameter given at most once (RFC 6749 §3.2: parameters must not be repeated; parsers
 * disagree on which copy wins, so a repeated one is refused, never picked); empty is absent.
 */
function singleParam(form: URLSearchParams, name: string): string | undefined {
  const all = form.getAll(name);
  if (all.length > 1) throw new StintError('ERR_INVALID_REQUEST', `parameter ${name} must be given at most once`, { field: name });
  return all[0] || undefined;
}

/** The caller's X-Request-Id when it is sane, else a UUIDv7 (the same kind gRPC requests get). */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : uuidv7();
}

function onlyGet(method: string, res: ServerResponse): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  methodNotAllowed(res, 'GET');
  return false;
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  sendJson(res, 405, { error: 'invalid_request', error_description: `method not allowed; use ${allow}` }, { allow });
}

function sendOAuthError(res: ServerResponse, err: unknown): void {
  const { status, body } = toOAuthError(err);
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (status === 401) headers['www-authenticate'] = 'Bearer error="invalid_token"';
  if (status === 503 || status === 429) headers['retry-after'] = body.retry_after ?? '5';
  sendJson(res, status, body, headers);
}
