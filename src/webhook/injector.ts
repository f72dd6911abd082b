/**
 * The injector: pod + its annotations + injector settings → RFC 6902 JSON Patch operations that
 * add `stint-sidecar`. Pure: no I/O, no clock. Injecting twice is a no-op (a pod that already
 * holds the sidecar gets no patch), and nothing a container already sets is overwritten.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import { InjectionRefusedError } from '../errors.js';
import { ANNOTATIONS, parseInjectionAnnotations } from './annotations.js';
import { appendAll, pointer, type JsonPatchAdd } from './json_patch.js';
import type { ContainerView, PodView } from './pod.js';
import { appEnv, appRunMount, PATHS, SHADOWING_ENV, SIDECAR_NAME, sidecarContainer, sidecarVolumes, VOLUME_NAMES, type PodInjection } from './sidecar_container.js';
import type { InjectorSettings } from './settings.js';

/** Why a pod was or was not injected (a log field). */
export type InjectionReason = 'injected' | 'annotation-absent' | 'annotation-false' | 'already-injected';

/** The injector's answer for one pod. */
export interface InjectionPlan {
  readonly injected: boolean;
  readonly reason: InjectionReason;
  /** Empty unless injected. */
  readonly patch: readonly JsonPatchAdd[];
  /** For the API server's `warnings` (shown by kubectl) and the log: what was left alone. */
  readonly warnings: readonly string[];
}

function hasSidecar(pod: PodView): boolean {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].some((c) => c.name === SIDECAR_NAME);
}

/** Refuse pods the sidecar cannot work in, naming what is wrong. */
function checkPod(pod: PodView, request: PodInjection): void {
  if (pod.spec.hostNetwork) {
    throw new InjectionRefusedError('pods with hostNetwork: true are not injected: the sidecar\'s loopback endpoints and ops port would be shared with the node', null);
  }
  const taken = new Set<string>(Object.values(VOLUME_NAMES));
  for (const v of pod.spec.volumes ?? []) {
    if (taken.has(v.name)) throw new InjectionRefusedError(`the pod already has a volume named ${v.name}, which the injector adds; rename it`, null);
  }
  const wanted: [number | undefined, string][] = [
    [request.opsPort, `the sidecar's ops port (${ANNOTATIONS.opsPort})`],
    [request.awsPort, ANNOTATIONS.awsContainer],
    [request.gcpPort, ANNOTATIONS.gcpMetadata],
  ];
  for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    for (const p of c.ports ?? []) {
      const clash = wanted.find(([port]) => port === p.containerPort);
      if (clash) throw new InjectionRefusedError(`container ${c.name} uses port ${p.containerPort}, also ${clash[1]}; the containers of a pod share one network`, null);
    }
  }
  if (request.awsPort === request.opsPort || request.gcpPort === request.opsPort) {
    throw new InjectionRefusedError(`the sidecar's ops port ${request.opsPort} is also an endpoint port; choose another ${ANNOTATIONS.opsPort}`, ANNOTATIONS.opsPort);
  }
}

/** Ops giving one app container the shared tmpfs and the endpoint variables, never overwriting its own. */
function appContainerOps(container: ContainerView, index: number, request: PodInjection, warnings: string[]): JsonPatchAdd[] {
  const base = ['spec', 'containers', index] as const;
  const ops: JsonPatchAdd[] = [];
  const mounted = (container.volumeMounts ?? []).find((m) => m.mountPath.replace(/\/+$/, '') === PATHS.run || m.name === VOLUME_NAMES.run);
  if (mounted) warnings.push(`container ${container.name} already mounts ${mounted.mountPath}; stint-run not mounted there`);
  else ops.push(...appendAll([...base, 'volumeMounts'], container.volumeMounts, [appRunMount()]));

  const own = new Set((container.env ?? []).map((e) => e.name));
  const add: V1EnvVar[] = [];
  for (const v of appEnv(request)) {
    if (own.has(v.name)) warnings.push(`container ${container.name} sets ${v.name} itself; left unchanged`);
    else add.push(v);
  }
  const shadowing = [...(request.awsPort !== undefined ? SHADOWING_ENV.aws : []), ...(request.gcpPort !== undefined ? SHADOWING_ENV.gcp : [])].filter((n) => own.has(n));
  for (const name of shadowing) warnings.push(`container ${container.name} sets ${name}, which SDKs prefer over Stint's endpoint`);
  ops.push(...appendAll([...base, 'env'], container.env, add));
  return ops;
}

/** Plan the injection for one pod; throws InjectionRefusedError when its annotations or shape are invalid. */
export function planInjection(pod: PodView, settings: InjectorSettings): InjectionPlan {
  const asked = parseInjectionAnnotations(pod.metadata?.annotations ?? undefined);
  if (!asked.inject) return { injected: false, reason: asked.reason, patch: [], warnings: [] };
  if (hasSidecar(pod)) return { injected: false, reason: 'already-injected', patch: [], warnings: [] };

  const request: PodInjection = {
    configMap: asked.configMap,
    audience: asked.audience ?? settings.audience,
    opsPort: asked.opsPort ?? settings.opsPort,
    ...(asked.awsPort !== undefined ? { awsPort: asked.awsPort } : {}),
    ...(asked.gcpPort !== undefined ? { gcpPort: asked.gcpPort } : {}),
  };
  checkPod(pod, request);

  const warnings: string[] = [];
  const patch: JsonPatchAdd[] = [
    ...appendAll(['spec', 'volumes'], pod.spec.volumes, sidecarVolumes(settings, request)),
    // Appended: init containers already there (a mesh's, say) run first; the app containers wait for the sidecar's startup probe.
    ...appendAll(['spec', 'initContainers'], pod.spec.initContainers, [sidecarContainer(settings, request)]),
  ];
  pod.spec.containers.forEach((c, i) => patch.push(...appContainerOps(c, i, request, warnings)));
  patch.push(
    pod.metadata?.annotations
      ? { op: 'add', path: pointer('metadata', 'annotations', ANNOTATIONS.status), value: 'injected' }
      : { op: 'add', path: pointer('metadata', 'annotations'), value: { [ANNOTATIONS.status]: 'injected' } },
  );
  return { injected: true, reason: 'injected', patch, warnings };
}
