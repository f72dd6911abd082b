/** A kubeconfig that hands a ServiceAccount token to a workload (kubectl, client-go, client-node). */
import { stringify } from 'yaml';
import type { ClusterInfo } from './connection.js';

/** What a generated kubeconfig names. */
export interface KubeconfigInput {
  readonly clusterName: string;
  readonly cluster: ClusterInfo;
  /** Overrides the server Stint uses (e.g. a public endpoint). */
  readonly server?: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly token: string;
}

/** Render the kubeconfig YAML (it contains the token: a secret). */
export function renderKubeconfig(input: KubeconfigInput): string {
  const user = `system:serviceaccount:${input.namespace}:${input.serviceAccount}`;
  const cluster: Record<string, unknown> = { server: input.server ?? input.cluster.server };
  if (input.cluster.caPem) cluster['certificate-authority-data'] = Buffer.from(input.cluster.caPem).toString('base64');
  if (input.cluster.skipTLSVerify) cluster['insecure-skip-tls-verify'] = true;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: input.clusterName, cluster }],
    users: [{ name: user, user: { token: input.token } }],
    contexts: [{ name: input.clusterName, context: { cluster: input.clusterName, user, namespace: input.namespace } }],
    'current-context': input.clusterName,
    preferences: {},
  });
}
