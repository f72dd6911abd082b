/**
 * Stint's connection to one Kubernetes API server through @kubernetes/client-node: a KubeConfig
 * (from a kubeconfig file, or built from server + CA file + token file) and the CoreV1Api and
 * RbacAuthorizationV1Api clients it makes. The client library is loaded on first use (it takes
 * most of a second to import), but every file is read and checked at startup.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConfigurationOptions, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import type { Clock } from '../../clock.js';
import { ConfigError } from '../../errors.js';
import { classifyKubernetesError } from '../../kube/api_errors.js';
import { loadKubeClient, type KubeSource } from '../../kube/client.js';
import { IN_CLUSTER_CA_FILE, IN_CLUSTER_SERVER, IN_CLUSTER_TOKEN_FILE } from '../../kube/in_cluster.js';
import type { UpstreamObserver } from '../../upstream/call.js';
import { callUpstream } from '../../upstream/call.js';
import type { KubernetesProviderConfig } from './config.js';

const CONFIG_PATH = 'providers.kubernetes';

/** Where the connection comes from, checked at startup. */
export type ConnectionSource = KubeSource;

/** The API server as workloads should reach it (for generated kubeconfigs). */
export interface ClusterInfo {
  readonly server: string;
  /** PEM CA bundle, or null when the kubeconfig names none (system trust). */
  readonly caPem: string | null;
  readonly skipTLSVerify: boolean;
}

/** The API clients of one connection. */
export interface KubeApis {
  readonly core: CoreV1Api;
  readonly rbac: RbacAuthorizationV1Api;
  readonly cluster: ClusterInfo;
}

/** Per-call client options (carry the timeout's abort signal). */
export type CallOptions = ConfigurationOptions;

/** Options of KubernetesConnection. */
export interface ConnectionOptions {
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly observe?: UpstreamObserver;
}

function configError(key: string, message: string): ConfigError {
  return new ConfigError('ERR_CONFIG_INVALID', `${CONFIG_PATH}.${key}`, message);
}

function readConfigured(file: string, key: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const hint = key === 'kubeconfig' ? '' : ' (outside a cluster, set providers.kubernetes.kubeconfig, or server, caFile and tokenFile)';
    throw configError(key, `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}${hint}`);
  }
}

function asList(doc: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const v = doc[key];
  return Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];
}

function named(list: Record<string, unknown>[], name: unknown, field: string): Record<string, unknown> | undefined {
  const entry = list.find((x) => x['name'] === name);
  const inner = entry?.[field];
  return typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : undefined;
}

/** Read and check the configured connection source; throws ConfigError naming the key. */
export function resolveConnectionSource(config: KubernetesProviderConfig): ConnectionSource {
  if (config.kubeconfig !== undefined) {
    const file = config.kubeconfig;
    const text = readConfigured(file, 'kubeconfig', 'kubeconfig');
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw configError('kubeconfig', `${file} is not YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (typeof doc !== 'object' || doc === null) throw configError('kubeconfig', `${file} is not a kubeconfig`);
    const d = doc as Record<string, unknown>;
    const contextName = config.context ?? d['current-context'];
    const context = named(asList(d, 'contexts'), contextName, 'context');
    if (!context) {
      throw configError(config.context !== undefined ? 'context' : 'kubeconfig', `${file} has no context ${JSON.stringify(contextName ?? null)}`);
    }
    const cluster = named(asList(d, 'clusters'), context['cluster'], 'cluster');
    if (!cluster || typeof cluster['server'] !== 'string' || !/^https?:\/\//.test(cluster['server'])) {
      throw configError('kubeconfig', `${file}: the cluster of context ${JSON.stringify(contextName)} has no server URL`);
    }
    if (!named(asList(d, 'users'), context['user'], 'user')) throw configError('kubeconfig', `${file}: context ${JSON.stringify(contextName)} names no known user`);
    return { mode: 'kubeconfig', file, text, ...(config.context !== undefined ? { context: config.context } : {}) };
  }
  const server = config.server ?? IN_CLUSTER_SERVER;
  const caFile = config.caFile ?? IN_CLUSTER_CA_FILE;
  const tokenFile = config.tokenFile ?? IN_CLUSTER_TOKEN_FILE;
  const ca = readConfigured(caFile, 'caFile', 'CA file');
  try {
    new X509Certificate(ca);
  } catch {
    throw configError('caFile', `${caFile} is not a PEM certificate`);
  }
  if (readConfigured(tokenFile, 'tokenFile', 'token file').trim() === '') throw configError('tokenFile', `${tokenFile} is empty`);
  return { mode: 'token', server, caFile, tokenFile };
}

/** One API server connection: lazily built clients, and `call` with timeout and error mapping. */
export class KubernetesConnection {
  private apisPromise: Promise<KubeApis> | null = null;
  private observable: (<T>(value: T) => unknown) | null = null;

  constructor(
    private readonly source: ConnectionSource,
    private readonly options: ConnectionOptions,
  ) {}

  /** Start loading the client library (errors surface on the first call). */
  warmUp(): void {
    this.apis().catch(() => undefined);
  }

  /** The API clients (loads the library once). */
  apis(): Promise<KubeApis> {
    // A failed load is not remembered: the next call tries again.
    this.apisPromise ??= this.load().catch((e: unknown) => {
      this.apisPromise = null;
      throw e;
    });
    return this.apisPromise;
  }

  /** Run one API call with the configured timeout; failures become UpstreamErrors of `kind`. */
  async call<T>(kind: string, operation: string, what: string, fn: (apis: KubeApis, options: CallOptions) => Promise<T>): Promise<T> {
    const { clock, timeoutMs, observe } = this.options;
    // Loading the library (once) is not part of the upstream call's time budget.
    const apis = await this.apis();
    const wrap = this.observable!;
    return callUpstream(
      { kind, operation, timeoutMs, ...(observe ? { observe } : {}), classify: classifyKubernetesError(kind, operation, what, () => clock.now()) },
      async (signal) => {
        const options = {
          middleware: [
            {
              pre: (ctx: { setSignal(s: AbortSignal): void }) => {
                ctx.setSignal(signal);
                return wrap(ctx);
              },
              post: (res: unknown) => wrap(res),
            },
          ],
          middlewareMergeStrategy: 'append',
        } as unknown as CallOptions;
        return fn(apis, options);
      },
    );
  }

  private async load(): Promise<KubeApis> {
    const { k8s, kc, observable } = await loadKubeClient(this.source, { clusterName: 'stint-upstream', keyPath: `${CONFIG_PATH}.kubeconfig`, settingsName: 'connection settings' });
    this.observable = observable;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new ConfigError('ERR_CONFIG_INVALID', `${CONFIG_PATH}.kubeconfig`, 'no current cluster');
    const ca = k8s.bufferFromFileOrString(cluster.caFile, cluster.caData);
    return {
      core: kc.makeApiClient(k8s.CoreV1Api),
      rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
      cluster: { server: cluster.server, caPem: ca ? ca.toString('utf8') : null, skipTLSVerify: cluster.skipTLSVerify === true },
    };
  }
}
