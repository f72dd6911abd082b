/**
 * Provider(s) for kind(s) gcp-access-token. Configuration key `providers.gcp`.
 * (Being built: see the issue "Credential providers".)
 */
import { z } from 'zod';
import { StintError } from '../errors.js';
import type { CredentialProvider, ProviderDeps } from './provider.js';

/** Configuration of `providers.gcp`. */
export const gcpProviderConfigSchema = z.object({}).strict();
export type GcpProviderConfig = z.infer<typeof gcpProviderConfigSchema>;

/** Create the gcp-access-token provider(s). */
export function createGcpProviders(_config: GcpProviderConfig, _deps: ProviderDeps): CredentialProvider[] {
  throw new StintError('ERR_CONFIG_INVALID', 'providers.gcp: not available yet');
}
