/**
 * One AdmissionReview (admission.k8s.io/v1) in, one out: the response carries the request's uid,
 * `allowed`, and for an injected pod `patchType: JSONPatch` with the base64 patch. A malformed
 * review is an error (HTTP 400); a pod whose annotations are invalid is denied with the reason.
 */
import { z } from 'zod';
import { InjectionRefusedError, StintError } from '../errors.js';
import { formatKeyPath } from '../key_path.js';
import { planInjection, type InjectionReason } from './injector.js';
import { podDisplayName, podSchema } from './pod.js';
import type { InjectorSettings } from './settings.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

const reviewSchema = z.object({
  apiVersion: z.literal(ADMISSION_API_VERSION, { error: `expected ${ADMISSION_API_VERSION}` }),
  kind: z.literal('AdmissionReview', { error: 'expected AdmissionReview' }),
  request: z.looseObject({
    uid: z.string().min(1).max(256),
    kind: z.looseObject({ group: z.string(), version: z.string(), kind: z.string() }),
    subResource: z.string().nullish(),
    namespace: z.string().nullish(),
    operation: z.string().min(1),
    object: z.unknown(),
  }),
});

/** The `response` of an AdmissionReview. */
export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  /** Base64 of the JSON Patch. */
  readonly patch?: string;
  readonly warnings?: readonly string[];
  readonly status?: { readonly status: 'Failure'; readonly code: number; readonly reason: string; readonly message: string };
}

/** The AdmissionReview sent back to the API server. */
export interface AdmissionReviewReply {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

/** What the one log line of an admission says (never annotation contents beyond the reason). */
export interface AdmissionRecord {
  readonly uid: string;
  readonly namespace: string;
  readonly pod: string;
  readonly injected: boolean;
  readonly reason: InjectionReason | 'refused' | 'not-a-pod-creation';
  readonly warnings: readonly string[];
  readonly error?: string;
}

/** Kubernetes truncates long warnings; keep them short. */
const MAX_WARNING = 200;

function malformed(error: z.ZodError, prefix: string): StintError {
  const issue = error.issues[0];
  const path = issue ? formatKeyPath([...prefix.split('.').filter(Boolean), ...issue.path]) : prefix;
  return new StintError('ERR_INVALID_REQUEST', `malformed AdmissionReview: ${path || '(root)'}: ${issue?.message ?? 'invalid'}`, { field: path || '(root)' });
}

/** Answer one AdmissionReview; throws StintError (ERR_INVALID_REQUEST) when it is malformed. */
export function reviewAdmission(body: unknown, settings: InjectorSettings): { reply: AdmissionReviewReply; record: AdmissionRecord } {
  const parsed = reviewSchema.safeParse(body);
  if (!parsed.success) throw malformed(parsed.error, '');
  const request = parsed.data.request;
  const reply = (response: Omit<AdmissionResponse, 'uid'>): AdmissionReviewReply => ({ apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response: { uid: request.uid, ...response } });
  const isPodCreate = request.kind.group === '' && request.kind.version === 'v1' && request.kind.kind === 'Pod' && request.operation === 'CREATE' && !request.subResource;
  if (!isPodCreate) {
    return { reply: reply({ allowed: true }), record: { uid: request.uid, namespace: request.namespace ?? '', pod: '', injected: false, reason: 'not-a-pod-creation', warnings: [] } };
  }
  const pod = podSchema.safeParse(request.object);
  if (!pod.success) throw malformed(pod.error, 'request.object');
  const base = { uid: request.uid, namespace: request.namespace || pod.data.metadata?.namespace || '', pod: podDisplayName(pod.data) };
  try {
    const plan = planInjection(pod.data, settings);
    const warnings = plan.warnings.map((w) => (w.length > MAX_WARNING ? `${w.slice(0, MAX_WARNING - 3)}...` : w));
    const response: Omit<AdmissionResponse, 'uid'> = plan.patch.length
      ? { allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(plan.patch)).toString('base64'), ...(warnings.length ? { warnings } : {}) }
      : { allowed: true };
    return { reply: reply(response), record: { ...base, injected: plan.injected, reason: plan.reason, warnings } };
  } catch (e) {
    if (!(e instanceof InjectionRefusedError)) throw e;
    const message = `stint-sidecar injection refused: ${e.message}`;
    return {
      reply: reply({ allowed: false, status: { status: 'Failure', code: 400, reason: 'BadRequest', message } }),
      record: { ...base, injected: false, reason: 'refused', warnings: [], error: e.message },
    };
  }
}
