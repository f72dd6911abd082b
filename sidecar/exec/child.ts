/**
 * The child of `stint-sidecar exec -- CMD ARGS...`: started with credentials in its environment,
 * restarted or signalled on rotation, sent every forwarded signal; its exit status is the
 * sidecar's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Logger } from '../log.js';

/** Signals passed on to the child. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Shell-style exit status of a child: its code, or 128 + the signal number. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? constants.signals[signal] : undefined;
  return 128 + (n ?? 1);
}

/** Runs and supervises the application. */
export class Supervisor {
  readonly #command: readonly string[];
  readonly #env: () => NodeJS.ProcessEnv;
  readonly #log: Logger;
  readonly #gracePeriod: number;
  #child: ChildProcess | null = null;
  #restarting = false;
  #done!: (status: number) => void;
  /** Resolves with the exit status of the child once it exits other than by a restart. */
  readonly finished: Promise<number>;

  constructor(command: readonly string[], env: () => NodeJS.ProcessEnv, log: Logger, gracePeriod: number) {
    this.#command = command;
    this.#env = env;
    this.#log = log;
    this.#gracePeriod = gracePeriod;
    this.finished = new Promise((r) => (this.#done = r));
  }

  /** Start the child. */
  start(): void {
    const [file, ...args] = this.#command;
    const child = spawn(file!, args, { env: this.#env(), stdio: 'inherit' });
    this.#child = child;
    child.once('error', (e: NodeJS.ErrnoException) => {
      this.#log.log('error', 'cannot start the command', { command: file, error: e.code ?? e.message });
      if (this.#child === child) this.#done(e.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => {
      if (this.#child !== child || this.#restarting) return;
      const status = exitStatus(code, signal);
      this.#log.log('info', 'command exited', { command: file, status, signal });
      this.#done(status);
    });
    this.#log.log('info', 'command started', { command: file, pid: child.pid });
  }

  /** Send a signal to the child. */
  signal(sig: NodeJS.Signals): void {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(sig);
  }

  /** Stop the child (SIGTERM, SIGKILL after the grace period) and start it again with a fresh environment. */
  async restart(): Promise<void> {
    const child = this.#child;
    if (!child || this.#restarting) return;
    this.#restarting = true;
    try {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), this.#gracePeriod);
        await exited;
        clearTimeout(timer);
      }
      this.#log.log('info', 'restarting the command with fresh credentials');
      this.start();
    } finally {
      this.#restarting = false;
    }
  }
}
