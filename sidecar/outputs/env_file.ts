/** `type: env-file`: `export NAME='value'` lines for the application to source, replaced atomically. */
import { requireValue, type HeldCredential } from '../credential.js';
import { removeFile, writeFileAtomic } from '../../src/files/atomic_file.js';
import type { Output } from './output.js';

/** Configuration of an env-file output. */
export interface EnvFileOutputConfig {
  readonly path: string;
  readonly variables: Readonly<Record<string, string>>;
  readonly mode: number;
  readonly owner?: number;
  readonly group?: number;
}

/** POSIX shell single-quoting. */
export function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/** Create an env-file output. */
export function createEnvFileOutput(c: EnvFileOutputConfig): Output {
  return {
    type: 'env-file',
    where: c.path,
    async publish(cred: HeldCredential) {
      const text = Object.entries(c.variables)
        .map(([name, source]) => `export ${name}=${shellQuote(requireValue(cred, source))}\n`)
        .join('');
      await writeFileAtomic(c.path, text, c);
    },
    async withdraw() {
      await removeFile(c.path);
    },
  };
}
