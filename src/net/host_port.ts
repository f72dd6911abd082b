/**
 * Listen addresses (`host:port`, `[v6]:port`): the one grammar, split and loopback check for the
 * service's, the webhook's and the sidecar's listeners. Dependency-free: the sidecar imports it.
 */
import { isLoopbackHost } from './is_loopback.js';

/** A listen address: `host:port` or `[v6]:port`. */
export const HOST_PORT = /^[^\s:]*:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/;

/** Split `host:port` (`[::1]:80` too: the brackets are removed). */
export function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

/** True for `host:port` on a loopback host (127.0.0.0/8, `localhost`, `[::1]`) with a port of at most five digits. */
export function isLoopbackHostPort(hostPort: string): boolean {
  if (!HOST_PORT.test(hostPort) || !/:\d{1,5}$/.test(hostPort)) return false;
  return isLoopbackHost(splitHostPort(hostPort).host);
}
