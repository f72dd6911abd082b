/** The seam every output kind implements: one file per kind in this folder, loaded only when configured. */
import type { HeldCredential } from '../credential.js';
import type { Logger } from '../log.js';

/** One place where a credential is kept for the application. */
export interface Output {
  /** The output type (a bounded metric label). */
  readonly type: string;
  /** Human-readable location for logs (a path or a URL, never a value). */
  readonly where: string;
  /** Bind listeners, write static files (before the first credential). */
  start?(): Promise<void>;
  /** Put a fresh credential in place (atomically). */
  publish(cred: HeldCredential): Promise<void>;
  /** Remove an expired credential: the application must not find it any more. */
  withdraw(): Promise<void>;
  /** Release listeners. */
  stop?(): Promise<void>;
  /** Variables an exec-mode child gets from this output. */
  env?(): Record<string, string>;
}

/** What output factories receive. */
export interface OutputDeps {
  readonly log: Logger;
  /** Epoch milliseconds. */
  readonly now: () => number;
}
