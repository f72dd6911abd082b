import { isIPv4 } from 'node:net';

/** True for a loopback host as URL.hostname spells it: `localhost`, 127.0.0.0/8 or `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]' || hostname === '::1') return true;
  return isIPv4(hostname) && hostname.split('.')[0] === '127';
}
