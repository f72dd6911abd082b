/** `type: file`: the credential in a file, raw or in a named format, replaced atomically. */
import type { HeldCredential } from '../credential.js';
import { removeFile, writeFileAtomic } from '../../src/files/atomic_file.js';
import { render, type FormatOptions } from './formats.js';
import type { Output } from './output.js';

/** Configuration of a file output. */
export interface FileOutputConfig extends FormatOptions {
  readonly path: string;
  readonly format: string;
  readonly mode: number;
  readonly owner?: number;
  readonly group?: number;
}

/** Create a file output. */
export function createFileOutput(c: FileOutputConfig): Output {
  return {
    type: 'file',
    where: c.path,
    async publish(cred: HeldCredential) {
      await writeFileAtomic(c.path, render(c.format, cred, c), c);
    },
    async withdraw() {
      await removeFile(c.path);
    },
  };
}
