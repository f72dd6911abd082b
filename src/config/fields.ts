/**
 * Field types shared by the service configuration and the provider configurations it embeds:
 * durations and secret references. A leaf module (it imports no plugin), so providers use it
 * without importing the schema that imports them.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDuration } from '../duration.js';
import { durationField } from '../duration_field.js';
import { HOST_PORT } from '../net/host_port.js';
import { ConfigError } from '../errors.js';

/** A duration given as `15m`, `1h` or a number of seconds; parsed to seconds. */
export const durationSchema = durationField(parseDuration);

/** A duration of at least one second. */
export const positiveDurationSchema = durationSchema.refine((s) => s >= 1, 'must be at least 1s');

/** A duration within [min, max] seconds. */
export function boundedDuration(min: number, max: number) {
  return durationSchema.pipe(z.number().int().min(min, `must be at least ${min} seconds`).max(max, `must be at most ${max} seconds`));
}

/** A listen address: `host:port` or `[v6]:port`. */
export const hostPortSchema = z.string().regex(HOST_PORT, 'expected host:port');

/** A secret reference: from an environment variable or a file, never inlined. */
export const secretRefSchema = z.union([z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()]);
export type SecretRef = z.infer<typeof secretRefSchema>;

/** Read a secret from its reference; the error names the key path and the reference, never a value. */
export function readSecretRef(ref: SecretRef, keyPath: string): string {
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
