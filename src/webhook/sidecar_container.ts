/**
 * What the injector adds to a pod: the `stint-sidecar` native sidecar (an init container with
 * `restartPolicy: Always`), its three volumes, and what the app containers get. Pure builders;
 * the field names are checked against the Kubernetes API types at compile time.
 */
import type { V1Container, V1EnvVar, V1Probe, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { InjectorSettings } from './settings.js';

/** Name of the injected container; a pod holding a container of this name is already injected. */
export const SIDECAR_NAME = 'stint-sidecar';

/** Names of the injected volumes. */
export const VOLUME_NAMES = {
  /** Projected ServiceAccount token with Stint's audience (sidecar only). */
  token: 'stint-token',
  /** tmpfs shared with the app containers (read-only there): the credential files. */
  run: 'stint-run',
  /** The ConfigMap holding sidecar.yaml. */
  config: 'stint-config',
} as const;

/** Where things are inside the containers. */
export const PATHS = {
  tokenDir: '/var/run/secrets/stint',
  /** `subjectToken.file` in sidecar.yaml. */
  tokenFile: '/var/run/secrets/stint/token',
  /** The shared tmpfs: sidecar outputs go here. */
  run: '/var/run/stint',
  configDir: '/etc/stint',
  configFile: '/etc/stint/sidecar.yaml',
  /** `tokenFile` of an `aws-container` output, when the pod asks for the AWS variables. */
  awsTokenFile: '/var/run/stint/aws-token',
} as const;

/** What one pod asked for, resolved against the injector's defaults. */
export interface PodInjection {
  readonly configMap: string;
  readonly audience: string;
  readonly opsPort: number;
  readonly awsPort?: number;
  readonly gcpPort?: number;
}

/** The pod volumes the sidecar needs. */
export function sidecarVolumes(settings: InjectorSettings, pod: PodInjection): V1Volume[] {
  return [
    {
      name: VOLUME_NAMES.token,
      projected: { sources: [{ serviceAccountToken: { audience: pod.audience, expirationSeconds: settings.tokenExpirationSeconds, path: 'token' } }] },
    },
    { name: VOLUME_NAMES.run, emptyDir: { medium: 'Memory', sizeLimit: settings.runVolumeSizeLimit } },
    { name: VOLUME_NAMES.config, configMap: { name: pod.configMap } },
  ];
}

function httpProbe(path: string, port: number, periodSeconds: number, failureThreshold: number): V1Probe {
  return { httpGet: { path, port }, periodSeconds, failureThreshold, timeoutSeconds: 2 };
}

/**
 * The sidecar as a native sidecar (Kubernetes 1.29+): an init container with `restartPolicy:
 * Always` starts before the app containers and keeps running; its startup probe on `/readyz`
 * holds the app containers back until every required credential is written.
 */
export function sidecarContainer(settings: InjectorSettings, pod: PodInjection): V1Container {
  const env: V1EnvVar[] = [
    { name: 'STINT_SIDECAR_CONFIG', value: PATHS.configFile },
    // Defaults for what sidecar.yaml leaves out (sidecar/config/check.ts): the team's file need
    // only list its credentials and outputs.
    { name: 'STINT_SUBJECT_TOKEN_FILE', value: PATHS.tokenFile },
    { name: 'STINT_SIDECAR_OPS_LISTEN', value: `0.0.0.0:${pod.opsPort}` },
    ...(settings.stintUrl ? [{ name: 'STINT_URL', value: settings.stintUrl }] : []),
  ];
  const mounts: V1VolumeMount[] = [
    { name: VOLUME_NAMES.token, mountPath: PATHS.tokenDir, readOnly: true },
    { name: VOLUME_NAMES.run, mountPath: PATHS.run },
    { name: VOLUME_NAMES.config, mountPath: PATHS.configDir, readOnly: true },
  ];
  return {
    name: SIDECAR_NAME,
    image: settings.image,
    ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    command: [...settings.command],
    args: ['sidecar', '--config', PATHS.configFile],
    restartPolicy: 'Always',
    env,
    ports: [{ name: 'stint-ops', containerPort: pod.opsPort, protocol: 'TCP' }],
    startupProbe: httpProbe('/readyz', pod.opsPort, 1, settings.startupTimeoutSeconds),
    readinessProbe: httpProbe('/readyz', pod.opsPort, 10, 3),
    livenessProbe: httpProbe('/healthz', pod.opsPort, 20, 3),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: settings.runAsUser,
      ...(settings.runAsGroup !== undefined ? { runAsGroup: settings.runAsGroup } : {}),
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    resources: {
      ...(settings.resources.requests ? { requests: { ...settings.resources.requests } } : {}),
      ...(settings.resources.limits ? { limits: { ...settings.resources.limits } } : {}),
    },
    volumeMounts: mounts,
    // An invalid sidecar.yaml exits 78 with the key path on stderr: show it in `kubectl describe pod`.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** The tmpfs mount every app container gets: read-only, the sidecar alone writes there. */
export function appRunMount(): V1VolumeMount {
  return { name: VOLUME_NAMES.run, mountPath: PATHS.run, readOnly: true };
}

/** Variables for the app containers, by the endpoints the pod asked for. */
export function appEnv(pod: PodInjection): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  if (pod.awsPort !== undefined) {
    env.push({ name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: `http://127.0.0.1:${pod.awsPort}/v1/credentials` });
    env.push({ name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', value: PATHS.awsTokenFile });
  }
  if (pod.gcpPort !== undefined) env.push({ name: 'GCE_METADATA_HOST', value: `127.0.0.1:${pod.gcpPort}` });
  return env;
}

/**
 * Variables that SDKs prefer over the injected endpoints: a container that sets one gets a
 * warning, since it will not use Stint's credentials.
 */
export const SHADOWING_ENV: Readonly<Record<'aws' | 'gcp', readonly string[]>> = {
  aws: ['AWS_ACCESS_KEY_ID', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'],
  gcp: ['GOOGLE_APPLICATION_CREDENTIALS'],
};
