/**
 * Provider(s) for kind(s) vault. Configuration key `providers.vault`.
 * (Being built: see the issue "Credential providers".)
 */
import { z } from 'zod';
import { StintError } from '../errors.js';
import type { CredentialProvider, ProviderDeps } from './provider.js';

/** Configuration of `providers.vault`. */
export const vaultProviderConfigSchema = z.object({}).strict();
export type VaultProviderConfig = z.infer<typeof vaultProviderConfigSchema>;

/** Create the vault provider(s). */
export function createVaultProviders(_config: VaultProviderConfig, _deps: ProviderDeps): CredentialProvider[] {
  throw new StintError('ERR_CONFIG_INVALID', 'providers.vault: not available yet');
}
