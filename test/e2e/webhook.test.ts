/**
 * Scenario (admission-webhook-injects-sidecar): the real `stint serve` with a `webhook:` section
 * serves the mutating admission webhook over HTTPS; an AdmissionReview posted as the API server
 * posts it (TLS, trusting the webhook's CA) comes back with a JSON Patch that injects
 * `stint-sidecar`; a malformed review is a 400 and the next good one still works; a pod with a bad
 * annotation is denied; every admission is one log line.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCa } from '../support/certs.js';
import { freePort } from '../support/ports.js';
import { runStint, startProgram, type RunningProgram } from '../support/programs.js';
import { admissionReview, applyPatch, busyPod, minimalPod, postHttps, spec, throughV1Pod } from '../webhook/helpers.js';

let dir: string;
let ca: Buffer;
let stint: RunningProgram;
let webhookPort: number;

function config(webhookSection: string): string {
  return `issuer: https://stint.example.com
audience: stint-e2e
listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
store: { kind: sqlite, path: ./state.db }
policy: { file: ./policy.yaml }
attestors:
  - { kind: kubernetes, issuer: https://k8s.example, jwksFile: ./jwks.json }
${webhookSection}`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stint-webhook-e2e-'));
  const testCa = new TestCa(dir);
  const server = testCa.server('webhook', 'localhost');
  ca = readFileSync(testCa.caFile);
  writeFileSync(join(dir, 'policy.yaml'), `version: 1
rules:
  - name: r1
    match: { attestor: kubernetes, issuer: https://k8s.example }
    allow:
      - kind: stint-jwt
        audiences: [https://api.example.com]
        ttl: { default: 5m, max: 10m }
`);
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }] }));
  webhookPort = await freePort();
  writeFileSync(
    join(dir, 'stint.yaml'),
    config(`webhook:
  listen: "127.0.0.1:${webhookPort}"
  tls: { certFile: ${server.certFile}, keyFile: ${server.keyFile} }
  sidecar:
    image: ghcr.io/stint-dev/stint:0.1.0
    stintUrl: https://stint.stint-system.svc:8080
`),
  );
  stint = startProgram(['serve', '--config', join(dir, 'stint.yaml')]);
  await stint.waitFor(/stint listening/);
});

afterAll(async () => {
  await stint?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function patchOf(response: Record<string, unknown>): { op: 'add'; path: string; value: unknown }[] {
  expect(response.patchType).toBe('JSONPatch');
  return JSON.parse(Buffer.from(response.patch as string, 'base64').toString('utf8')) as { op: 'add'; path: string; value: unknown }[];
}

describe('the webhook served by `stint serve`', () => {
  it('announces its port with the other listeners', () => {
    const line = stint.stdout().split('\n').find((l) => l.includes('stint listening'))!;
    expect(JSON.parse(line).webhook).toBe(webhookPort);
  });

  it('injects the sidecar into an annotated pod: the patch applies and the pod fits the Kubernetes API types', async () => {
    const pod = busyPod({ 'stint.dev/inject': 'true', 'stint.dev/config': 'orders-sidecar', 'stint.dev/aws-container': '9911' });
    const res = await postHttps(webhookPort, ca, JSON.stringify(admissionReview(pod, 'e2e-uid-1')));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'e2e-uid-1', allowed: true } });
    const patched = applyPatch(pod, patchOf(res.json.response as Record<string, unknown>));
    const sidecar = spec(patched).initContainers.find((c) => c.name === 'stint-sidecar')!;
    expect(sidecar).toMatchObject({ image: 'ghcr.io/stint-dev/stint:0.1.0', restartPolicy: 'Always' });
    const token = spec(patched).volumes.find((v) => v.name === 'stint-token');
    expect(JSON.stringify(token)).toContain('"audience":"stint-e2e"');
    for (const c of spec(patched).containers) expect(c.env).toContainEqual({ name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://127.0.0.1:9911/v1/credentials' });
    expect(throughV1Pod(patched)).toEqual(patched);
  });

  it('allows a pod without the annotation untouched', async () => {
    const res = await postHttps(webhookPort, ca, JSON.stringify(admissionReview(minimalPod(null), 'e2e-uid-2')));
    expect(res.status).toBe(200);
    expect(res.json.response).toEqual({ uid: 'e2e-uid-2', allowed: true });
  });

  it('denies a pod with a bad annotation, naming it', async () => {
    const res = await postHttps(webhookPort, ca, JSON.stringify(admissionReview(minimalPod({ 'stint.dev/inject': 'yes' }), 'e2e-uid-3')));
    expect(res.status).toBe(200);
    expect(res.json.response).toMatchObject({ uid: 'e2e-uid-3', allowed: false, status: { code: 400, message: expect.stringContaining('stint.dev/inject must be "true" or "false"') } });
  });

  it('a malformed review is HTTP 400 with the field named, and the next good review still works', async () => {
    const bad = admissionReview(minimalPod());
    delete (bad.request as Record<string, unknown>).uid;
    const res = await postHttps(webhookPort, ca, JSON.stringify(bad));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'invalid_request', stint_code: 'ERR_INVALID_REQUEST', field: 'request.uid' });
    const garbage = await postHttps(webhookPort, ca, 'not json at all');
    expect(garbage.status).toBe(400);
    const good = await postHttps(webhookPort, ca, JSON.stringify(admissionReview(minimalPod(), 'e2e-uid-4')));
    expect(good.status).toBe(200);
    expect(good.json.response).toMatchObject({ uid: 'e2e-uid-4', allowed: true, patchType: 'JSONPatch' });
  });

  it('logs one line per admission: namespace, pod, injected, reason', async () => {
    await stint.waitFor(/"uid":"e2e-uid-4"/);
    const lines = stint.stdout().split('\n').filter((l) => l.includes('"msg":"admission"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const byUid = Object.fromEntries(lines.map((l) => [l.uid, l]));
    expect(byUid['e2e-uid-1']).toMatchObject({ namespace: 'payments', pod: 'orders-0', injected: true, reason: 'injected' });
    expect(byUid['e2e-uid-2']).toMatchObject({ pod: 'orders-7d9f8b-', injected: false, reason: 'annotation-absent' });
    expect(byUid['e2e-uid-3']).toMatchObject({ injected: false, reason: 'refused', level: 40 });
    expect(lines.filter((l) => typeof l.uid === 'string' && (l.uid as string).startsWith('e2e-uid-'))).toHaveLength(4);
    expect(stint.stdout()).not.toContain('orders-sidecar');
    expect(stint.stdout()).toMatch(/"msg":"admission review refused".*request\.uid|request\.uid.*"msg":"admission review refused"/);
  });

  it('only speaks HTTPS', async () => {
    const plain = await fetch(`http://127.0.0.1:${webhookPort}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });
});

describe('webhook startup checks', () => {
  it('refuses to start when the webhook certificate cannot be read, naming the key', async () => {
    writeFileSync(join(dir, 'missing-cert.yaml'), config(`webhook:
  listen: "127.0.0.1:0"
  tls: { certFile: ./nope.crt, keyFile: ./nope.key }
  sidecar: { image: "ghcr.io/stint-dev/stint:0.1.0" }
`));
    const res = await runStint(['serve', '--config', join(dir, 'missing-cert.yaml')]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('webhook.tls.certFile');
  });

  it('refuses a webhook section without TLS', async () => {
    writeFileSync(join(dir, 'no-tls.yaml'), config(`webhook:
  sidecar: { image: "ghcr.io/stint-dev/stint:0.1.0" }
`));
    const res = await runStint(['serve', '--config', join(dir, 'no-tls.yaml')]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('webhook.tls');
  });
});
