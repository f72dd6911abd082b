/**
 * Classifying upstream failures: which are network-level (try again) and what an upstream's HTTP
 * status means, one rule for every provider, attestor and store that calls out.
 */
import { UpstreamError } from '../errors.js';

/**
 * Network-level failures become ERR_UPSTREAM_UNAVAILABLE: refused, reset, timed out, DNS, and TLS
 * (an untrusted, expired or mismatched certificate: the upstream cannot be reached safely), as
 * node:net/tls, undici, axios (node-vault) and node-fetch (the Kubernetes client) name them.
 */
export function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const name = (err as { name?: unknown } | null)?.name;
  return (
    (typeof code === 'string' && NETWORK_CODES.test(code)) ||
    name === 'AbortError' ||
    name === 'TimeoutError'
  );
}

const NETWORK_CODES =
  /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ERR_NETWORK|UND_ERR_\w+|ERR_SOCKET\w*|ERR_TLS_\w+|ERR_SSL_\w+|CERT_\w+|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_\w+|HOSTNAME_MISMATCH)$/;

/** Classify an HTTP status from an upstream: 429/5xx transient, 401/403 refusal, else bad response. */
export function classifyHttpStatus(kind: string, status: number, upstreamCode: string, message: string, retryAfterSeconds?: number): UpstreamError {
  if (status === 429 || status >= 500) {
    return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', kind, upstreamCode, message, { retryAfterSeconds: retryAfterSeconds ?? (status === 429 ? 10 : 5) });
  }
  if (status === 401 || status === 403 || status === 404 || status === 400) return new UpstreamError('ERR_UPSTREAM_DENIED', kind, upstreamCode, message);
  return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, upstreamCode, message);
}
