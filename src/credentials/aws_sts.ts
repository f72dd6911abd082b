/**
 * Provider(s) for kind(s) aws-sts. Configuration key `providers.aws`.
 * (Being built: see the issue "Credential providers".)
 */
import { z } from 'zod';
import { StintError } from '../errors.js';
import type { CredentialProvider, ProviderDeps } from './provider.js';

/** Configuration of `providers.aws`. */
export const awsProviderConfigSchema = z.object({}).strict();
export type AwsStsProviderConfig = z.infer<typeof awsProviderConfigSchema>;

/** Create the aws-sts provider(s). */
export function createAwsStsProviders(_config: AwsStsProviderConfig, _deps: ProviderDeps): CredentialProvider[] {
  throw new StintError('ERR_CONFIG_INVALID', 'providers.aws: not available yet');
}
