/**
 * Provider(s) for kind(s) kubernetes-token, kubernetes-rolebinding. Configuration key `providers.kubernetes`.
 * (Being built: see the issue "Credential providers".)
 */
import { z } from 'zod';
import { StintError } from '../errors.js';
import type { CredentialProvider, ProviderDeps } from './provider.js';

/** Configuration of `providers.kubernetes`. */
export const kubernetesProviderConfigSchema = z.object({}).strict();
export type KubernetesProviderConfig = z.infer<typeof kubernetesProviderConfigSchema>;

/** Create the kubernetes-token, kubernetes-rolebinding provider(s). */
export function createKubernetesProviders(_config: KubernetesProviderConfig, _deps: ProviderDeps): CredentialProvider[] {
  throw new StintError('ERR_CONFIG_INVALID', 'providers.kubernetes: not available yet');
}
