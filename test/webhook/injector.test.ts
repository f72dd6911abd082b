/**
 * The injector on realistic pods: the patch applies with a real RFC 6902 implementation
 * (fast-json-patch, every operation validated), the patched pod survives the Kubernetes API types,
 * injecting twice changes nothing, and bad annotations are refused with the annotation named.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InjectionRefusedError } from '../../src/errors.js';
import { planInjection } from '../../src/webhook/injector.js';
import { AUDIENCE, applyPatch, busyPod, minimalPod, settings, spec, throughV1Pod, view } from './helpers.js';

type Json = Record<string, unknown>;
const S = settings();

function inject(pod: Json, s = S): { patched: Json; warnings: readonly string[]; patch: readonly { op: string; path: string }[] } {
  const plan = planInjection(view(pod), s);
  expect(plan.injected).toBe(true);
  return { patched: applyPatch(pod, plan.patch), warnings: plan.warnings, patch: plan.patch };
}

function refusal(pod: Json): InjectionRefusedError {
  try {
    planInjection(view(pod), S);
  } catch (e) {
    expect(e).toBeInstanceOf(InjectionRefusedError);
    expect((e as InjectionRefusedError).code).toBe('ERR_INVALID_REQUEST');
    return e as InjectionRefusedError;
  }
  throw new Error('expected the injection to be refused');
}

const sidecarOf = (pod: Json): Json => spec(pod).initContainers.find((c) => c.name === 'stint-sidecar')!;

describe('a pod with no volumes, init containers, env or mounts', () => {
  const pod = minimalPod();
  const { patched, patch } = inject(pod);

  it('adds each missing array whole instead of appending to it', () => {
    const paths = patch.map((p) => p.path);
    expect(paths).toContain('/spec/volumes');
    expect(paths).toContain('/spec/initContainers');
    expect(paths).toContain('/spec/containers/0/volumeMounts');
    expect(paths.some((p) => p.endsWith('/-'))).toBe(false);
    expect(patch.every((p) => p.op === 'add')).toBe(true);
  });

  it('escapes the annotation key in the JSON Pointer (RFC 6901) and marks the pod injected', () => {
    expect(patch.map((p) => p.path)).toContain('/metadata/annotations/stint.dev~1status');
    expect((patched.metadata as { annotations: Record<string, string> }).annotations['stint.dev/status']).toBe('injected');
  });

  it('adds the projected token with Stint audience and a short lifetime, a memory tmpfs and the ConfigMap', () => {
    const volumes = Object.fromEntries(spec(patched).volumes.map((v) => [v.name, v]));
    expect(volumes['stint-token']).toEqual({ name: 'stint-token', projected: { sources: [{ serviceAccountToken: { audience: AUDIENCE, expirationSeconds: 600, path: 'token' } }] } });
    expect(volumes['stint-run']).toEqual({ name: 'stint-run', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
    expect(volumes['stint-config']).toEqual({ name: 'stint-config', configMap: { name: 'orders-sidecar' } });
  });

  it('adds the sidecar as a native sidecar: restartPolicy Always, probes on /readyz, locked down', () => {
    const c = sidecarOf(patched);
    expect(c.restartPolicy).toBe('Always');
    expect(c.image).toBe('ghcr.io/stint-dev/stint:0.1.0');
    expect(c.args).toEqual(['sidecar', '--config', '/etc/stint/sidecar.yaml']);
    expect(c.startupProbe).toMatchObject({ httpGet: { path: '/readyz', port: 8099 }, periodSeconds: 1, failureThreshold: 120 });
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 8099 } });
    expect(c.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 8099 } });
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.resources).toEqual({ requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '96Mi' } });
    expect(c.volumeMounts).toEqual([
      { name: 'stint-token', mountPath: '/var/run/secrets/stint', readOnly: true },
      { name: 'stint-run', mountPath: '/var/run/stint' },
      { name: 'stint-config', mountPath: '/etc/stint', readOnly: true },
    ]);
    expect(c.env).toContainEqual({ name: 'STINT_URL', value: 'https://stint.stint-system.svc:8080' });
    // The sidecar's defaults for what sidecar.yaml leaves out: the injected token, the probed port.
    expect(c.env).toContainEqual({ name: 'STINT_SUBJECT_TOKEN_FILE', value: '/var/run/secrets/stint/token' });
    expect(c.env).toContainEqual({ name: 'STINT_SIDECAR_OPS_LISTEN', value: '0.0.0.0:8099' });
  });

  it('mounts the tmpfs read-only into the app container, and nothing else', () => {
    const app = spec(patched).containers[0]!;
    expect(app.volumeMounts).toEqual([{ name: 'stint-run', mountPath: '/var/run/stint', readOnly: true }]);
    expect(app.env).toBeUndefined();
    expect(JSON.stringify(app)).not.toContain('stint-token');
  });

  it('yields a pod whose every field name the Kubernetes API types know', () => {
    expect(throughV1Pod(patched)).toEqual(patched);
    // The check has teeth: a misspelt field does not survive the API types.
    const misspelt = structuredClone(patched);
    (sidecarOf(misspelt) as Json).restartPolicyy = 'Always';
    expect(throughV1Pod(misspelt)).not.toEqual(misspelt);
  });
});

describe('a pod with volumes, an init container, env, mounts and two containers', () => {
  const pod = busyPod({ 'stint.dev/inject': 'true', 'stint.dev/config': 'orders-sidecar', 'stint.dev/aws-container': '9911', 'stint.dev/gcp-metadata': '9912' });
  const { patched, patch } = inject(pod);

  it('appends to existing arrays with /- and keeps what was there, in order', () => {
    expect(patch.map((p) => p.path)).toEqual(expect.arrayContaining(['/spec/volumes/-', '/spec/initContainers/-', '/spec/containers/0/env/-', '/spec/containers/0/volumeMounts/-', '/spec/containers/1/env']));
    expect(spec(patched).volumes.map((v) => v.name)).toEqual(['cache', 'tls', 'stint-token', 'stint-run', 'stint-config']);
    expect(spec(patched).initContainers.map((c) => c.name)).toEqual(['migrate', 'stint-sidecar']);
    expect(spec(patched).containers[0]!.volumeMounts).toEqual([{ name: 'cache', mountPath: '/var/cache/orders' }, { name: 'stint-run', mountPath: '/var/run/stint', readOnly: true }]);
  });

  it('gives every app container the AWS and GCP endpoint variables', () => {
    for (const c of spec(patched).containers) {
      expect(c.env).toEqual(
        expect.arrayContaining([
          { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://127.0.0.1:9911/v1/credentials' },
          { name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', value: '/var/run/stint/aws-token' },
          { name: 'GCE_METADATA_HOST', value: '127.0.0.1:9912' },
        ]),
      );
    }
    expect((spec(patched).containers[0]!.env as Json[]).slice(0, 2).map((e) => e.name)).toEqual(['LOG_LEVEL', 'POD_IP']);
  });

  it('leaves the pod and its other annotations intact otherwise', () => {
    expect((patched.metadata as { annotations: Record<string, string> }).annotations['prometheus.io/scrape']).toBe('true');
    expect((patched.spec as Json).securityContext).toEqual({ runAsNonRoot: true, fsGroup: 2000 });
    expect(throughV1Pod(patched)).toEqual(patched);
  });
});

describe('never overwrites what a container sets', () => {
  it('keeps a container own AWS variable and says so in a warning', () => {
    const pod = busyPod({ 'stint.dev/inject': 'true', 'stint.dev/config': 'c', 'stint.dev/aws-container': '9911' });
    const app = (pod.spec as { containers: Json[] }).containers[0]!;
    (app.env as Json[]).push({ name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://127.0.0.1:7000/creds' });
    const { patched, warnings } = inject(pod);
    const env = spec(patched).containers[0]!.env as { name: string; value: string }[];
    expect(env.filter((e) => e.name === 'AWS_CONTAINER_CREDENTIALS_FULL_URI')).toEqual([{ name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://127.0.0.1:7000/creds' }]);
    expect(env.map((e) => e.name)).toContain('AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE');
    expect(warnings).toEqual(['container app sets AWS_CONTAINER_CREDENTIALS_FULL_URI itself; left unchanged']);
  });

  it('warns about variables SDKs prefer over the injected endpoints', () => {
    const pod = busyPod({ 'stint.dev/inject': 'true', 'stint.dev/config': 'c', 'stint.dev/aws-container': '9911', 'stint.dev/gcp-metadata': '9912' });
    (pod.spec as { containers: Json[] }).containers[1]!.env = [{ name: 'AWS_ACCESS_KEY_ID', value: 'AKIAEXAMPLE' }, { name: 'GOOGLE_APPLICATION_CREDENTIALS', value: '/key.json' }];
    const { warnings } = inject(pod);
    expect(warnings).toEqual([
      "container log-shipper sets AWS_ACCESS_KEY_ID, which SDKs prefer over Stint's endpoint",
      "container log-shipper sets GOOGLE_APPLICATION_CREDENTIALS, which SDKs prefer over Stint's endpoint",
    ]);
    expect(warnings.join()).not.toContain('AKIAEXAMPLE');
  });

  it('skips the mount in a container that already mounts /var/run/stint, with a warning', () => {
    const pod = busyPod();
    (pod.spec as { containers: Json[] }).containers[1]!.volumeMounts = [{ name: 'cache', mountPath: '/var/run/stint/' }];
    const { patched, warnings } = inject(pod);
    expect(spec(patched).containers[1]!.volumeMounts).toEqual([{ name: 'cache', mountPath: '/var/run/stint/' }]);
    expect(warnings).toEqual(['container log-shipper already mounts /var/run/stint/; stint-run not mounted there']);
  });
});

describe('idempotence', () => {
  it('a pod that already holds the sidecar gets no patch', () => {
    for (const pod of [minimalPod(), busyPod({ 'stint.dev/inject': 'true', 'stint.dev/config': 'c', 'stint.dev/aws-container': '9911' })]) {
      const once = inject(pod).patched;
      const again = planInjection(view(once), S);
      expect(again).toEqual({ injected: false, reason: 'already-injected', patch: [], warnings: [] });
    }
  });

  it('a sidecar added by hand as a regular container counts as injected too', () => {
    const pod = minimalPod();
    (pod.spec as { containers: Json[] }).containers.push({ name: 'stint-sidecar', image: 'x' });
    expect(planInjection(view(pod), S).reason).toBe('already-injected');
  });
});

describe('pods that did not ask', () => {
  it('no annotations at all: allowed, no patch', () => {
    expect(planInjection(view(minimalPod(null)), S)).toEqual({ injected: false, reason: 'annotation-absent', patch: [], warnings: [] });
  });

  it('other annotations only: no patch', () => {
    expect(planInjection(view(minimalPod({ 'prometheus.io/scrape': 'true' })), S).reason).toBe('annotation-absent');
  });

  it('stint.dev/inject "false": no patch, even with other stint.dev annotations', () => {
    expect(planInjection(view(minimalPod({ 'stint.dev/inject': 'false', 'stint.dev/aws-container': 'nonsense' })), S).reason).toBe('annotation-false');
  });
});

describe('per-pod choices', () => {
  it('stint.dev/audience and stint.dev/ops-port override the defaults', () => {
    const { patched } = inject(minimalPod({ 'stint.dev/inject': 'true', 'stint.dev/config': 'c', 'stint.dev/audience': 'https://stint.example.com', 'stint.dev/ops-port': '9100' }));
    const token = spec(patched).volumes.find((v) => v.name === 'stint-token') as { projected: { sources: [{ serviceAccountToken: { audience: string } }] } };
    expect(token.projected.sources[0].serviceAccountToken.audience).toBe('https://stint.example.com');
    expect(sidecarOf(patched).startupProbe).toMatchObject({ httpGet: { port: 9100 } });
    expect(sidecarOf(patched).ports).toEqual([{ name: 'stint-ops', containerPort: 9100, protocol: 'TCP' }]);
    expect(sidecarOf(patched).env).toContainEqual({ name: 'STINT_SIDECAR_OPS_LISTEN', value: '0.0.0.0:9100' });
  });

  it('injector settings shape the sidecar: pull policy, group, token lifetime, resources, no STINT_URL when unset', () => {
    const s = settings({ imagePullPolicy: 'Always', runAsGroup: 2000, tokenExpiration: '1h', stintUrl: undefined, resources: { limits: { memory: '64Mi', cpu: '200m' } } });
    const { patched } = inject(minimalPod(), s);
    const c = sidecarOf(patched);
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.securityContext).toMatchObject({ runAsGroup: 2000 });
    expect(c.resources).toEqual({ limits: { memory: '64Mi', cpu: '200m' } });
    expect((c.env as { name: string }[]).map((e) => e.name)).not.toContain('STINT_URL');
    expect(JSON.stringify(spec(patched).volumes)).toContain('"expirationSeconds":3600');
    expect(throughV1Pod(patched)).toEqual(patched);
  });
});

describe('bad annotations and pods are refused with the annotation named, never a crash', () => {
  const base = { 'stint.dev/inject': 'true', 'stint.dev/config': 'orders-sidecar' };
  const cases: [string, Record<string, string>, string | null, RegExp][] = [
    ['inject is neither "true" nor "false"', { 'stint.dev/inject': 'yes' }, 'stint.dev/inject', /must be "true" or "false" \(got "yes"\)/],
    ['inject is "True" (compared byte-exact)', { 'stint.dev/inject': 'True' }, 'stint.dev/inject', /"True"/],
    ['no ConfigMap named', { 'stint.dev/inject': 'true' }, 'stint.dev/config', /must name the ConfigMap/],
    ['ConfigMap name is not a DNS subdomain', { ...base, 'stint.dev/config': 'Orders_Sidecar' }, 'stint.dev/config', /ConfigMap name/],
    ['aws port is not a number', { ...base, 'stint.dev/aws-container': 'http' }, 'stint.dev/aws-container', /port number from 1 to 65535 \(got "http"\)/],
    ['aws port 0', { ...base, 'stint.dev/aws-container': '0' }, 'stint.dev/aws-container', /1 to 65535/],
    ['gcp port above 65535', { ...base, 'stint.dev/gcp-metadata': '65536' }, 'stint.dev/gcp-metadata', /1 to 65535/],
    ['gcp port with a sign', { ...base, 'stint.dev/gcp-metadata': '+8080' }, 'stint.dev/gcp-metadata', /1 to 65535/],
    ['aws and gcp on one port', { ...base, 'stint.dev/aws-container': '9911', 'stint.dev/gcp-metadata': '9911' }, 'stint.dev/gcp-metadata', /same port 9911/],
    ['an endpoint on the ops port', { ...base, 'stint.dev/aws-container': '8099' }, 'stint.dev/ops-port', /ops port 8099/],
    ['a misspelt stint.dev annotation', { ...base, 'stint.dev/aws-contianer': '9911' }, 'stint.dev/aws-contianer', /unknown annotation stint.dev\/aws-contianer/],
    ['inline config', { ...base, 'stint.dev/config-inline': 'stint: {}' }, 'stint.dev/config-inline', /not supported: put sidecar.yaml in a ConfigMap/],
    ['empty audience', { ...base, 'stint.dev/audience': ' ' }, 'stint.dev/audience', /non-empty audience/],
  ];
  for (const [name, annotations, annotation, message] of cases) {
    it(name, () => {
      const e = refusal(minimalPod(annotations));
      expect(e.annotation).toBe(annotation);
      expect(e.message).toMatch(message);
    });
  }

  it('a hostNetwork pod (loopback endpoints would be the node\'s)', () => {
    const pod = minimalPod();
    (pod.spec as Json).hostNetwork = true;
    expect(refusal(pod).message).toMatch(/hostNetwork/);
  });

  it('a pod that already has a volume with an injected name', () => {
    const pod = busyPod();
    (pod.spec as { volumes: Json[] }).volumes.push({ name: 'stint-run', emptyDir: {} });
    expect(refusal(pod).message).toMatch(/already has a volume named stint-run/);
  });

  it('a container that already uses the sidecar ops port', () => {
    const pod = minimalPod();
    (pod.spec as { containers: Json[] }).containers[0]!.ports = [{ containerPort: 8099 }];
    expect(refusal(pod).message).toMatch(/container app uses port 8099/);
  });

  it('long values are cut short in the message', () => {
    const e = refusal(minimalPod({ 'stint.dev/inject': 'x'.repeat(500) }));
    expect(e.message.length).toBeLessThan(120);
  });
});

describe('property: any mix of present and absent arrays', () => {
  const envVar = fc.constantFrom('LOG_LEVEL', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'GCE_METADATA_HOST', 'HOME');
  const container = (i: number) =>
    fc.record({
      env: fc.option(fc.uniqueArray(envVar, { maxLength: 3 }), { nil: undefined }),
      mounts: fc.option(fc.constantFrom([], [{ name: 'cache', mountPath: '/cache' }]), { nil: undefined }),
    }).map(({ env, mounts }) => ({
      name: `c${i}`,
      image: 'registry.example.com/app:1',
      ...(env ? { env: env.map((name) => ({ name, value: 'v' })) } : {}),
      ...(mounts ? { volumeMounts: mounts } : {}),
    }));
  const pods = fc
    .record({
      n: fc.integer({ min: 1, max: 4 }),
      volumes: fc.option(fc.constantFrom([], [{ name: 'cache', emptyDir: {} }]), { nil: undefined }),
      inits: fc.option(fc.constantFrom([], [{ name: 'migrate', image: 'm' }]), { nil: undefined }),
      aws: fc.boolean(),
      gcp: fc.boolean(),
    })
    .chain(({ n, volumes, inits, aws, gcp }) =>
      fc.tuple(...Array.from({ length: n }, (_, i) => container(i))).map((containers) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', annotations: { 'stint.dev/inject': 'true', 'stint.dev/config': 'c', ...(aws ? { 'stint.dev/aws-container': '9911' } : {}), ...(gcp ? { 'stint.dev/gcp-metadata': '9912' } : {}) } },
        spec: { containers, ...(volumes ? { volumes } : {}), ...(inits ? { initContainers: inits } : {}) },
      })),
    );

  it('the patch applies, injects exactly once, mounts every container once, keeps env values, and re-injection is a no-op', () => {
    fc.assert(
      fc.property(pods, (pod) => {
        const plan = planInjection(view(pod), S);
        const patched = applyPatch(pod, plan.patch);
        const s = spec(patched);
        expect(s.initContainers.filter((c) => c.name === 'stint-sidecar')).toHaveLength(1);
        for (const [i, c] of s.containers.entries()) {
          expect((c.volumeMounts as { name: string }[]).filter((m) => m.name === 'stint-run')).toHaveLength(1);
          const names = ((c.env as { name: string }[] | undefined) ?? []).map((e) => e.name);
          expect(new Set(names).size).toBe(names.length);
          for (const before of (pod.spec.containers[i] as { env?: { name: string; value: string }[] }).env ?? []) {
            expect(c.env).toContainEqual(before);
          }
        }
        expect(planInjection(view(patched), S).patch).toEqual([]);
        expect(throughV1Pod(patched)).toEqual(patched);
      }),
      { numRuns: 150 },
    );
  });
});
