/**
 * Stint's own AWS access key, when configured instead of the SDK's default chain: one schema and one
 * reader for the STS provider (assume-role mode) and the IAM revoker, so both read the key the same
 * way (by secret reference, from env or file) and name the same kind of key path in errors.
 */
import { z } from 'zod';
import { readSecretRef, secretRefSchema } from '../../config/fields.js';

/** `credentials:` of an AWS section: an access key by reference. */
export const staticAwsCredentialsSchema = z.object({ accessKeyId: secretRefSchema, secretAccessKey: secretRefSchema, sessionToken: secretRefSchema.optional() }).strict();

/** The SDK credentials read from `config` (undefined: the SDK's default chain); `keyPath` names the section in errors. */
export function readStaticAwsCredentials(
  config: z.infer<typeof staticAwsCredentialsSchema> | undefined,
  keyPath: string,
): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  if (!config) return undefined;
  return {
    accessKeyId: readSecretRef(config.accessKeyId, `${keyPath}.accessKeyId`),
    secretAccessKey: readSecretRef(config.secretAccessKey, `${keyPath}.secretAccessKey`),
    ...(config.sessionToken ? { sessionToken: readSecretRef(config.sessionToken, `${keyPath}.sessionToken`) } : {}),
  };
}
