/**
 * Turn what google-auth-library (gaxios) throws into an UpstreamError: Google's own code
 * (`error.status` such as PERMISSION_DENIED, or the OAuth `error` such as invalid_grant) becomes
 * `upstreamCode`; 429/5xx and network failures are ERR_UPSTREAM_UNAVAILABLE with a Retry-After
 * hint; refusals ERR_UPSTREAM_DENIED; a success status with a body the library could not use,
 * ERR_UPSTREAM_BAD_RESPONSE. Messages carry Google's explanation with anything token-like removed.
 * The library's error is never attached as `cause`: its request config holds bearer tokens,
 * refresh tokens and subject tokens, and a logger serializing causes would print them.
 */
import { StintError, UpstreamError } from '../../errors.js';
import { classifyHttpStatus, isNetworkError } from '../../upstream/classify.js';
import { safeUpstreamMessage } from '../../upstream/safe_message.js';

/** Which Google call failed, for the message. */
export type GcpStage = 'source-credentials' | 'sts' | 'iam' | 'upstream';

const STAGE_NAMES: Record<GcpStage, string> = {
  'source-credentials': "token refresh of Stint's own Google credentials",
  sts: 'STS token exchange',
  iam: 'IAM Credentials generateAccessToken',
  upstream: 'Google call',
};

interface HttpLikeError {
  readonly status?: unknown;
  readonly code?: unknown;
  readonly cause?: unknown;
  readonly error?: unknown;
  readonly config?: { readonly url?: unknown };
  readonly response?: { readonly status?: unknown; readonly data?: unknown; readonly headers?: unknown; readonly config?: { readonly url?: unknown } };
}

/** Where the failed request went (the URL gaxios recorded), or null. */
export function failedUrl(err: unknown): string | null {
  const e = err as HttpLikeError | null;
  const url = e?.config?.url ?? e?.response?.config?.url;
  return url === undefined || url === null ? null : String(url);
}

/** Classify a failure of one Google call made through google-auth-library. */
export function classifyGcpError(kind: string, stage: GcpStage, err: unknown): StintError {
  if (err instanceof StintError) return err;
  const e = (err ?? {}) as HttpLikeError;
  const name = STAGE_NAMES[stage];
  const status = typeof e.response?.status === 'number' ? e.response.status : typeof e.status === 'number' ? e.status : undefined;
  if (status === undefined) {
    const network = [err, e.cause, e.error].find((x) => isNetworkError(x) || isNetworkError((x as { cause?: unknown } | null)?.cause));
    if (network !== undefined) {
      const code = networkCode(network);
      return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', kind, code, `${kind}: ${name} failed: ${code}`, { retryAfterSeconds: 5 });
    }
    const local = localFileError(err);
    if (local) return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', kind, local, `${kind}: ${name} failed: a local credential source could not be read (${local})`, { retryAfterSeconds: 30 });
    return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'MALFORMED_RESPONSE', `${kind}: ${name} returned a response the Google client could not use`);
  }
  if (status >= 200 && status < 300) {
    return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'MALFORMED_RESPONSE', `${kind}: ${name} returned HTTP ${status} with a malformed body`);
  }
  const { code, message } = googleErrorOf(e.response?.data);
  const upstreamCode = code ?? `HTTP_${status}`;
  const detail = message ? ` (${safeUpstreamMessage(message)})` : '';
  const verb = status === 429 || status >= 500 ? 'unavailable' : 'refused';
  return classifyHttpStatus(kind, status, upstreamCode, `${kind}: ${name} ${verb}: ${upstreamCode}${detail}`, retryAfterOf(e.response?.headers));
}

/** Google's error code and message from a JSON error body (Google or OAuth shape). */
export function googleErrorOf(data: unknown): { code?: string; message?: string } {
  let body = data;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      return {};
    }
  }
  if (!body || typeof body !== 'object') return {};
  const error = (body as { error?: unknown }).error;
  if (error && typeof error === 'object') {
    const { status, message } = error as { status?: unknown; message?: unknown };
    return { ...(isCode(status) ? { code: status } : {}), ...(typeof message === 'string' ? { message } : {}) };
  }
  const description = (body as { error_description?: unknown }).error_description;
  return { ...(isCode(error) ? { code: error } : {}), ...(typeof description === 'string' ? { message: description } : {}) };
}

function isCode(v: unknown): v is string {
  return typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(v);
}

/** The code of a file system error (a credential source file that is missing or unreadable), or null. */
function localFileError(err: unknown): string | null {
  const e = err as { code?: unknown; syscall?: unknown } | null;
  return typeof e?.code === 'string' && typeof e.syscall === 'string' && /^E[A-Z]{2,20}$/.test(e.code) ? e.code : null;
}

function networkCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown; name?: unknown } } | null;
  for (const v of [e?.code, e?.cause?.code, e?.name, e?.cause?.name]) if (typeof v === 'string' && /^[A-Za-z_]\w{0,40}$/.test(v) && v !== 'Error') return v;
  return 'NETWORK_ERROR';
}

/** Seconds from a Retry-After header (delta-seconds or HTTP date), if any. */
function retryAfterOf(headers: unknown): number | undefined {
  let value: unknown;
  if (headers && typeof (headers as { get?: unknown }).get === 'function') value = (headers as { get(n: string): unknown }).get('retry-after');
  else if (headers && typeof headers === 'object') value = (headers as Record<string, unknown>)['retry-after'];
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d{1,6}$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(1, Math.ceil((at - Date.now()) / 1000)) : undefined;
}

