/**
 * Endpoint URLs Stint calls (discovery and JWKS documents, cloud metadata and STS endpoints, Google
 * APIs): https, or plain http on a loopback host only (tests, local proxies), never credentials or
 * a fragment in the URL. One check for the attestors and the providers.
 */
import { isLoopbackHost } from './is_loopback.js';

/**
 * Why an endpoint URL is unacceptable, or null when it is fine. With `allowQuery: false` a query
 * string is refused too (endpoints whose paths Stint appends to).
 */
export function endpointUrlProblem(value: string, options: { readonly allowQuery?: boolean } = {}): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  if (options.allowQuery === false) {
    if (url.hash !== '' || url.search !== '') return 'must not carry a query or fragment';
  } else if (url.hash !== '') return 'must not carry a fragment';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  if (url.protocol === 'http:') return 'must use https (plain http is allowed on loopback hosts only)';
  return `unsupported scheme ${url.protocol}`;
}
