/**
 * The Kubernetes providers, configuration key `providers.kubernetes`:
 * - `kubernetes-token`: a ServiceAccount token from the TokenRequest API (kubernetes/token_provider.ts);
 * - `kubernetes-rolebinding`: a temporary RoleBinding or ClusterRoleBinding (kubernetes/rolebinding_provider.ts).
 * Both talk to the API server through @kubernetes/client-node (kubernetes/connection.ts).
 * See docs/providers/kubernetes.md.
 */
import type { CredentialProvider, ProviderDeps } from './provider.js';
import { kubernetesProviderConfigSchema, type KubernetesProviderConfig } from './kubernetes/config.js';
import { KubernetesConnection, resolveConnectionSource } from './kubernetes/connection.js';
import { createRoleBindingProvider } from './kubernetes/rolebinding_provider.js';
import { createTokenProvider } from './kubernetes/token_provider.js';

export { kubernetesProviderConfigSchema, type KubernetesProviderConfig };
export { KUBERNETES_TOKEN_KIND } from './kubernetes/token_provider.js';
export { KUBERNETES_ROLEBINDING_KIND, KUBERNETES_ROLEBINDING_TOKEN_TYPE } from './kubernetes/rolebinding_provider.js';

/** Create the kubernetes-token and kubernetes-rolebinding providers; throws ConfigError on unusable settings. */
export function createKubernetesProviders(config: KubernetesProviderConfig, deps: ProviderDeps): CredentialProvider[] {
  const source = resolveConnectionSource(config);
  const connection = new KubernetesConnection(source, {
    clock: deps.clock,
    timeoutMs: config.timeout * 1000,
    ...(deps.onUpstreamCall ? { observe: deps.onUpstreamCall } : {}),
  });
  connection.warmUp();
  return [createTokenProvider(config, connection, deps.clock), createRoleBindingProvider(config, connection, deps.clock)];
}
