/** The subject token: re-read from its file before every exchange (the kubelet rotates projected tokens), or from an environment variable. */
import { readFile } from 'node:fs/promises';
import { StintError } from '../../errors.js';
import type { SubjectTokenSource } from './source.js';

/** A token file or environment variable, and the token's type. */
export type FileTokenConfig = { readonly file: string; readonly type: string } | { readonly env: string; readonly type: string };

/** The file (or environment) source. */
export function createFileTokenSource(config: FileTokenConfig): SubjectTokenSource {
  return { name: 'file' in config ? 'file' : 'env', read: async () => ({ type: config.type, value: await readSubjectToken(config) }) };
}

/** Read the current subject token. */
export async function readSubjectToken(source: FileTokenConfig): Promise<string> {
  let token: string | undefined;
  if ('file' in source) {
    try {
      token = (await readFile(source.file, 'utf8')).trim();
    } catch (e) {
      throw new StintError('ERR_INVALID_REQUEST', `cannot read the subject token file ${source.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { reason: 'subject_token_unreadable' });
    }
  } else {
    token = process.env[source.env]?.trim();
  }
  if (!token) throw new StintError('ERR_INVALID_REQUEST', `no subject token in ${'file' in source ? source.file : `$${source.env}`}`, { reason: 'subject_token_missing' });
  return token;
}
