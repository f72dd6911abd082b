/**
 * Configuration of `providers.kubernetes`: how Stint reaches the API server (a kubeconfig file,
 * or a server URL with a CA file and a token file, by default the in-cluster ServiceAccount),
 * and how the objects it creates are marked.
 */
import { z } from 'zod';
import { positiveDurationSchema } from '../../config/fields.js';
import { DNS_SUBDOMAIN, LABEL_VALUE } from './names.js';

/** Configuration of `providers.kubernetes`. */
export const kubernetesProviderConfigSchema = z
  .object({
    /** A kubeconfig file (its current context, or `context`); exclusive with server/caFile/tokenFile. */
    kubeconfig: z.string().min(1).optional(),
    /** The kubeconfig context to use (default: its current-context). */
    context: z.string().min(1).optional(),
    /** API server URL (default https://kubernetes.default.svc). */
    server: z.string().url().regex(/^https:\/\//, 'must be an https:// URL').optional(),
    /** CA bundle (PEM) that signs the API server's certificate (default: the in-cluster one). */
    caFile: z.string().min(1).optional(),
    /** Bearer token file, re-read on every call so a rotated projected token is picked up (default: the in-cluster one). */
    tokenFile: z.string().min(1).optional(),
    /** Cluster (and context) name in kubeconfigs handed to workloads. */
    clusterName: z.string().min(1).max(253).default('kubernetes'),
    /** API server URL written into kubeconfigs handed to workloads (default: the URL Stint uses). */
    clusterServer: z.string().url().regex(/^https:\/\//, 'must be an https:// URL').optional(),
    /** Timeout of one API call. */
    timeout: positiveDurationSchema.default(5),
    /** Longest credential either kind issues (the API server may cap tokens lower). */
    maxTtl: positiveDurationSchema.default(86400),
    /** RoleBindings younger than this are never reconciled away (an issuance may be in flight). */
    reconcileGrace: positiveDurationSchema.default(300),
    /** Prefix of Stint's own labels and annotations (`<prefix>/grant-id`, `<prefix>/expires-at`). */
    labelPrefix: z.string().regex(DNS_SUBDOMAIN, 'must be a DNS subdomain such as stint.dev').default('stint.dev'),
    /**
     * Value of `app.kubernetes.io/managed-by` on the objects Stint creates, and what reconciliation
     * lists. Two Stint deployments managing one cluster need different values.
     */
    managedBy: z.string().regex(LABEL_VALUE, 'must be a Kubernetes label value').default('stint'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.kubeconfig !== undefined) {
      for (const key of ['server', 'caFile', 'tokenFile'] as const) {
        if (c[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} cannot be combined with kubeconfig (the kubeconfig names the server and credentials)` });
      }
    } else if (c.context !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['context'], message: 'context needs kubeconfig' });
    }
    if (c.maxTtl < 600) ctx.addIssue({ code: 'custom', path: ['maxTtl'], message: 'must be at least 10m (the shortest ServiceAccount token Kubernetes issues)' });
  });

/** The validated configuration of `providers.kubernetes`. */
export type KubernetesProviderConfig = z.infer<typeof kubernetesProviderConfigSchema>;
