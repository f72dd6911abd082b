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

/** The enforced policy and its shadow candidate, as loaded from the configured files. */
export interface PolicyFiles {
  readonly enforced: CompiledPolicy;
  /** The shadow file's policy, else the enforced file's candidate (rules marked `mode: shadow`). */
  readonly shadow: CompiledPolicy | undefined;
  /** Source of the enforced file. */
  readonly source: string;
  readonly files: readonly string[];
}

/**
 * Load the enforced policy file and, when given, the shadow file. `knownKinds` (the credential
 * providers) refuses a policy allowing a kind nothing can issue.
 */
export function loadPolicyFiles(opts: { file: string; shadowFile?: string; maxTtlSeconds: number; knownKinds?: (kind: string) => boolean }): PolicyFiles {
  let source: string;
  try {
    source = readFileSync(opts.file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ConfigError('ERR_POLICY_INVALID', '', `cannot read policy file ${opts.file} (${code})`, { file: opts.file, line: 0, column: 0 });
  }
  const enforced = compilePolicy(source, { filename: opts.file, maxTtlSeconds: opts.maxTtlSeconds });
  const shadow = opts.shadowFile ? loadPolicyFile(opts.shadowFile, { maxTtlSeconds: opts.maxTtlSeconds }) : enforced.candidate;
  if (opts.knownKinds) {
    for (const [p, file] of [[enforced, opts.file], [shadow, opts.shadowFile ?? opts.file]] as const) {
      const unserved = (p?.credentialKinds ?? []).filter((k) => !opts.knownKinds?.(k));
      if (unserved.length > 0) throw new ConfigError('ERR_POLICY_INVALID', 'rules', `credential kind ${unserved.join(', ')} has no provider in ${file}`, { file, line: 0, column: 0 });
    }
  }
  return { enforced, shadow, source, files: opts.shadowFile ? [opts.file, opts.shadowFile] : [opts.file] };
}
