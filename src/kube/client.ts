/**
 * The one Kubernetes client bootstrap: load @kubernetes/client-node (on first use: it takes most
 * of a second to import) and build a KubeConfig from a kubeconfig file or from a server URL, a CA
 * file and a token file read on every call (rotation-safe). The kubernetes providers and the
 * kubernetes attestor's TokenReview both connect through it.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KubeConfig, User } from '@kubernetes/client-node';
import { ConfigError, StintError } from '../errors.js';

/** Where a connection comes from, checked at startup. */
export type KubeSource =
  | { readonly mode: 'kubeconfig'; readonly file: string; readonly text: string; readonly context?: string }
  | { readonly mode: 'token'; readonly server: string; readonly caFile: string; readonly tokenFile: string };

/** The loaded client library and the KubeConfig built for one connection. */
export interface KubeClient {
  readonly k8s: typeof import('@kubernetes/client-node');
  readonly kc: KubeConfig;
  /** Wrap a value the way the client's middleware expects (an Observable). */
  observable<T>(value: T): unknown;
}

/** How the bootstrap names the connection and reports refused settings. */
export interface KubeClientOptions {
  /** Cluster name inside the built KubeConfig. */
  readonly clusterName: string;
  /** The configuration key a refused setting is reported at. */
  readonly keyPath: string;
  /** What was refused, in the error ("settings", "connection settings"). */
  readonly settingsName: string;
}

/** The kubeconfig user whose token Stint reads from a file on every call (rotation-safe, trimmed). */
export const TOKEN_FILE_PROVIDER = 'stint-token-file';

/** An Authenticator for the client: `Authorization: Bearer <token file contents>`. */
export const tokenFileAuthenticator = {
  isAuthProvider(user: User): boolean {
    return (user.authProvider as { name?: unknown } | undefined)?.name === TOKEN_FILE_PROVIDER;
  },
  async applyAuthentication(user: User, opts: { headers?: unknown }): Promise<void> {
    const file = (user.authProvider as { config: { file: string } }).config.file;
    let token: string;
    try {
      token = (await readFile(file, 'utf8')).trim();
    } catch {
      token = '';
    }
    if (!token || /[\s]/.test(token)) throw Object.assign(new Error('token file unreadable'), { code: 'STINT_TOKEN_FILE' });
    const headers = (opts.headers ??= {}) as Record<string, string>;
    headers['Authorization'] = `Bearer ${token}`;
  },
};

/** Load the client library and build the KubeConfig of `source`; refused settings are ERR_CONFIG_INVALID at `keyPath`. */
export async function loadKubeClient(source: KubeSource, options: KubeClientOptions): Promise<KubeClient> {
  let k8s: typeof import('@kubernetes/client-node');
  try {
    k8s = await import('@kubernetes/client-node');
  } catch (e) {
    throw new StintError('ERR_INTERNAL', `@kubernetes/client-node cannot be loaded: ${String((e as Error)?.message ?? e).split('\n')[0]}`, {}, { cause: e });
  }
  const kc: KubeConfig = new k8s.KubeConfig();
  try {
    if (source.mode === 'kubeconfig') {
      kc.loadFromString(source.text);
      kc.makePathsAbsolute(dirname(source.file));
      if (source.context) kc.setCurrentContext(source.context);
    } else {
      kc.loadFromOptions({
        clusters: [{ name: options.clusterName, server: source.server, caFile: source.caFile, skipTLSVerify: false }],
        users: [{ name: 'stint', authProvider: { name: TOKEN_FILE_PROVIDER, config: { file: source.tokenFile } } }],
        contexts: [{ name: 'stint', cluster: options.clusterName, user: 'stint' }],
        currentContext: 'stint',
      });
      kc.addAuthenticator(tokenFileAuthenticator as unknown as Parameters<KubeConfig['addAuthenticator']>[0]);
    }
  } catch (e) {
    throw new ConfigError('ERR_CONFIG_INVALID', options.keyPath, `the Kubernetes client refused the ${options.settingsName}: ${(e as Error).message.split('\n')[0]}`);
  }
  return { k8s, kc, observable: <T>(value: T) => new k8s.Observable(Promise.resolve(value)) };
}
