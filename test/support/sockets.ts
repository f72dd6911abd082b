/** Raw TCP sockets for listener tests: open one (from a chosen loopback address) and wait for the server to close it. */
import { connect, type Socket } from 'node:net';

/** Open a TCP connection to 127.0.0.1:`port` (from `localAddress`), resolved once connected. */
export function openSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the server has closed the socket (end or close, whichever first). */
export function closedByServer(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    s.on('error', () => undefined);
    s.resume();
    if (s.destroyed || s.readableEnded) return resolve();
    s.once('end', () => resolve());
    s.once('close', () => resolve());
  });
}
