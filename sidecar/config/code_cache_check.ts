/**
 * The configuration check of the bundle (dist/sidecar-bundle/check.js): the same answer as
 * check.ts, sooner. Its code (validate.ts with yaml and zod, bundled as check-lib.cjs, ~1 MB) is
 * compiled through a V8 code cache (check.cache) that the build writes by running this program
 * once on sample configurations (`node check.js --write-code-cache FILE...`), so the child started
 * at every sidecar start skips most of parsing and compiling it. A missing cache, or one V8 rejects
 * (another Node.js version, other V8 flags), only costs the compile it would have saved;
 * `node check.js --code-cache-status` says which (the build and the bundle test ask).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import type * as Validate from './validate.js';

const LIB = fileURLToPath(new URL('./check-lib.cjs', import.meta.url));
const CACHE = fileURLToPath(new URL('./check.cache', import.meta.url));

type CommonJsBody = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

/** check-lib.cjs compiled (through the code cache when there is one V8 accepts) and run. */
function loadCheck(): { validate: typeof Validate; script: Script; cache: 'accepted' | 'rejected' | 'missing' } {
  // The same wrapper as Node's for a CommonJS file; the cache was made for exactly this text.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(LIB, 'utf8')}\n})`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(CACHE);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(source, { filename: LIB, cachedData });
  const module = { exports: {} };
  (script.runInThisContext() as CommonJsBody)(module.exports, createRequire(LIB), module, LIB, dirname(LIB));
  return { validate: module.exports as typeof Validate, script, cache: cachedData === undefined ? 'missing' : script.cachedDataRejected ? 'rejected' : 'accepted' };
}

const args = process.argv.slice(2);
if (args[0] === '--write-code-cache') {
  // Checking the samples compiles the functions a check runs; the cache then holds them too.
  const { validate, script } = loadCheck();
  for (const file of args.slice(1)) validate.validateFile(file);
  writeFileSync(CACHE, script.createCachedData());
} else if (args[0] === '--code-cache-status') {
  // For the build and the tests: whether this node uses the cache (accepted, rejected, missing).
  process.stdout.write(`${loadCheck().cache}\n`);
} else {
  // The line's end tells load.ts the answer is whole (JSON.stringify writes no raw newline).
  process.stdout.write(`${JSON.stringify(loadCheck().validate.validateFile(args[0] ?? ''))}\n`);
}
