/**
 * The configuration check as a program: `node check.js FILE` prints the answer of validate.ts as
 * one line of JSON. load.ts runs it in a short-lived child process, so the YAML parser and zod
 * never occupy the memory of the long-running sidecar: in a worker thread they still left
 * ~10 MiB resident after it ended. (The bundle runs the same check from code_cache_check.ts.)
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateFile } from './validate.js';

export { validateFile, withEnvironmentDefaults, type ValidationAnswer } from './validate.js';

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // The line's end tells load.ts the answer is whole (JSON.stringify writes no raw newline).
  process.stdout.write(`${JSON.stringify(validateFile(process.argv[2] ?? ''))}\n`);
}
