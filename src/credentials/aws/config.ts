/**
 * Configuration pieces of `providers.aws`. Kept here rather than imported from src/config/ so
 * that the provider does not import the configuration schema that imports it.
 */
import type { z } from 'zod';
import { secretRefSchema } from '../../config/fields.js';

export { boundedDuration, readSecretRef } from '../../config/fields.js';

/** A secret read from an environment variable or a file, never inlined. */
export const secretRef = secretRefSchema;
export type AwsSecretRef = z.infer<typeof secretRef>;
