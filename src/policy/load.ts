/** Loading the policy file from disk. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { compilePolicy, type CompiledPolicy } from './compile.js';

/** Read and compile a policy file; throws ConfigError ERR_POLICY_INVALID when unreadable or invalid. */
export function loadPolicyFile(path: string, opts: { maxTtlSeconds: number }): CompiledPolicy {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ConfigError('ERR_POLICY_INVALID', '', `cannot read policy file ${path} (${code})`, { file: path, line: 0, column: 0 });
  }
  return compilePolicy(source, { filename: path, maxTtlSeconds: opts.maxTtlSeconds });
}
