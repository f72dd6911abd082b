/** Load the sidecar configuration: parsed and validated by a short-lived child process (see check.ts). */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/errors.js';
import type { ValidationAnswer } from './check.js';
import type { SidecarConfig } from './schema.js';

/** Load and validate `file`; throws ConfigError naming the key path. */
export function loadSidecarConfig(file: string): SidecarConfig {
  const check = fileURLToPath(new URL('./check.js', import.meta.url));
  const run = spawnSync(process.execPath, [check, file], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  let answer: ValidationAnswer;
  try {
    answer = JSON.parse(run.stdout) as ValidationAnswer;
  } catch {
    throw new ConfigError('ERR_CONFIG_INVALID', '(check)', `the configuration check failed (${run.error?.message ?? `status ${run.status}`}): ${run.stderr.trim().split('\n')[0] ?? ''}`);
  }
  if (!answer.ok) throw new ConfigError('ERR_CONFIG_INVALID', answer.path, `${answer.message} (in ${file})`);
  return answer.config;
}
