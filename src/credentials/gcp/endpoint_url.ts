/** Endpoint URLs of Google services: https, or plain http on a loopback host (tests, local proxies). */
import { isLoopbackHost } from '../../net/is_loopback.js';

/** Why an endpoint URL is unacceptable, or null when it is fine. */
export function endpointUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  if (url.hash !== '' || url.search !== '') return 'must not carry a query or fragment';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  if (url.protocol === 'http:') return 'must use https (plain http is allowed on loopback hosts only)';
  return `unsupported scheme ${url.protocol}`;
}

