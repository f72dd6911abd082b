/** AdmissionReview v1 in and out: uid, allowed, JSONPatch in base64; malformed reviews are errors; bad annotations deny. */
import { describe, expect, it } from 'vitest';
import { StintError } from '../../src/errors.js';
import { reviewAdmission } from '../../src/webhook/admission.js';
import { admissionReview, applyPatch, minimalPod, settings, spec, throughV1Pod } from './helpers.js';

const S = settings();
type Json = Record<string, unknown>;

function malformed(body: unknown): StintError {
  try {
    reviewAdmission(body, S);
  } catch (e) {
    expect(e).toBeInstanceOf(StintError);
    expect((e as StintError).code).toBe('ERR_INVALID_REQUEST');
    return e as StintError;
  }
  throw new Error('expected a malformed review');
}

describe('an annotated pod', () => {
  const pod = minimalPod();
  const { reply, record } = reviewAdmission(admissionReview(pod, 'uid-1'), S);

  it('answers an admission.k8s.io/v1 AdmissionReview with the request uid and a base64 JSONPatch', () => {
    expect(reply.apiVersion).toBe('admission.k8s.io/v1');
    expect(reply.kind).toBe('AdmissionReview');
    expect(reply.response).toMatchObject({ uid: 'uid-1', allowed: true, patchType: 'JSONPatch' });
    expect(reply.response.patch).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const patched = applyPatch(pod, JSON.parse(Buffer.from(reply.response.patch!, 'base64').toString('utf8')));
    expect(spec(patched).initContainers.map((c) => c.name)).toEqual(['stint-sidecar']);
    expect(throughV1Pod(patched)).toEqual(patched);
  });

  it('records namespace, generateName, injected and reason for the log line', () => {
    expect(record).toEqual({ uid: 'uid-1', namespace: 'payments', pod: 'orders-7d9f8b-', injected: true, reason: 'injected', warnings: [] });
  });

  it('carries warnings to the API server (kubectl shows them)', () => {
    const p = minimalPod({ 'stint.dev/inject': 'true', 'stint.dev/config': 'c', 'stint.dev/gcp-metadata': '9912' });
    ((p.spec as { containers: Json[] }).containers[0]!).env = [{ name: 'GCE_METADATA_HOST', value: 'metadata.internal' }];
    const out = reviewAdmission(admissionReview(p), S);
    expect(out.reply.response.warnings).toEqual(['container app sets GCE_METADATA_HOST itself; left unchanged']);
    expect(out.record.warnings).toEqual(out.reply.response.warnings);
  });
});

describe('pods left alone', () => {
  it('no annotation: allowed, no patch fields at all', () => {
    const { reply, record } = reviewAdmission(admissionReview(minimalPod(null), 'uid-2'), S);
    expect(reply.response).toEqual({ uid: 'uid-2', allowed: true });
    expect(record.reason).toBe('annotation-absent');
  });

  it('already injected: allowed, no second patch', () => {
    const pod = minimalPod();
    const first = reviewAdmission(admissionReview(pod), S).reply.response;
    const injected = applyPatch(pod, JSON.parse(Buffer.from(first.patch!, 'base64').toString('utf8')));
    const { reply, record } = reviewAdmission(admissionReview(injected, 'uid-3'), S);
    expect(reply.response).toEqual({ uid: 'uid-3', allowed: true });
    expect(record).toMatchObject({ injected: false, reason: 'already-injected' });
  });

  it('not a pod creation (an update, another kind, a subresource): allowed untouched', () => {
    const update = admissionReview(minimalPod());
    (update.request as Json).operation = 'UPDATE';
    const deployment = admissionReview(minimalPod());
    (deployment.request as Json).kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
    const sub = admissionReview(minimalPod());
    (sub.request as Json).subResource = 'ephemeralcontainers';
    for (const r of [update, deployment, sub]) {
      const { reply, record } = reviewAdmission(r, S);
      expect(reply.response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
      expect(record.reason).toBe('not-a-pod-creation');
    }
  });
});

describe('bad annotations: denied with a clear status, not an error', () => {
  it('denies with code 400 and names the annotation', () => {
    const { reply, record } = reviewAdmission(admissionReview(minimalPod({ 'stint.dev/inject': 'true', 'stint.dev/config': 'c', 'stint.dev/aws-container': 'abc' }), 'uid-4'), S);
    expect(reply.response).toEqual({
      uid: 'uid-4',
      allowed: false,
      status: { status: 'Failure', code: 400, reason: 'BadRequest', message: 'stint-sidecar injection refused: stint.dev/aws-container must be a port number from 1 to 65535 (got "abc")' },
    });
    expect(record).toMatchObject({ injected: false, reason: 'refused', error: expect.stringContaining('stint.dev/aws-container') });
  });
});

describe('malformed reviews are ERR_INVALID_REQUEST naming the field', () => {
  it('not an object', () => {
    expect(malformed('hello').message).toMatch(/malformed AdmissionReview: \(root\)/);
    expect(malformed(null).message).toMatch(/malformed AdmissionReview/);
  });

  it('admission.k8s.io/v1beta1 (the webhook configuration asks for v1 only)', () => {
    const r = admissionReview(minimalPod());
    r.apiVersion = 'admission.k8s.io/v1beta1';
    expect(malformed(r).message).toBe('malformed AdmissionReview: apiVersion: expected admission.k8s.io/v1');
  });

  it('no request', () => {
    expect(malformed({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }).details.field).toBe('request');
  });

  it('no uid', () => {
    const r = admissionReview(minimalPod());
    delete (r.request as Json).uid;
    expect(malformed(r).details.field).toBe('request.uid');
  });

  it('a pod creation whose object is not a pod', () => {
    const r = admissionReview({ metadata: { name: 'x' }, spec: { containers: [] } });
    expect(malformed(r).details.field).toBe('request.object.spec.containers');
    const r2 = admissionReview(minimalPod());
    (r2.request as Json).object = null;
    expect(malformed(r2).details.field).toBe('request.object');
  });

  it('annotations that are not strings', () => {
    const pod = minimalPod();
    (pod.metadata as Json).annotations = { 'stint.dev/inject': true };
    expect(malformed(admissionReview(pod)).details.field).toBe('request.object.metadata.annotations.stint.dev/inject');
  });
});
