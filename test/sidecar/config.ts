/** Build sidecar configuration files for tests (YAML is JSON-compatible: written as JSON). */
import { writeFileSync } from 'node:fs';

/** Write `config` to `file` and return the file. */
export function writeSidecarConfig(file: string, config: Record<string, unknown>): string {
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** A base config: Stint at `url`, the subject token in `tokenFile`, ops on `opsPort`, fast test renewal settings. */
export function baseConfig(url: string, tokenFile: string, opsPort: number | false, credentials: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    stint: { url, timeout: '2s' },
    subjectToken: { file: tokenFile },
    ops: { listen: opsPort === false ? false : `127.0.0.1:${opsPort}` },
    renewal: { jitter: 0.1, minInterval: '100ms', initialBackoff: '200ms', maxBackoff: '1s' },
    ...extra,
    credentials,
  };
}
