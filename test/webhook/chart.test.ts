/**
 * The Helm chart, read without a helm binary: values.yaml is documented YAML that every template
 * reference resolves in, template blocks balance, and the injector's wiring (webhook
 * configuration, Service, certificate, the service config's `webhook:` section) agrees with the
 * code it configures.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../src/webhook/annotations.js';
import { MUTATE_PATH } from '../../src/webhook/server.js';
import { sidecarInjectionSchema, webhookConfigSchema } from '../../src/webhook/settings.js';
import { ROOT } from '../support/programs.js';
import { storeConfigSchema } from '../../src/store/config.js';

const CHART = join(ROOT, 'charts/stint');
const read = (f: string): string => readFileSync(join(CHART, f), 'utf8');
const templates = readdirSync(join(CHART, 'templates')).map((f) => ({ name: f, text: read(`templates/${f}`) }));
const values = parse(read('values.yaml')) as Record<string, unknown>;

/** True when `path` exists in values, or runs into a map the user fills (an empty `{}` default, such as a selector). */
function resolves(path: string[]): boolean {
  let node: unknown = values;
  for (const key of path) {
    if (node && typeof node === 'object' && !Array.isArray(node)) {
      if (Object.keys(node).length === 0) return true;
      if (!(key in node)) return false;
      node = (node as Record<string, unknown>)[key];
    } else return false;
  }
  return true;
}

describe('chart files', () => {
  it('every .Values reference in the templates exists in values.yaml', () => {
    const missing: string[] = [];
    for (const t of templates) {
      for (const m of t.text.matchAll(/\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        const path = m[1]!.slice(1).split('.');
        if (!resolves(path)) missing.push(`${t.name}: .Values.${path.join('.')}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('template actions are closed and blocks balance', () => {
    for (const t of templates) {
      expect(t.text.split('{{').length, t.name).toBe(t.text.split('}}').length);
      const opens = [...t.text.matchAll(/\{\{-?\s*(if|with|range|define)\b/g)].length;
      const ends = [...t.text.matchAll(/\{\{-?\s*end\b/g)].length;
      expect(ends, t.name).toBe(opens);
    }
  });

  it('the chart has the common layout: documented values, _helpers.tpl, NOTES.txt', () => {
    const names = templates.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['_helpers.tpl', 'NOTES.txt', 'webhook.yaml']));
    expect(read('values.yaml')).toMatch(/# -- Sidecar injection/);
  });
});

describe('injector wiring', () => {
  const webhook = templates.find((t) => t.name === 'webhook.yaml')!.text;
  const configmap = templates.find((t) => t.name === 'configmap.yaml')!.text;
  const deployment = templates.find((t) => t.name === 'deployment.yaml')!.text;
  const injector = values.injector as { enabled: boolean; failurePolicy: string; timeoutSeconds: number; sidecar: Record<string, unknown>; tls: Record<string, unknown> };

  it('is off by default, and everything it renders is behind injector.enabled', () => {
    expect(injector.enabled).toBe(false);
    expect(webhook.trimStart().startsWith('{{- if .Values.injector.enabled }}')).toBe(true);
    expect(configmap).toMatch(/\{\{- if \.Values\.injector\.enabled \}\}\n {4}webhook:/);
  });

  it('registers a v1, side-effect-free webhook for pod creation, at the path the listener serves', () => {
    expect(webhook).toContain('kind: MutatingWebhookConfiguration');
    expect(webhook).toContain('admissionReviewVersions: [v1]');
    expect(webhook).toContain('sideEffects: None');
    expect(webhook).toContain('- operations: [CREATE]');
    expect(webhook).toContain('resources: [pods]');
    expect(webhook).toContain(`path: ${MUTATE_PATH}`);
    expect(webhook).toContain('failurePolicy: {{ .Values.injector.failurePolicy }}');
    expect(webhook).toContain('timeoutSeconds: {{ .Values.injector.timeoutSeconds }}');
    expect(['Fail', 'Ignore']).toContain(injector.failurePolicy);
    expect(injector.timeoutSeconds).toBeGreaterThanOrEqual(1);
    expect(injector.timeoutSeconds).toBeLessThanOrEqual(30);
  });

  it('sends only pods that carry the inject annotation (matchConditions), never from kube-system or Stint\'s namespace', () => {
    expect(webhook).toContain(`'${ANNOTATIONS.inject}' in object.metadata.annotations`);
    expect(webhook).toMatch(/operator: NotIn\n\s+values: \[kube-system, kube-node-lease, \{\{ \.Release\.Namespace \| quote \}\}\]/);
  });

  it('generates a CA and serving certificate for the Service name unless an existing Secret and caBundle are given', () => {
    expect(webhook).toContain('genCA');
    expect(webhook).toContain('genSignedCert');
    expect(webhook).toContain('lookup "v1" "Secret"');
    expect(webhook).toContain('caBundle: {{ $caBundle }}');
    expect(webhook).toMatch(/required "injector\.tls\.caBundle/);
    expect(injector.tls).toMatchObject({ existingSecret: '', caBundle: '' });
    expect(read('values.yaml')).toMatch(/rotates them/);
  });

  it('mounts the certificate where the service config reads it, and exposes the webhook port', () => {
    expect(deployment).toContain('mountPath: /var/run/stint/webhook-tls');
    expect(configmap).toContain('certFile: /var/run/stint/webhook-tls/tls.crt, keyFile: /var/run/stint/webhook-tls/tls.key');
    expect(deployment).toContain('- { name: webhook, containerPort: {{ .Values.injector.port }} }');
    expect(webhook).toContain('- { name: webhook, port: 443, targetPort: webhook }');
  });

  it('the webhook section the chart writes uses only keys the service config knows', () => {
    const section = configmap.slice(configmap.indexOf('    webhook:'), configmap.indexOf('\n    {{- end }}', configmap.indexOf('    webhook:')));
    const keysAt = (indent: number): string[] => [...section.matchAll(new RegExp(`^ {${indent}}([A-Za-z]+):`, 'gm'))].map((m) => m[1]!);
    expect(keysAt(6).every((k) => k in webhookConfigSchema.shape)).toBe(true);
    expect(keysAt(8).length).toBeGreaterThan(5);
    expect(keysAt(8).filter((k) => !(k in sidecarInjectionSchema.shape))).toEqual([]);
  });

  it('the sidecar defaults in values.yaml are valid injector settings', () => {
    const s = injector.sidecar as { tokenExpiration: string; opsPort: number; runAsUser: number; resources: unknown; image: { pullPolicy: string } };
    const parsed = sidecarInjectionSchema.parse({ image: 'ghcr.io/stint-dev/stint:0.1.0', imagePullPolicy: s.image.pullPolicy, tokenExpiration: s.tokenExpiration, opsPort: s.opsPort, runAsUser: s.runAsUser, resources: s.resources });
    expect(parsed.tokenExpiration).toBe(600);
    expect(parsed.opsPort).toBe(8099);
  });

  it('NOTES.txt tells how to use it', () => {
    const notes = read('templates/NOTES.txt');
    expect(notes).toContain('{{- if .Values.injector.enabled }}');
    expect(notes).toContain('stint.dev/inject: "true"');
    expect(notes).toContain('docs/sidecar.md');
  });
});

describe('store wiring', () => {
  const configmap = read('templates/configmap.yaml');
  const deployment = read('templates/deployment.yaml');

  it('writes a store section the service config accepts, for sqlite and for postgres', () => {
    expect(configmap).toContain('kind: postgres\n      url: { env: STINT_STORE_URL }');
    expect(configmap).toContain('kind: sqlite\n      path: /var/lib/stint/stint.db');
    expect(storeConfigSchema.safeParse({ kind: 'postgres', url: { env: 'STINT_STORE_URL' } }).success).toBe(true);
    expect(storeConfigSchema.safeParse({ kind: 'sqlite', path: '/var/lib/stint/stint.db' }).success).toBe(true);
    expect((values.store as { kind: string }).kind).toBe('sqlite');
  });

  it('gives the PostgreSQL URL from a Secret, never the ConfigMap, and refuses several SQLite replicas', () => {
    expect(deployment).toMatch(/name: STINT_STORE_URL\s+valueFrom:\s+secretKeyRef: \{ name: \{\{ \.Values\.store\.postgres\.urlSecret\.name \}\}/);
    expect(deployment).toContain('fail "replicaCount above 1 needs store.kind: postgres');
    expect(read('templates/pvc.yaml')).toContain('(eq .Values.store.kind "sqlite")');
  });
});
