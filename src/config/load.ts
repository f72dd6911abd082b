/** Load and validate the service configuration file. */
import { attestorPlugin } from '../attestation/registry.js';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { formatKeyPath } from '../key_path.js';
import { configSchema, type StintConfig, type TlsConfig } from './schema.js';

/** Render a zod issue path as `a.b[2].c`. */
export const formatPath = (path: readonly PropertyKey[]): string => formatKeyPath(path);

/** Validate an already-parsed configuration object; throws ConfigError naming the key path. */
export function validateConfig(raw: unknown, source = 'config'): StintConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue: z.core.$ZodIssue | undefined = result.error.issues[0];
    const path = issue ? formatPath(issue.path) : '';
    throw new ConfigError('ERR_CONFIG_INVALID', path || '(root)', `${issue?.message ?? 'invalid'} (in ${source})`, {
      issues: result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    });
  }
  return result.data;
}

/** Read, parse and validate a YAML config file; relative file paths inside resolve against its folder. */
export function loadConfigFile(file: string): StintConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('ERR_CONFIG_INVALID', '(file)', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let raw: unknown;
  try {
    raw = parse(text, { uniqueKeys: true });
  } catch (e) {
    throw new ConfigError('ERR_CONFIG_INVALID', '(syntax)', `${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const config = validateConfig(raw, file);
  return resolvePaths(config, dirname(resolve(file)));
}

/** Resolve relative paths in the config against a base folder. */
export function resolvePaths(config: StintConfig, base: string): StintConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  return {
    ...config,
    store: storePaths(config.store, abs),
    policy: { ...config.policy, file: abs(config.policy.file), ...(config.policy.shadowFile ? { shadowFile: abs(config.policy.shadowFile) } : {}) },
    // Each attestor kind knows which of its settings are files.
    attestors: config.attestors.map((a) => (attestorPlugin(a.kind)?.resolvePaths?.(a as never, abs) as typeof a | undefined) ?? a),
    ...(config.tls ? { tls: tlsPaths(config.tls, abs) } : {}),
    admin: {
      ...config.admin,
      tokens: config.admin.tokens.map((t) => ('file' in t.secret ? { ...t, secret: { file: abs(t.secret.file) } } : t)),
      ...(config.admin.tls ? { tls: tlsPaths(config.admin.tls, abs) } : {}),
    },
    providers: resolveProviderPaths(config.providers, abs),
    ...(config.webhook ? { webhook: { ...config.webhook, tls: { certFile: abs(config.webhook.tls.certFile), keyFile: abs(config.webhook.tls.keyFile) } } } : {}),
  };
}

/** The SQLite file, or the file a PostgreSQL URL is read from. */
function storePaths(store: StintConfig['store'], abs: (p: string) => string): StintConfig['store'] {
  if (store.kind === 'sqlite') return { ...store, path: store.path === ':memory:' ? ':memory:' : abs(store.path) };
  return 'file' in store.url ? { ...store, url: { file: abs(store.url.file) } } : store;
}

function tlsPaths(tls: TlsConfig, abs: (p: string) => string): TlsConfig {
  return { certFile: abs(tls.certFile), keyFile: abs(tls.keyFile), ...(tls.clientCaFile ? { clientCaFile: abs(tls.clientCaFile) } : {}) };
}

/** File paths inside provider settings (credential files, CA bundles, kubeconfigs, secret references). */
function resolveProviderPaths(providers: StintConfig['providers'], abs: (p: string) => string): StintConfig['providers'] {
  const file = <T>(v: T): T => (v && typeof v === 'object' && 'file' in v && typeof v.file === 'string' ? { ...v, file: abs(v.file) } : v);
  const opt = (v: string | undefined): string | undefined => (v === undefined ? v : abs(v));
  const { aws, gcp, vault, kubernetes, postgres } = providers;
  return {
    ...providers,
    ...(aws ? { aws: { ...aws, ...(aws.credentials ? { credentials: Object.fromEntries(Object.entries(aws.credentials).map(([k, v]) => [k, file(v)])) as typeof aws.credentials } : {}) } } : {}),
    ...(gcp ? { gcp: { ...gcp, credentialsFile: opt(gcp.credentialsFile) } } : {}),
    ...(vault ? { vault: { ...vault, caFile: opt(vault.caFile) } } : {}),
    ...(kubernetes ? { kubernetes: { ...kubernetes, kubeconfig: opt(kubernetes.kubeconfig), caFile: opt(kubernetes.caFile), tokenFile: opt(kubernetes.tokenFile) } } : {}),
    ...(postgres
      ? { postgres: { ...postgres, databases: Object.fromEntries(Object.entries(postgres.databases).map(([k, d]) => [k, { ...d, adminUrl: file(d.adminUrl) }])) as typeof postgres.databases } }
      : {}),
  };
}


