/**
 * The checks of a signed sts:GetCallerIdentity request before Stint forwards it (aws-iam): the
 * envelope's shape, the host against Stint's allowlist, the allowlisted headers, the
 * `X-Stint-Server-ID` header inside SigV4's SignedHeaders, `X-Amz-Date` within 15 minutes, and
 * only `Action=GetCallerIdentity` (and `Version`), each parameter once. Nothing here trusts the
 * request's URL to pick where it goes: the caller forwards to the matched configured endpoint.
 */
import { StintError, TokenError, type ErrorCode } from '../../errors.js';
import { parseStrictJson, StrictJsonError } from '../jwt/strict_json.js';

/** The header that binds a signed request to one Stint deployment. */
export const SERVER_ID_HEADER = 'x-stint-server-id';
/** How far in the past a signature is accepted: SigV4's own validity. */
export const SIGNATURE_VALIDITY_SECONDS = 15 * 60;
/** Headers a request may carry (lower case); any other is refused. */
export const ALLOWED_HEADERS: ReadonlySet<string> = new Set([
  'host', 'authorization', 'content-type', 'content-length', 'accept', 'user-agent',
  'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', SERVER_ID_HEADER,
]);
const REQUIRED_SIGNED = ['host', 'x-amz-date', SERVER_ID_HEADER];
const ALLOWED_PARAMS: Readonly<Record<string, string | null>> = { Action: 'GetCallerIdentity', Version: '2011-06-15' };
const ENVELOPE_MEMBERS = ['method', 'url', 'headers', 'body'];
const AMZ_DATE = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/;
const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]{16,128})\/(\d{8})\/([a-z0-9-]{1,32})\/sts\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** A request that passed every local check, ready to forward. */
export interface CheckedRequest {
  /** Index of the configured endpoint whose host the request names. */
  readonly endpoint: number;
  /** Path and query to forward, exactly as signed. */
  readonly pathAndQuery: string;
  /** Headers to forward (lower-case names, allowlisted), `accept` forced to JSON. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Epoch seconds of `X-Amz-Date`. */
  readonly signedAt: number;
  readonly accessKeyId: string;
}

/** What the checks need from the configuration. */
export interface RequestRules {
  readonly serverId: string;
  /** Hosts (`host[:port]` as in a URL) of the configured endpoints, in order. */
  readonly hosts: readonly string[];
  readonly nowSeconds: number;
  readonly clockSkew: number;
  readonly fingerprint: string;
}

function fail(code: ErrorCode, reason: string, message: string, fp: string, extra: Record<string, unknown> = {}): never {
  throw new TokenError(code, message, { reason, fingerprint: fp, ...extra });
}

/** Decode the envelope (JSON, or base64 / base64url of it) and run every check; throws TokenError. */
export function checkSignedRequest(value: string, rules: RequestRules): CheckedRequest {
  const fp = rules.fingerprint;
  const text = decodeEnvelopeText(value, fp);
  let parsed: unknown;
  try {
    parsed = parseStrictJson(text, 4);
  } catch (e) {
    if (e instanceof StrictJsonError && e.reason === 'duplicate_member') fail('ERR_TOKEN_DUPLICATE_MEMBER', 'duplicate_member', 'the request envelope repeats a member (header names count case-insensitively)', fp);
    fail('ERR_TOKEN_MALFORMED', 'envelope_not_json', 'the request envelope is not JSON', fp);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail('ERR_TOKEN_MALFORMED', 'envelope_not_object', 'the request envelope is not a JSON object', fp);
  const o = parsed as Record<string, unknown>;
  if (Object.keys(o).length !== ENVELOPE_MEMBERS.length || !ENVELOPE_MEMBERS.every((k) => k in o)) {
    fail('ERR_TOKEN_MALFORMED', 'envelope_members', `the request envelope must have exactly the members ${ENVELOPE_MEMBERS.join(', ')}`, fp);
  }
  if (o['method'] !== 'POST') fail('ERR_TOKEN_MALFORMED', 'method_not_allowed', 'the request must be a POST', fp);
  if (typeof o['url'] !== 'string' || typeof o['body'] !== 'string' || o['headers'] === null || typeof o['headers'] !== 'object' || Array.isArray(o['headers'])) {
    fail('ERR_TOKEN_MALFORMED', 'envelope_members', 'url and body must be strings and headers an object', fp);
  }

  let url: URL;
  try {
    url = new URL(o['url'] as string);
  } catch {
    return fail('ERR_TOKEN_MALFORMED', 'url_invalid', 'the request URL does not parse', fp);
  }
  const endpoint = rules.hosts.indexOf(url.host);
  if (endpoint < 0 || url.username !== '' || url.password !== '' || url.hash !== '') {
    fail('ERR_TOKEN_ISSUER_UNKNOWN', 'sts_host_not_allowed', 'the request is not addressed to an STS endpoint Stint forwards to', fp);
  }
  if (url.pathname !== '/') fail('ERR_TOKEN_CLAIM_INVALID', 'path_not_allowed', 'the request path must be /', fp);

  // Headers: allowlisted names only, each once whatever its case, string values.
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(o['headers'] as Record<string, unknown>)) {
    const lower = name.toLowerCase();
    if (typeof v !== 'string' || /[\r\n\0]/.test(v)) fail('ERR_TOKEN_MALFORMED', 'header_invalid', `header ${lower} must be a one-line string`, fp);
    if (lower in headers) fail('ERR_TOKEN_DUPLICATE_MEMBER', 'duplicate_header', `header ${lower} appears twice`, fp, { field: lower });
    if (!ALLOWED_HEADERS.has(lower)) fail('ERR_TOKEN_HEADER_FORBIDDEN', 'header_not_allowed', `header ${lower.slice(0, 64)} is not forwarded to STS`, fp, { field: lower.slice(0, 64) });
    headers[lower] = v as string;
  }
  if (headers['host'] !== undefined && headers['host'] !== url.host) fail('ERR_TOKEN_ISSUER_UNKNOWN', 'sts_host_not_allowed', 'the Host header differs from the request URL', fp);
  headers['host'] = url.host;

  // SigV4: the server id must be among the signed headers, with Stint's value.
  const auth = headers['authorization'];
  const m = auth === undefined ? null : AUTHORIZATION.exec(auth);
  if (!m) fail('ERR_TOKEN_MALFORMED', 'authorization_invalid', 'the request has no AWS4-HMAC-SHA256 Authorization header for sts', fp);
  const signed = m![4]!.split(';');
  if (headers[SERVER_ID_HEADER] === undefined) fail('ERR_TOKEN_AUDIENCE_INVALID', 'server_id_missing', 'the request carries no X-Stint-Server-ID header', fp);
  if (!signed.includes(SERVER_ID_HEADER)) fail('ERR_TOKEN_AUDIENCE_INVALID', 'server_id_unsigned', 'X-Stint-Server-ID is not among the signed headers', fp);
  if (headers[SERVER_ID_HEADER] !== rules.serverId) fail('ERR_TOKEN_AUDIENCE_INVALID', 'server_id_mismatch', 'the request was signed for another server id', fp);
  for (const h of REQUIRED_SIGNED) if (!signed.includes(h)) fail('ERR_TOKEN_MALFORMED', 'header_unsigned', `header ${h} must be signed`, fp, { field: h });
  for (const h of signed) if (headers[h] === undefined) fail('ERR_TOKEN_MALFORMED', 'header_unsigned', `signed header ${h.slice(0, 64)} is missing`, fp, { field: h.slice(0, 64) });

  // Time: X-Amz-Date within the signature's 15 minutes, not in the future.
  const date = headers['x-amz-date'];
  const d = date === undefined ? null : AMZ_DATE.exec(date);
  if (!d) fail('ERR_TOKEN_MALFORMED', 'amz_date_invalid', 'X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ', fp);
  const signedAt = Date.UTC(+d![1]!, +d![2]! - 1, +d![3]!, +d![4]!, +d![5]!, +d![6]!) / 1000;
  if (!Number.isFinite(signedAt) || m![2] !== date!.slice(0, 8)) fail('ERR_TOKEN_MALFORMED', 'amz_date_invalid', 'X-Amz-Date differs from the credential scope date', fp);
  if (signedAt < rules.nowSeconds - SIGNATURE_VALIDITY_SECONDS) fail('ERR_TOKEN_EXPIRED', 'signature_expired', 'the request was signed more than 15 minutes ago', fp);
  if (signedAt > rules.nowSeconds + rules.clockSkew) fail('ERR_TOKEN_NOT_YET_VALID', 'signature_in_future', 'X-Amz-Date is in the future', fp);

  // Parameters: the query and the form body together, each allowlisted parameter once.
  const seen = new Map<string, string>();
  const take = (params: URLSearchParams): void => {
    for (const [k, v] of params) {
      if (seen.has(k)) fail('ERR_TOKEN_DUPLICATE_MEMBER', 'duplicate_parameter', `parameter ${k.slice(0, 64)} appears twice`, fp, { field: k.slice(0, 64) });
      if (!(k in ALLOWED_PARAMS)) fail('ERR_TOKEN_CLAIM_INVALID', 'parameter_not_allowed', `parameter ${k.slice(0, 64)} is not allowed`, fp, { field: k.slice(0, 64) });
      seen.set(k, v);
    }
  };
  take(url.searchParams);
  const body = o['body'] as string;
  const contentType = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (body !== '' && contentType !== 'application/x-www-form-urlencoded') fail('ERR_TOKEN_MALFORMED', 'content_type', 'the body must be application/x-www-form-urlencoded', fp);
  if (body !== '') take(new URLSearchParams(body));
  if (seen.get('Action') !== 'GetCallerIdentity') fail('ERR_TOKEN_CLAIM_INVALID', 'action_not_allowed', 'only Action=GetCallerIdentity is forwarded', fp);
  if (seen.has('Version') && seen.get('Version') !== ALLOWED_PARAMS['Version']) fail('ERR_TOKEN_CLAIM_INVALID', 'parameter_not_allowed', 'Version must be 2011-06-15', fp);

  headers['accept'] = 'application/json';
  headers['content-length'] = String(Buffer.byteLength(body, 'utf8'));
  return { endpoint, pathAndQuery: `/${url.search}`, headers, body, signedAt, accessKeyId: m![1]! };
}

function decodeEnvelopeText(value: string, fp: string): string {
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) return trimmed;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) fail('ERR_TOKEN_MALFORMED', 'envelope_encoding', 'the request envelope is neither JSON nor base64 of it', fp);
  const text = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  if (!text.startsWith('{')) fail('ERR_TOKEN_MALFORMED', 'envelope_encoding', 'the request envelope is neither JSON nor base64 of it', fp);
  return text;
}

/** The identity STS answered, from the strictly parsed JSON. */
export interface CallerIdentity {
  readonly account: string;
  readonly arn: string;
  readonly userId: string;
}

/**
 * Parse STS's GetCallerIdentity JSON answer strictly: exactly
 * `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account","Arn","UserId"},"ResponseMetadata":{"RequestId"}}}`,
 * no duplicate or extra member (Vault CVE-2020-16250/16251 trusted a lenient parse).
 */
export function parseCallerIdentity(contentType: string | undefined, text: string): CallerIdentity {
  const bad = (why: string): never => {
    throw new StintError('ERR_UPSTREAM_BAD_RESPONSE', `STS answered GetCallerIdentity with ${why}`, { reason: 'sts_response_invalid' });
  };
  if ((contentType ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/json') bad('a body that is not JSON');
  let parsed: unknown;
  try {
    parsed = parseStrictJson(text, 6);
  } catch {
    return bad('JSON that does not parse strictly');
  }
  const exact = (v: unknown, keys: readonly string[]): Record<string, unknown> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad('an unexpected shape');
    const o = v as Record<string, unknown>;
    const have = Object.keys(o);
    if (have.length !== keys.length || !keys.every((k) => have.includes(k))) bad('unexpected members');
    return o;
  };
  const response = exact(exact(parsed, ['GetCallerIdentityResponse'])['GetCallerIdentityResponse'], ['GetCallerIdentityResult', 'ResponseMetadata']);
  exact(response['ResponseMetadata'], ['RequestId']);
  const result = exact(response['GetCallerIdentityResult'], ['Account', 'Arn', 'UserId']);
  const [account, arn, userId] = [result['Account'], result['Arn'], result['UserId']];
  if (typeof account !== 'string' || typeof arn !== 'string' || typeof userId !== 'string') return bad('non-string identity members');
  return { account, arn, userId };
}
