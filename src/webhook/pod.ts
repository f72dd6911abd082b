/**
 * The parts of a Pod the injector reads, checked loosely: unknown fields pass through untouched
 * (the API server has validated the pod; the injector only needs these shapes to be right).
 */
import { z } from 'zod';

const containerSchema = z.looseObject({
  name: z.string().min(1),
  env: z.array(z.looseObject({ name: z.string() })).nullish(),
  volumeMounts: z.array(z.looseObject({ name: z.string(), mountPath: z.string() })).nullish(),
  ports: z.array(z.looseObject({ containerPort: z.number().int() })).nullish(),
});

export const podSchema = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().nullish(),
      generateName: z.string().nullish(),
      namespace: z.string().nullish(),
      annotations: z.record(z.string(), z.string()).nullish(),
    })
    .nullish(),
  spec: z.looseObject({
    containers: z.array(containerSchema).min(1),
    initContainers: z.array(containerSchema).nullish(),
    volumes: z.array(z.looseObject({ name: z.string() })).nullish(),
    hostNetwork: z.boolean().nullish(),
  }),
});

/** A pod as the injector sees it. */
export type PodView = z.infer<typeof podSchema>;
/** A container as the injector sees it. */
export type ContainerView = z.infer<typeof containerSchema>;

/** The pod's name for logs: its name, else its generateName (`web-7d9f-`), else `(unnamed)`. */
export function podDisplayName(pod: Pick<PodView, 'metadata'>): string {
  return pod.metadata?.name || pod.metadata?.generateName || '(unnamed)';
}
