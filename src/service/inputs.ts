/**
 * Everything a start reads from files before it opens anything: the policy, the listeners' TLS
 * material and the admin and introspection secrets. A bad or missing file fails the start here,
 * while there is still nothing to close.
 */
import type { Clock } from '../clock.js';
import { readSecretRef } from '../config/fields.js';
import type { StintConfig } from '../config/schema.js';
import { readTls } from '../config/tls.js';
import { ConfigError } from '../errors.js';
import { PolicyHolder } from '../pipeline/policy_source.js';
import { loadPolicyFiles, type PolicyFiles } from '../policy/load.js';

/** A listener's certificate, key and (for mTLS) client CA, as read from its files. */
export type TlsMaterial = ReturnType<typeof readTls>;

/** A named bearer secret (an admin token or an introspection client). */
export interface NamedSecret {
  readonly name: string;
  readonly secret: string;
}

/** Where the policy is read from (reloads read the same files). */
export interface PolicyFileOptions {
  readonly file: string;
  readonly shadowFile?: string;
  readonly maxTtlSeconds: number;
}

/** The inputs of one start, read and checked. */
export interface StartupInputs {
  readonly policyFiles: PolicyFileOptions;
  readonly loadedPolicy: PolicyFiles;
  /** The policy in force, swapped by reloads. */
  readonly policy: PolicyHolder;
  readonly workloadTls: TlsMaterial | undefined;
  readonly adminTls: TlsMaterial | undefined;
  readonly webhookTls: TlsMaterial | undefined;
  readonly adminTokens: readonly NamedSecret[];
  readonly introspectionClients: readonly NamedSecret[];
}

/** Read the policy, TLS files and secrets of `config`; throws ConfigError naming the key at fault. */
export function readStartupInputs(config: StintConfig, clock: Clock): StartupInputs {
  const policyFiles: PolicyFileOptions = { file: config.policy.file, ...(config.policy.shadowFile ? { shadowFile: config.policy.shadowFile } : {}), maxTtlSeconds: config.credentials.maxTtl };
  const loadedPolicy = loadPolicyFiles(policyFiles);
  const policy = new PolicyHolder(loadedPolicy.enforced, loadedPolicy.source, clock.now(), loadedPolicy.shadow);
  const workloadTls = config.tls ? readTls(config.tls, 'tls') : undefined;
  const adminTls = config.admin.tls ? readTls(config.admin.tls, 'admin.tls') : undefined;
  if (config.admin.clientNames.length > 0 && !adminTls?.ca) {
    throw new ConfigError('ERR_CONFIG_INVALID', 'admin.clientNames', 'client certificate names need admin.tls.clientCaFile (mTLS on the admin listener)');
  }
  const webhookTls = config.webhook ? readTls(config.webhook.tls, 'webhook.tls') : undefined;
  const adminTokens = config.admin.tokens.map((t, i) => ({ name: t.name, secret: readSecretRef(t.secret, `admin.tokens[${i}].secret`) }));
  const introspectionClients = config.introspection.clients.map((c, i) => ({ name: c.name, secret: readSecretRef(c.secret, `introspection.clients[${i}].secret`) }));
  // A secret that is both would open the admin surface to a resource server (and be refused on /introspect).
  const shared = introspectionClients.findIndex((c) => adminTokens.some((t) => t.secret === c.secret));
  if (shared >= 0) throw new ConfigError('ERR_CONFIG_INVALID', `introspection.clients[${shared}].secret`, 'must differ from every admin token');
  return { policyFiles, loadedPolicy, policy, workloadTls, adminTls, webhookTls, adminTokens, introspectionClients };
}
