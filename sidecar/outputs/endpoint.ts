/**
 * What the loopback endpoint outputs (aws-container, gcp-metadata) share: a guarded listener
 * started and stopped with the output, and the value it serves, held from publish until the
 * credential expires or is withdrawn. Each kind adds only what it serves and how it answers.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { HeldCredential } from '../credential.js';
import { close, listen } from './listen.js';
import type { Output, OutputDeps } from './output.js';

/** The value an endpoint serves, while its credential has not expired. */
export interface ServedValue<T> {
  readonly value: T;
  /** The credential's expiry, epoch milliseconds. */
  readonly expiresAt: number;
  /** The time of the check, epoch milliseconds. */
  readonly now: number;
}

/** The parts of an endpoint output that differ by kind. */
export interface EndpointParts<T> {
  readonly type: string;
  /** Human-readable location for logs. */
  readonly where: string;
  /** The listen address, `host:port` on loopback. */
  readonly listen: string;
  /** What the endpoint serves of a fresh credential (it may throw on a missing value). */
  serve(cred: HeldCredential): T;
  /** Answer one request; `served()` is the unexpired value, or null when there is none. */
  handle(req: IncomingMessage, res: ServerResponse, served: () => ServedValue<T> | null): unknown;
  /** Work before the listener starts (files the application reads). */
  beforeStart?(): Promise<void>;
  /** Variables an exec-mode child gets. */
  env(): Record<string, string>;
}

/** Build an endpoint output from its kind's parts. */
export function createEndpointOutput<T>(p: EndpointParts<T>, deps: OutputDeps): Output {
  let value: T | null = null;
  let expiresAt = 0;
  let server: Server | null = null;
  const served = (): ServedValue<T> | null => {
    const now = deps.now();
    return value === null || expiresAt <= now ? null : { value, expiresAt, now };
  };
  return {
    type: p.type,
    where: p.where,
    async start() {
      await p.beforeStart?.();
      server = await listen(p.listen, (req, res) => p.handle(req, res, served), { log: deps.log, name: p.type });
    },
    async publish(cred: HeldCredential) {
      value = p.serve(cred);
      expiresAt = cred.expiresAt;
    },
    async withdraw() {
      value = null;
      expiresAt = 0;
    },
    async stop() {
      await close(server);
      server = null;
    },
    env: () => p.env(),
  };
}
