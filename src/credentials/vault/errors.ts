/**
 * Vault failures as Stint errors. `upstreamCode` is one of a few fixed strings (it becomes a
 * metric label): Vault's own words where it has stable ones (`permission denied`,
 * `Vault is sealed`, `rate limit quota exceeded`, `lease not found`), else `HTTP <status>` or the
 * network error code. The message carries Vault's first error line, cut short; Vault's error
 * bodies never hold tokens or secret data, and the raw client error (whose request config holds
 * the token) is never attached.
 */
import { StintError, UpstreamError } from '../../errors.js';
import { classifyHttpStatus, isNetworkError } from '../../upstream/classify.js';
import { safeUpstreamMessage } from '../../upstream/safe_message.js';

/** node-vault's error for a non-2xx answer. */
export interface ApiResponseError extends Error {
  readonly response: { readonly statusCode: number; readonly body: unknown };
}

/** Is this node-vault's ApiResponseError (Vault answered with a non-200/204 status)? */
export function isApiResponseError(err: unknown): err is ApiResponseError {
  const response = (err as { response?: unknown } | null)?.response;
  return err instanceof Error && typeof response === 'object' && response !== null && typeof (response as { statusCode?: unknown }).statusCode === 'number';
}

/** The `errors` strings of a Vault error body ([] when none or not JSON). */
export function vaultMessages(err: ApiResponseError): string[] {
  const errors = (err.response.body as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string') : [];
}

/** The stable upstream codes, by what Vault said. */
const KNOWN_CODES: readonly [RegExp, string][] = [
  [/permission denied/i, 'permission denied'],
  [/vault is sealed/i, 'Vault is sealed'],
  [/rate limit quota exceeded/i, 'rate limit quota exceeded'],
  [/node not active|standby/i, 'standby'],
  [/role .* could not be found/i, 'role not found'],
  [/error validating (token|claims)|does not match bound|claim .* not found|invalid audience/i, 'invalid jwt'],
  [/lease is not renewable/i, 'lease is not renewable'],
  [/lease not found|invalid lease/i, 'lease not found'],
];

/** The bounded upstream code of a Vault error answer. */
export function upstreamCodeOf(status: number, messages: readonly string[]): string {
  for (const message of messages) {
    for (const [pattern, code] of KNOWN_CODES) if (pattern.test(message)) return code;
  }
  return `HTTP ${status}`;
}

/** Turn whatever node-vault threw into a StintError. */
export function classifyVaultError(kind: string, operation: string, err: unknown): StintError {
  if (err instanceof StintError) return err;
  if (isApiResponseError(err)) {
    const status = err.response.statusCode;
    const messages = vaultMessages(err);
    const code = upstreamCodeOf(status, messages);
    const said = messages.length > 0 ? `: ${safeUpstreamMessage(messages[0]!)}` : '';
    const message = `vault: ${operation} failed: HTTP ${status}${said}`;
    // 412: a performance standby has not caught up yet (Enterprise); retry.
    if (status === 412) return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', kind, code, message, { retryAfterSeconds: 1 });
    return classifyHttpStatus(kind, status, code, message);
  }
  const code = (err as { code?: unknown } | null)?.code;
  const name = typeof code === 'string' && /^[A-Z0-9_]{2,64}$/.test(code) ? code : 'NetworkError';
  if (isNetworkError(err)) {
    return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', kind, name, `vault: ${operation} failed: cannot reach Vault (${name})`, { retryAfterSeconds: 5 });
  }
  return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'MalformedResponse', `vault: ${operation} failed: unexpected client error (${name})`);
}

