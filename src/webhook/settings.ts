/**
 * The `webhook:` section of the service configuration: where the admission webhook listens, its
 * TLS (required: the API server only calls webhooks over HTTPS) and what it injects.
 */
import { z } from 'zod';
import { boundedDuration, hostPortSchema } from '../config/fields.js';

/** A Kubernetes resource quantity (`10m`, `64Mi`, `0.5`, `1G`). */
const quantity = z.union([
  z.string().regex(/^\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/, 'expected a Kubernetes quantity such as 10m or 64Mi'),
  z.number().nonnegative().transform(String),
]);
const resourceList = z.partialRecord(z.enum(['cpu', 'memory', 'ephemeral-storage']), quantity);
const port = z.number().int().min(1).max(65535);

const DEFAULT_RESOURCES = { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '96Mi' } };

/** What the injector puts into a pod. */
export const sidecarInjectionSchema = z.object({
  /** The image holding `stint-sidecar`: the slim sidecar image (the Dockerfile's `sidecar` stage; Stint's own image also has it at the same path). */
  image: z.string().min(1).regex(/^\S+$/, 'expected an image reference without spaces'),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  /** The command that starts `stint-sidecar` in that image; `sidecar --config /etc/stint/sidecar.yaml` follows it. */
  command: z.array(z.string().min(1)).min(1).default(['node', '/app/dist/sidecar/main.js']),
  /** Stint's URL for the sidecar, given to it as `STINT_URL` (its default for `stint.url`). */
  stintUrl: z.string().url().optional(),
  /** Audience of the projected ServiceAccount token (default: the service's `audience`, else its issuer). */
  audience: z.string().min(1).optional(),
  /** Lifetime the kubelet requests for the projected token (Kubernetes' minimum is 10 minutes). */
  tokenExpiration: boundedDuration(600, 86400).default(600),
  /** The sidecar's ops port (`ops.listen` in its sidecar.yaml): probes call `/readyz` and `/healthz` there. */
  opsPort: port.default(8099),
  /** How long the app's start waits for the first credentials before the sidecar is restarted. */
  startupTimeout: boundedDuration(10, 3600).default(120),
  /** The sidecar's user (non-root; Stint's image user `node` is 1000) and optional group. */
  runAsUser: z.number().int().min(1).default(1000),
  runAsGroup: z.number().int().min(0).optional(),
  resources: z.object({ requests: resourceList.optional(), limits: resourceList.optional() }).strict().default(DEFAULT_RESOURCES),
  /** Size limit of the tmpfs shared with the app (it counts against the pod's memory). */
  runVolumeSizeLimit: quantity.default('16Mi'),
}).strict();

export const webhookConfigSchema = z.object({
  /** HTTPS listen address of the webhook (the chart's Service points at it). */
  listen: hostPortSchema.default('0.0.0.0:8443'),
  /** Serving certificate and key; the API server trusts them through the caBundle of the MutatingWebhookConfiguration. Re-read when they change. */
  tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict(),
  sidecar: sidecarInjectionSchema,
}).strict();

export type WebhookConfig = z.infer<typeof webhookConfigSchema>;

/** Everything the pure injector needs, with defaults resolved. */
export interface InjectorSettings {
  readonly image: string;
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  readonly command: readonly string[];
  readonly stintUrl?: string;
  readonly audience: string;
  readonly tokenExpirationSeconds: number;
  readonly opsPort: number;
  readonly startupTimeoutSeconds: number;
  readonly runAsUser: number;
  readonly runAsGroup?: number;
  readonly resources: { readonly requests?: Readonly<Record<string, string>>; readonly limits?: Readonly<Record<string, string>> };
  readonly runVolumeSizeLimit: string;
}

/** Resolve the injector settings; `serviceAudience` is the audience Stint requires of subject tokens. */
export function injectorSettings(config: WebhookConfig['sidecar'], serviceAudience: string): InjectorSettings {
  return {
    image: config.image,
    ...(config.imagePullPolicy ? { imagePullPolicy: config.imagePullPolicy } : {}),
    command: config.command,
    ...(config.stintUrl ? { stintUrl: config.stintUrl } : {}),
    audience: config.audience ?? serviceAudience,
    tokenExpirationSeconds: config.tokenExpiration,
    opsPort: config.opsPort,
    startupTimeoutSeconds: config.startupTimeout,
    runAsUser: config.runAsUser,
    ...(config.runAsGroup !== undefined ? { runAsGroup: config.runAsGroup } : {}),
    resources: config.resources,
    runVolumeSizeLimit: config.runVolumeSizeLimit,
  };
}
