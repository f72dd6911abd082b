/**
 * Vault's HTTP API through node-vault, one method per call the provider makes. Every call goes
 * through callUpstream (timeout, metrics, classification) and carries its token in its own
 * `X-Vault-Token` header: the node-vault client never holds a token, so a token of one identity
 * can never ride along on another identity's request.
 */
import type NodeVault from 'node-vault';
import { UpstreamError } from '../../errors.js';
import type { UpstreamObserver } from '../../upstream/call.js';
import { callUpstream } from '../../upstream/call.js';
import { classifyVaultError, isApiResponseError, vaultMessages } from './errors.js';

/** Options of a VaultClient. */
export interface VaultClientOptions {
  /** Credential kind (errors, metrics). */
  readonly kind: string;
  /** Vault's address, e.g. `https://vault.example:8200`. */
  readonly address: string;
  /** Enterprise namespace sent as `X-Vault-Namespace`. */
  readonly namespace?: string;
  /** PEM CA bundle trusted for Vault's certificate (default: Node's). */
  readonly ca?: string;
  readonly timeoutMs: number;
  readonly observe?: UpstreamObserver;
}

/** A Vault client token from a login (secret: never logged). */
export interface VaultAuth {
  readonly token: string;
  readonly accessor: string;
  /** Seconds; 0 means no expiry. */
  readonly leaseDuration: number;
}

/** A dynamic secret and its lease (secret: never logged). */
export interface VaultSecret {
  readonly leaseId: string;
  /** Seconds; 0 means no expiry. */
  readonly leaseDuration: number;
  readonly renewable: boolean;
  readonly data: Readonly<Record<string, unknown>>;
}

/** A lease as `sys/leases/lookup` describes it. */
export interface VaultLeaseInfo {
  readonly id: string;
  /** Epoch seconds. */
  readonly issueTime: number;
}

type Client = ReturnType<typeof NodeVault>;

/** node-vault (~9 MiB with its request stack), imported when the first Vault call is made, not at start. */
let nodeVault: Promise<typeof NodeVault> | null = null;

/** The calls the vault provider makes, over the real node-vault client. */
export class VaultClient {
  private clientPromise: Promise<Client> | null = null;

  constructor(private readonly options: VaultClientOptions) {}

  /** The node-vault client, created at the first call. */
  private client(): Promise<Client> {
    this.clientPromise ??= this.createClient();
    return this.clientPromise;
  }

  private async createClient(): Promise<Client> {
    const options = this.options;
    nodeVault ??= import('node-vault').then((m) => m.default);
    const NodeVaultFactory = await nodeVault;
    // Explicit settings, so VAULT_TOKEN, VAULT_NAMESPACE, VAULT_PREFIX or VAULT_SKIP_VERIFY in
    // Stint's environment never change what it sends or whom it trusts (`rpDefaults` is a
    // node-vault option its type definitions omit).
    const vaultOptions: NodeVault.VaultOptions & { rpDefaults: { strictSSL: boolean } } = {
      endpoint: options.address,
      namespace: options.namespace,
      rpDefaults: { strictSSL: true },
      requestOptions: { timeout: options.timeoutMs, ...(options.ca !== undefined ? { ca: options.ca } : {}) },
    };
    const client = NodeVaultFactory(vaultOptions);
    const mutable = client as Omit<Client, 'token'> & { token: string | undefined; namespace: string | undefined; pathPrefix: string };
    mutable.token = undefined;
    mutable.namespace = options.namespace;
    mutable.pathPrefix = '';
    return client;
  }

  /** `auth/<mount>/login` with a role and a JWT: a client token. */
  login(mount: string, role: string, jwt: string): Promise<VaultAuth> {
    return this.call('login', async () => {
      // client.write, not jwtLogin: jwtLogin would keep the token on the shared client.
      const body: unknown = await (await this.client()).write(`auth/${mount}/login`, { role, jwt }, { headers: {} });
      const auth = record(record(body)?.auth);
      const token = auth?.client_token;
      if (typeof token !== 'string' || token === '') throw this.badResponse('login', 'no auth.client_token');
      return { token, accessor: typeof auth?.accessor === 'string' ? auth.accessor : '', leaseDuration: seconds(auth?.lease_duration) ?? 0 };
    });
  }

  /** Read a dynamic secret path: its data and lease. */
  read(path: string, token: string): Promise<VaultSecret> {
    return this.call('read', async () => {
      const body = record(await (await this.client()).read(path, { headers: tokenHeader(token) }));
      const data = record(body?.data);
      if (!body || !data) throw this.badResponse('read', 'no data');
      const leaseId = typeof body.lease_id === 'string' ? body.lease_id : '';
      const leaseDuration = seconds(body.lease_duration);
      if (leaseDuration === null) throw this.badResponse('read', 'no lease_duration', leaseId);
      return { leaseId, leaseDuration, renewable: body.renewable === true, data };
    });
  }

  /** `sys/leases/revoke`: a lease Vault does not know is already gone, which is success. */
  revoke(leaseId: string, token: string): Promise<void> {
    return this.call('revoke', async () => {
      try {
        await (await this.client()).revoke({ lease_id: leaseId, requestOptions: { headers: tokenHeader(token) } });
      } catch (err) {
        // 202: Vault queued the revocation (sync=false); it is as good as done.
        if (isApiResponseError(err) && err.response.statusCode === 202) return;
        throw err;
      }
    });
  }

  /** `sys/leases/renew` with an increment in seconds: the lease's new duration. */
  renew(leaseId: string, incrementSeconds: number, token: string): Promise<{ leaseDuration: number; renewable: boolean }> {
    return this.call('renew', async () => {
      const body = record(await (await this.client()).renew({ lease_id: leaseId, increment: incrementSeconds, requestOptions: { headers: tokenHeader(token) } }));
      const leaseDuration = seconds(body?.lease_duration);
      if (!body || leaseDuration === null) throw this.badResponse('renew', 'no lease_duration');
      return { leaseDuration, renewable: body.renewable === true };
    });
  }

  /** `sys/leases/lookup` of one lease; null when Vault no longer knows it. */
  lookup(leaseId: string, token: string): Promise<VaultLeaseInfo | null> {
    return this.call('lookup', async () => {
      let body: Record<string, unknown> | null;
      try {
        body = record(await (await this.client()).write('sys/leases/lookup', { lease_id: leaseId }, { headers: tokenHeader(token) }));
      } catch (err) {
        if (isApiResponseError(err) && err.response.statusCode === 400 && vaultMessages(err).some((m) => /invalid lease|lease not found/i.test(m))) return null;
        throw err;
      }
      const data = record(body?.data);
      const issued = typeof data?.issue_time === 'string' ? Date.parse(data.issue_time) : Number.NaN;
      if (!data || !Number.isFinite(issued)) throw this.badResponse('lookup', 'no issue_time');
      return { id: typeof data.id === 'string' ? data.id : leaseId, issueTime: Math.floor(issued / 1000) };
    });
  }

  /** LIST `sys/leases/lookup/<prefix>/`: the keys under the prefix (`x/` for a sub-prefix); [] when none. */
  list(prefix: string, token: string): Promise<string[]> {
    return this.call('list', async () => {
      let body: Record<string, unknown> | null;
      try {
        body = record(await (await this.client()).list(`sys/leases/lookup/${prefix.replace(/\/+$/, '')}/`, { headers: tokenHeader(token) }));
      } catch (err) {
        // Vault answers a LIST with nothing under it with 404 and no errors.
        if (isApiResponseError(err) && err.response.statusCode === 404 && vaultMessages(err).length === 0) return [];
        throw err;
      }
      const keys = record(body?.data)?.keys;
      if (!Array.isArray(keys) || !keys.every((k): k is string => typeof k === 'string')) throw this.badResponse('list', 'no data.keys');
      return keys;
    });
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const { kind, timeoutMs, observe } = this.options;
    return callUpstream({ kind, operation, timeoutMs, observe, classify: (err) => classifyVaultError(kind, operation, err) }, fn);
  }

  private badResponse(operation: string, what: string, leaseId?: string): UpstreamError {
    const error = new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', this.options.kind, 'MalformedResponse', `vault: ${operation} answered without the expected fields (${what})`);
    if (leaseId) Object.defineProperty(error, 'leaseId', { value: leaseId, enumerable: false });
    return error;
  }
}

/** The lease id a malformed read still returned (so the provider can revoke it), if any. */
export function leaseIdOf(err: unknown): string | undefined {
  const id = (err as { leaseId?: unknown } | null)?.leaseId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function tokenHeader(token: string): Record<string, string> {
  return { 'X-Vault-Token': token };
}

function record(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** A non-negative whole number of seconds, or null. */
function seconds(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;
}
