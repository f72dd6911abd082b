/**
 * Provider(s) for kind(s) postgres. Configuration key `providers.postgres`.
 * (Being built: see the issue "Credential providers".)
 */
import { z } from 'zod';
import { StintError } from '../errors.js';
import type { CredentialProvider, ProviderDeps } from './provider.js';

/** Configuration of `providers.postgres`. */
export const postgresProviderConfigSchema = z.object({}).strict();
export type PostgresProviderConfig = z.infer<typeof postgresProviderConfigSchema>;

/** Create the postgres provider(s). */
export function createPostgresProviders(_config: PostgresProviderConfig, _deps: ProviderDeps): CredentialProvider[] {
  throw new StintError('ERR_CONFIG_INVALID', 'providers.postgres: not available yet');
}
