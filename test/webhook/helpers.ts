/**
 * Realistic pods, a real RFC 6902 implementation and the Kubernetes API types for the injector's
 * tests, and the admission webhook listener under test (TLS from a test CA, log lines kept).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import type { JsonPatchAdd } from '../../src/webhook/json_patch.js';
import { podSchema, type PodView } from '../../src/webhook/pod.js';
import { injectorSettings, sidecarInjectionSchema, type InjectorSettings } from '../../src/webhook/settings.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createWebhookServer, type WebhookServer } from '../../src/webhook/server.js';
import { TestCa } from '../support/certs.js';
import { jsonLogSink } from '../support/stint_under_test.js';

/** Stint's audience in these tests. */
export const AUDIENCE = 'stint-webhook-test';

/** Injector settings as the service would resolve them from a `webhook.sidecar` section. */
export function settings(extra: Record<string, unknown> = {}): InjectorSettings {
  return injectorSettings(sidecarInjectionSchema.parse({ image: 'ghcr.io/stint-dev/stint:0.1.0', stintUrl: 'https://stint.stint-system.svc:8080', ...extra }), AUDIENCE);
}

type Json = Record<string, unknown>;

/** A pod the way a ReplicaSet controller submits one: generateName, no volumes of its own, one container. */
export function minimalPod(annotations: Record<string, string> | null = { 'stint.dev/inject': 'true', 'stint.dev/config': 'orders-sidecar' }): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'orders-7d9f8b-', namespace: 'payments', labels: { app: 'orders' }, ...(annotations ? { annotations } : {}) },
    spec: {
      serviceAccountName: 'orders',
      containers: [{ name: 'app', image: 'registry.example.com/orders:1.4.2', ports: [{ containerPort: 8080, name: 'http' }] }],
    },
  };
}

/** A busier pod: volumes, an init container, env and mounts already present, two app containers. */
export function busyPod(annotations: Record<string, string> = { 'stint.dev/inject': 'true', 'stint.dev/config': 'orders-sidecar' }): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'orders-0', namespace: 'payments', annotations: { 'prometheus.io/scrape': 'true', ...annotations } },
    spec: {
      serviceAccountName: 'orders',
      securityContext: { runAsNonRoot: true, fsGroup: 2000 },
      initContainers: [{ name: 'migrate', image: 'registry.example.com/orders-migrate:1.4.2', args: ['up'] }],
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/orders:1.4.2',
          env: [{ name: 'LOG_LEVEL', value: 'debug' }, { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
          volumeMounts: [{ name: 'cache', mountPath: '/var/cache/orders' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
        },
        { name: 'log-shipper', image: 'registry.example.com/shipper:2.0', volumeMounts: [{ name: 'cache', mountPath: '/logs', readOnly: true }] },
      ],
      volumes: [{ name: 'cache', emptyDir: {} }, { name: 'tls', secret: { secretName: 'orders-tls' } }],
    },
  };
}

/** The pod as the injector sees it. */
export function view(pod: Json): PodView {
  return podSchema.parse(pod);
}

/** Apply the patch with fast-json-patch, validating every operation (a missing parent array throws). */
export function applyPatch(pod: Json, patch: readonly JsonPatchAdd[]): Json {
  return jsonpatch.applyPatch(structuredClone(pod), structuredClone(patch) as jsonpatch.Operation[], true, false).newDocument;
}

/**
 * The pod through the Kubernetes API types (@kubernetes/client-node V1Pod): fields the types do
 * not know are dropped, so a round trip equal to the input proves every field name is real.
 */
export function throughV1Pod(pod: Json): unknown {
  return ObjectSerializer.serialize(ObjectSerializer.deserialize(structuredClone(pod), 'V1Pod', ''), 'V1Pod', '');
}

/** Container and volume lookups on a patched pod. */
export function spec(pod: Json): { containers: Json[]; initContainers: Json[]; volumes: Json[] } {
  const s = pod.spec as { containers: Json[]; initContainers?: Json[]; volumes?: Json[] };
  return { containers: s.containers, initContainers: s.initContainers ?? [], volumes: s.volumes ?? [] };
}

/** The AdmissionReview the API server sends for a pod creation. */
export function admissionReview(pod: Json, uid = '705ab4f5-6393-11e8-b7cc-42010a800002'): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'payments',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'b2c3', groups: ['system:serviceaccounts', 'system:authenticated'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** POST over HTTPS as the API server does: JSON body, the webhook's CA, its service name as SNI. */
export function postHttps(port: number, ca: Buffer, body: string, options: { path?: string; contentType?: string; method?: string } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: options.path ?? '/mutate', method: options.method ?? 'POST', ca, servername: 'localhost', agent: false, headers: { 'content-type': options.contentType ?? 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> });
          } catch (e) {
            reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`, { cause: e }));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The webhook listener on a loopback port, serving tls.crt/tls.key of its folder (issued by `ca`). */
export interface WebhookUnderTest {
  readonly dir: string;
  readonly ca: TestCa;
  readonly webhook: WebhookServer;
  readonly port: number;
  /** Parsed log lines so far. */
  readonly lines: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Start the admission webhook listener (`limits` as the service would pass them). */
export async function startWebhookUnderTest(prefix: string, limits?: Parameters<typeof createWebhookServer>[0]['limits']): Promise<WebhookUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ca = new TestCa(dir, 'a-');
  const cert = ca.server('webhook', 'localhost');
  copyFileSync(cert.certFile, join(dir, 'tls.crt'));
  copyFileSync(cert.keyFile, join(dir, 'tls.key'));
  const lines: Record<string, unknown>[] = [];
  const webhook = createWebhookServer({
    settings: settings(),
    logger: createLogger('info', jsonLogSink(lines)),
    tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
    tlsReloadIntervalMs: 0,
    ...(limits ? { limits } : {}),
  });
  await new Promise<void>((r) => webhook.server.listen(0, '127.0.0.1', () => r()));
  return {
    dir,
    ca,
    webhook,
    port: (webhook.server.address() as { port: number }).port,
    lines,
    async close() {
      await webhook.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
