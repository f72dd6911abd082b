/** Drive the real `stint` program (built into dist/) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** Repository root. */
export const ROOT = resolve(import.meta.dirname, '../..');
/** Built CLI entry point. */
export const STINT_BIN = resolve(ROOT, 'dist/src/cli/main.js');

/** A running child with captured output. */
export interface RunningProgram {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Wait until the combined output matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
}

/** Start `stint ARGS...` in the background. */
export function startProgram(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunningProgram {
  const child = spawn(process.execPath, [STINT_BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    waiters.forEach((w) => w());
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    waiters.forEach((w) => w());
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolveMatch, reject) => {
        const check = (): boolean => {
          const m = (out + err).match(pattern);
          if (m) {
            resolveMatch(m);
            return true;
          }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => reject(new Error(`timeout waiting for ${pattern}\nstdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
        waiters.push(() => {
          if (check()) clearTimeout(timer);
        });
        void exited.then((code) => {
          if (!check()) {
            clearTimeout(timer);
            reject(new Error(`program exited (${code}) before ${pattern}\nstdout:\n${out}\nstderr:\n${err}`));
          }
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Run `stint ARGS...` to completion. */
export function runStint(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [STINT_BIN, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
