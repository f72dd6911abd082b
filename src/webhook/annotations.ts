/**
 * The injection contract's pod annotations (`stint.dev/...`, docs/sidecar.md#injection), parsed
 * and checked. A bad value refuses the pod with a message naming the annotation: a pod that asked
 * for credentials is never started silently without them.
 */
import { InjectionRefusedError } from '../errors.js';

/** The annotations the injector reads, and the one it writes. */
export const ANNOTATIONS = {
  /** `"true"` injects, `"false"` does not; any other value is refused. */
  inject: 'stint.dev/inject',
  /** Name of a ConfigMap in the pod's namespace whose `sidecar.yaml` configures the sidecar. */
  config: 'stint.dev/config',
  /** Audience of the projected token, instead of the injector's default. */
  audience: 'stint.dev/audience',
  /** The sidecar's ops port (its `ops.listen`), instead of the injector's default. */
  opsPort: 'stint.dev/ops-port',
  /** Loopback port of the sidecar's `aws-container` output: the app containers get the AWS variables. */
  awsContainer: 'stint.dev/aws-container',
  /** Loopback port of the sidecar's `gcp-metadata` output: the app containers get GCE_METADATA_HOST. */
  gcpMetadata: 'stint.dev/gcp-metadata',
  /** Written by the injector: `injected`. */
  status: 'stint.dev/status',
} as const;

const PREFIX = 'stint.dev/';
const KNOWN = new Set<string>(Object.values(ANNOTATIONS));
/** DNS-1123 subdomain: what Kubernetes accepts as a ConfigMap name. */
const CONFIGMAP_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** What the annotations ask for. */
export type InjectionRequest =
  | { readonly inject: false; readonly reason: 'annotation-absent' | 'annotation-false' }
  | {
      readonly inject: true;
      readonly configMap: string;
      readonly audience?: string;
      readonly opsPort?: number;
      readonly awsPort?: number;
      readonly gcpPort?: number;
    };

/** A value as shown in a message: quoted, cut short (annotation values are not secrets, but can be long). */
function shown(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}

function parsePort(annotations: Readonly<Record<string, string>>, key: string): number | undefined {
  const value = annotations[key];
  if (value === undefined) return undefined;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new InjectionRefusedError(`${key} must be a port number from 1 to 65535 (got ${shown(value)})`, key);
  return port;
}

/** Read the pod's `stint.dev/` annotations; throws InjectionRefusedError naming the annotation at fault. */
export function parseInjectionAnnotations(annotations: Readonly<Record<string, string>> | undefined): InjectionRequest {
  const a = annotations ?? {};
  const inject = a[ANNOTATIONS.inject];
  if (inject === undefined) return { inject: false, reason: 'annotation-absent' };
  if (inject === 'false') return { inject: false, reason: 'annotation-false' };
  if (inject !== 'true') throw new InjectionRefusedError(`${ANNOTATIONS.inject} must be "true" or "false" (got ${shown(inject)})`, ANNOTATIONS.inject);

  for (const key of Object.keys(a)) {
    if (!key.startsWith(PREFIX) || KNOWN.has(key)) continue;
    if (key === 'stint.dev/config-inline') {
      throw new InjectionRefusedError(`stint.dev/config-inline is not supported: put sidecar.yaml in a ConfigMap and name it in ${ANNOTATIONS.config}`, key);
    }
    throw new InjectionRefusedError(`unknown annotation ${key.slice(0, 80)} (known: ${[...KNOWN].join(', ')})`, key);
  }

  const configMap = a[ANNOTATIONS.config];
  if (configMap === undefined || configMap === '') {
    throw new InjectionRefusedError(`${ANNOTATIONS.config} must name the ConfigMap holding the sidecar's sidecar.yaml`, ANNOTATIONS.config);
  }
  if (configMap.length > 253 || !CONFIGMAP_NAME.test(configMap)) {
    throw new InjectionRefusedError(`${ANNOTATIONS.config} must be a ConfigMap name (lower-case DNS subdomain; got ${shown(configMap)})`, ANNOTATIONS.config);
  }
  const audience = a[ANNOTATIONS.audience];
  if (audience !== undefined && (audience.trim() === '' || audience !== audience.trim())) {
    throw new InjectionRefusedError(`${ANNOTATIONS.audience} must be a non-empty audience without surrounding spaces`, ANNOTATIONS.audience);
  }
  const opsPort = parsePort(a, ANNOTATIONS.opsPort);
  const awsPort = parsePort(a, ANNOTATIONS.awsContainer);
  const gcpPort = parsePort(a, ANNOTATIONS.gcpMetadata);
  if (awsPort !== undefined && awsPort === gcpPort) {
    throw new InjectionRefusedError(`${ANNOTATIONS.awsContainer} and ${ANNOTATIONS.gcpMetadata} name the same port ${awsPort}`, ANNOTATIONS.gcpMetadata);
  }
  return {
    inject: true,
    configMap,
    ...(audience !== undefined ? { audience } : {}),
    ...(opsPort !== undefined ? { opsPort } : {}),
    ...(awsPort !== undefined ? { awsPort } : {}),
    ...(gcpPort !== undefined ? { gcpPort } : {}),
  };
}
