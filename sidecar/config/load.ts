/**
 * Load the sidecar configuration: parsed and validated by a short-lived child process (see
 * check.ts), so the YAML parser and zod never occupy the long-running sidecar's memory (~10 MiB
 * resident when run in-process, measured). The check runs asynchronously: main.ts starts it first
 * and loads the rest of the program meanwhile, on the other core, instead of waiting for it; its
 * one-line answer is taken as soon as the line is whole, not when the child has exited.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/errors.js';
import type { ValidationAnswer } from './check.js';
import type { SidecarConfig } from './schema.js';

/** Longest the check may take. */
const CHECK_TIMEOUT_MS = 30_000;
/** Largest answer the check may print. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * The check's environment: the sidecar's (STINT_URL and the other defaults it reads), without
 * NODE_EXTRA_CA_CERTS: the check opens no connection, and Node.js reads and parses that bundle
 * before it runs any code (~80 ms of CPU for a system bundle of ~140 certificates, measured).
 */
export function checkEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _unused, ...rest } = env;
  return rest;
}

/** Load and validate `file`; rejects with ConfigError naming the key path. */
export function loadSidecarConfig(file: string): Promise<SidecarConfig> {
  const check = fileURLToPath(new URL('./check.js', import.meta.url));
  return new Promise<SidecarConfig>((resolve, reject) => {
    const child = spawn(process.execPath, [check, file], { env: checkEnvironment(process.env), stdio: ['ignore', 'pipe', 'pipe'], timeout: CHECK_TIMEOUT_MS });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let failure: string | null = null;
    let settled = false;
    /** Settle on a whole answer; false when `text` is not one. */
    const answered = (text: string): boolean => {
      let answer: ValidationAnswer;
      try {
        answer = JSON.parse(text) as ValidationAnswer;
      } catch {
        return false;
      }
      settled = true;
      if (!answer.ok) reject(new ConfigError('ERR_CONFIG_INVALID', answer.path, `${answer.message} (in ${file})`));
      else resolve(answer.config);
      return true;
    };
    child.stdout.on('data', (d: Buffer) => {
      if (settled) return;
      outBytes += d.length;
      if (outBytes > MAX_ANSWER_BYTES) {
        failure ??= 'its answer is too large';
        child.kill();
        return;
      }
      out.push(d);
      // The answer is one line: taken at its end, without waiting for the child to exit.
      if (d.includes(0x0a)) {
        const text = Buffer.concat(out).toString('utf8');
        answered(text.slice(0, text.indexOf('\n')));
      }
    });
    child.stderr.on('data', (d: Buffer) => void err.push(d));
    child.on('error', (e) => void (failure ??= e.message));
    child.on('close', (status, signal) => {
      if (settled || (failure === null && answered(Buffer.concat(out).toString('utf8')))) return;
      const why = failure ?? (signal ? `signal ${signal}` : `status ${status}`);
      reject(new ConfigError('ERR_CONFIG_INVALID', '(check)', `the configuration check failed (${why}): ${Buffer.concat(err).toString('utf8').trim().split('\n')[0] ?? ''}`));
    });
  });
}
