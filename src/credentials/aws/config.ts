/**
 * Configuration pieces of `providers.aws`. Kept here rather than imported from src/config/ so
 * that the provider does not import the configuration schema that imports it.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDuration } from '../../duration.js';
import { ConfigError } from '../../errors.js';

/** A duration (`15m`, `1h`, seconds) parsed to whole seconds within [min, max]. */
export function boundedDuration(min: number, max: number) {
  return z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      try {
        return parseDuration(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    })
    .pipe(z.number().int().min(min, `must be at least ${min} seconds`).max(max, `must be at most ${max} seconds`));
}

/** A secret read from an environment variable or a file, never inlined. */
export const secretRef = z.union([z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()]);
export type AwsSecretRef = z.infer<typeof secretRef>;

/** Read a secret reference; the error names the key path and the reference, never a value. */
export function readSecretRef(ref: AwsSecretRef, keyPath: string): string {
  if ('env' in ref) {
    const v = process.env[ref.env]?.trim();
    if (!v) throw new ConfigError('ERR_CONFIG_INVALID', keyPath, `environment variable ${ref.env} is not set`);
    return v;
  }
  let v: string;
  try {
    v = readFileSync(ref.file, 'utf8').trim();
  } catch (e) {
    throw new ConfigError('ERR_CONFIG_INVALID', keyPath, `cannot read secret file ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!v) throw new ConfigError('ERR_CONFIG_INVALID', keyPath, `secret file ${ref.file} is empty`);
  return v;
}
