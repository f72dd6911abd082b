import { isLoopbackHost } from '../../net/is_loopback.js';

/**
 * Why a discovery or JWKS URL is unacceptable, or null when it is fine: it must be https,
 * except on a loopback host where http is allowed, and carry no credentials or fragment.
 */
export function endpointUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  if (url.hash !== '') return 'must not carry a fragment';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  if (url.protocol === 'http:') return 'must use https (plain http is allowed on loopback hosts only)';
  return `unsupported scheme ${url.protocol}`;
}
