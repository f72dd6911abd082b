/**
 * Properties of the AdmissionReview parser (reviewAdmission), which reads what the API server
 * (or anything reaching the webhook port) sends: arbitrary JSON and mutated valid reviews give a
 * well-formed admission.k8s.io/v1 AdmissionReview reply, or a StintError ERR_INVALID_REQUEST;
 * nothing else is thrown. A valid review's reply keeps its uid. Bounded runs, in `npm test`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StintError } from '../../src/errors.js';
import { reviewAdmission, type AdmissionReviewReply } from '../../src/webhook/admission.js';
import { admissionReview, busyPod, minimalPod, settings } from './helpers.js';

const S = settings();
const RUNS = { numRuns: 200, seed: 14 } as const;
type Json = Record<string, unknown>;

/** Check a reply's shape as the API server reads it. */
function wellFormed(reply: AdmissionReviewReply, uid: unknown): void {
  expect(reply.apiVersion).toBe('admission.k8s.io/v1');
  expect(reply.kind).toBe('AdmissionReview');
  expect(reply.response.uid).toBe(uid);
  expect(typeof reply.response.allowed).toBe('boolean');
  if (reply.response.patchType !== undefined) {
    expect(reply.response.patchType).toBe('JSONPatch');
    expect(reply.response.patch).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(Array.isArray(JSON.parse(Buffer.from(reply.response.patch!, 'base64').toString('utf8')))).toBe(true);
  }
  if (!reply.response.allowed) expect(reply.response.status).toMatchObject({ status: 'Failure', code: 400 });
  // What the webhook server sends: it must serialize.
  expect(() => JSON.stringify(reply)).not.toThrow();
}

/** Review the body (as JSON.parse gives it); a refusal must be ERR_INVALID_REQUEST. */
function replyOrTypedError(body: unknown): 'reply' | 'refused' {
  let out: ReturnType<typeof reviewAdmission>;
  try {
    out = reviewAdmission(body, S);
  } catch (err) {
    if (!(err instanceof StintError)) throw new Error(`threw ${(err as Error)?.name}: ${String((err as Error)?.message).slice(0, 200)}`);
    expect(err.code).toBe('ERR_INVALID_REQUEST');
    return 'refused';
  }
  wellFormed(out.reply, (body as { request: { uid: unknown } }).request.uid);
  return 'reply';
}

/** Every path to a value in a JSON tree. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** Replace (or delete, when `replacement` is undefined) the value at `path`; the document unchanged when the path is gone. */
function mutate(doc: Json, path: readonly (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const copy = structuredClone(doc);
  let cur = copy as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) {
    const next = cur[seg];
    if (typeof next !== 'object' || next === null) return copy;
    cur = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (replacement === undefined) delete cur[last];
  else cur[last] = replacement;
  return copy;
}

const oddValues = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(undefined, null, '', 'true', 'false', 0, -1, 1e308, 'x'.repeat(10_000), [], {}, { __proto__: null }, JSON.parse('{"__proto__":{"polluted":1}}'), 'stint.dev/inject', '../../etc', '\u0000'),
);

const annotationKey = fc.constantFrom('stint.dev/inject', 'stint.dev/config', 'stint.dev/audience', 'stint.dev/ops-port', 'stint.dev/aws-container', 'stint.dev/gcp-metadata', 'stint.dev/status', 'stint.dev/unknown', 'other/x');
const annotations = fc.dictionary(annotationKey, fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('true', 'false', 'orders-sidecar', '9911', '0', '65536', 'injected')), { maxKeys: 6 });

describe('AdmissionReview parser: a well-formed reply or ERR_INVALID_REQUEST', () => {
  it('arbitrary JSON values, and arbitrary JSON under request', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        replyOrTypedError(value);
        replyOrTypedError({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: value });
      }),
      RUNS,
    );
  });

  it('a valid review with one value anywhere replaced or deleted', () => {
    const reviews = [admissionReview(minimalPod()), admissionReview(busyPod()), admissionReview(minimalPod(null))];
    const targets = reviews.flatMap((r) => paths(r).map((p) => [r, p] as const));
    fc.assert(
      fc.property(fc.constantFrom(...targets), oddValues, ([review, path], replacement) => {
        replyOrTypedError(mutate(review, path, replacement));
      }),
      RUNS,
    );
  });

  it('two values replaced at once', () => {
    const review = admissionReview(busyPod());
    const all = paths(review);
    fc.assert(
      fc.property(fc.constantFrom(...all), oddValues, fc.constantFrom(...all), oddValues, (p1, v1, p2, v2) => {
        const once = mutate(review, p1, v1);
        replyOrTypedError(typeof once === 'object' && once !== null && !Array.isArray(once) ? mutate(once as Json, p2, v2) : once);
      }),
      RUNS,
    );
  });

  it('valid reviews with arbitrary uids and annotations keep the uid', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 256 }), annotations, fc.boolean(), (uid, notes, busy) => {
        const review = admissionReview(busy ? busyPod(notes) : minimalPod(notes), uid);
        expect(replyOrTypedError(review)).toBe('reply');
      }),
      RUNS,
    );
  });

  it('after all that, a valid review is injected with its uid', () => {
    const { reply } = reviewAdmission(admissionReview(minimalPod(), 'uid-after'), S);
    expect(reply.response).toMatchObject({ uid: 'uid-after', allowed: true, patchType: 'JSONPatch' });
  });
});
