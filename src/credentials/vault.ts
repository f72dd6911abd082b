/**
 * The `vault` credential provider (configuration key `providers.vault`): a HashiCorp Vault
 * dynamic secret (database credentials, AWS keys...) read for the grant, with its lease.
 *
 * Issue: Stint logs in to Vault's jwt auth method with a Stint JWT for the grant's identity
 * (`sub` = the workload identity, `aud` = `audience`, `jti` = the grant id) at
 * `auth/<authMount>/login` as `role` (or the rule's `options.role`), then reads the path the
 * grant targets. Client tokens are cached per role and identity, in memory only, while they
 * outlive the grant (Vault revokes a token's leases with the token); a cached token Vault refuses
 * with 403 is dropped and the login retried once.
 *
 * Revoke, reap and renew use `sys/leases/revoke` and `sys/leases/renew` with the lease id (the
 * grant's revocation handle) under a token of `managementRole` (default `role`), logged in with
 * a Stint JWT whose `sub` is {@link VAULT_MANAGEMENT_SUBJECT}.
 *
 * Reconcile lists the leases under `reconcilePrefixes` (`LIST sys/leases/lookup/<prefix>`) and
 * revokes those that are no live grant's revocation handle and older than `reconcileGrace`
 * (`sys/leases/lookup` gives the issue time). Vault leases carry no caller metadata, so a lease
 * cannot name its grant: reconciliation compares lease ids with the revocation handles of the
 * live grants of this kind, which the reaper passes in.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { epochSeconds } from '../clock.js';
import { positiveDurationSchema } from '../config/fields.js';
import { isLoopbackHost } from '../net/is_loopback.js';
import { ConfigError, StintError, UpstreamError } from '../errors.js';
import type { CredentialProvider, GrantDraft, GrantRef, IssuedCredential, LiveGrantCheck, LiveHandles, ProviderDeps, ReconcileReport, RevokeResult } from './provider.js';
import { leaseIdOf, VaultClient, type VaultAuth, type VaultSecret } from './vault/client.js';
import { isVaultPath, secretPathOf } from './vault/paths.js';
import { credentialOf } from './vault/secret.js';
import { failureOf, sweepOrphans, upstreamObjectProvider } from './upstream_object.js';
import { VaultTokenCache, type TokenLookup } from './vault/tokens.js';

/** The credential kind named in policy rules and requests. */
export const VAULT_KIND = 'vault';

/** `sub` of the Stint JWT the provider logs in with for lease management (revoke, renew, reconcile). */
export const VAULT_MANAGEMENT_SUBJECT = 'urn:stint:provider:vault';

/** Lifetime of the Stint JWT presented to Vault at login. */
const LOGIN_JWT_TTL_SECONDS = 120;

/** Most leases one reconciliation pass looks at. */
const MAX_RECONCILE_LEASES = 10_000;

/** Deepest sub-prefix a reconciliation pass descends into below a configured prefix. */
const MAX_RECONCILE_DEPTH = 4;


const vaultPath = z.string().refine(isVaultPath, 'must be a Vault path such as database/creds/readonly');
const roleName = z.string().regex(/^[A-Za-z0-9_.@-]{1,128}$/, 'must be a Vault role name');

/** Configuration of `providers.vault`. */
export const vaultProviderConfigSchema = z
  .object({
    /** Vault's address, e.g. `https://vault.example:8200`. */
    address: z.string().url().regex(/^https?:\/\//, 'must be an http:// or https:// URL'),
    /** Allow plain http to a host that is not loopback (tokens and secrets would cross the network in clear). */
    allowInsecureHttp: z.boolean().default(false),
    /** Mount path of Vault's jwt auth method. */
    authMount: vaultPath.default('jwt'),
    /** The jwt-auth role Stint logs in as to read secrets (a rule may name another in `options.role`). */
    role: roleName,
    /** The jwt-auth role for lease management (revoke, renew, reconcile); default `role`. */
    managementRole: roleName.optional(),
    /** `aud` of the Stint JWT presented to Vault: the role's `bound_audiences`. */
    audience: z.string().min(1).default('vault'),
    /** Vault Enterprise namespace (`X-Vault-Namespace`). */
    namespace: z.string().regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*\/?$/, 'must be a Vault namespace path').optional(),
    /** PEM CA bundle that signs Vault's certificate (default: Node's trust store). */
    caFile: z.string().min(1).optional(),
    /** Timeout of one Vault call. */
    timeout: positiveDurationSchema.default(5),
    /** Longest grant this provider issues; Vault's lease may be shorter, never longer in effect. */
    maxTtl: positiveDurationSchema.default(3600),
    /** Lease prefixes that only Stint reads from, reconciled against live grants (e.g. database/creds/readonly). */
    reconcilePrefixes: z.array(vaultPath).default([]),
    /** Leases younger than this are never reconciled away (an issuance may be in flight). */
    reconcileGrace: positiveDurationSchema.default(300),
  })
  .strict()
  .superRefine((c, ctx) => {
    const url = URL.canParse(c.address) ? new URL(c.address) : null;
    if (url?.protocol === 'http:' && !c.allowInsecureHttp && !isLoopbackHost(url.hostname)) {
      ctx.addIssue({ code: 'custom', path: ['address'], message: 'plain http is only allowed to a loopback address (set allowInsecureHttp to override)' });
    }
    if (url && (url.search || url.hash || url.username || url.password)) {
      ctx.addIssue({ code: 'custom', path: ['address'], message: 'must be a plain base URL (no query, fragment or credentials)' });
    }
  });

/** The validated configuration of `providers.vault`. */
export type VaultProviderConfig = z.infer<typeof vaultProviderConfigSchema>;


/** The role a rule's options name, or the configured one. */
function roleOf(kind: string, options: Readonly<Record<string, unknown>>, fallback: string): string {
  for (const key of Object.keys(options)) {
    if (key !== 'role') throw new StintError('ERR_INVALID_REQUEST', `${kind}: unknown rule option ${JSON.stringify(key.slice(0, 64))} (known: role)`, { kind, field: 'options' });
  }
  const role = options.role;
  if (role === undefined) return fallback;
  if (typeof role !== 'string' || !/^[A-Za-z0-9_.@-]{1,128}$/.test(role)) {
    throw new StintError('ERR_INVALID_REQUEST', `${kind}: rule option role must be a Vault role name`, { kind, field: 'options.role' });
  }
  return role;
}

const isPermissionDenied = (err: unknown): boolean => err instanceof UpstreamError && err.upstreamCode === 'permission denied';

/** Create the `vault` provider. */
export function createVaultProviders(config: VaultProviderConfig, deps: ProviderDeps): CredentialProvider[] {
  const kind = VAULT_KIND;
  let ca: string | undefined;
  if (config.caFile !== undefined) {
    try {
      ca = readFileSync(config.caFile, 'utf8');
    } catch (e) {
      throw new ConfigError('ERR_CONFIG_INVALID', 'providers.vault.caFile', `cannot read ${config.caFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError('ERR_CONFIG_INVALID', 'providers.vault.caFile', `${config.caFile} holds no PEM certificate`);
  }
  const client = new VaultClient({ kind, address: config.address, namespace: config.namespace, ca, timeoutMs: config.timeout * 1000, observe: deps.onUpstreamCall });
  const tokens = new VaultTokenCache(deps.clock);
  const managementRole = config.managementRole ?? config.role;
  const managementKey = `management\n${managementRole}`;
  const now = (): number => epochSeconds(deps.clock);

  const login = (grant: GrantDraft | GrantRef, role: string) => async (): Promise<VaultAuth> =>
    client.login(config.authMount, role, await deps.webIdentityToken(grant, config.audience, LOGIN_JWT_TTL_SECONDS));

  /** A management token valid for at least the next minute. */
  const managementToken = (): Promise<TokenLookup> => {
    const at = now();
    const self: GrantRef = { id: randomUUID(), kind, identity: VAULT_MANAGEMENT_SUBJECT, target: null, audience: config.audience, expiresAt: at + LOGIN_JWT_TTL_SECONDS, revocationHandle: null };
    return tokens.get(managementKey, at + 60, login(self, managementRole));
  };

  /** Run `fn` with a management token; a cached token Vault refuses is replaced once. */
  const asManager = async <T>(fn: (token: string) => Promise<T>): Promise<T> => {
    const held = await managementToken();
    try {
      return await fn(held.token.token);
    } catch (err) {
      if (!held.cached || !isPermissionDenied(err)) throw err;
      tokens.drop(managementKey, held.token);
      return fn((await managementToken()).token.token);
    }
  };

  /** Best effort: revoke a lease Stint will not hand out (reconcile catches what this misses). */
  const discard = async (leaseId: string | undefined): Promise<void> => {
    if (leaseId) await asManager((token) => client.revoke(leaseId, token)).catch(() => undefined);
  };

  const revoke = async (grant: GrantRef): Promise<RevokeResult> => {
    const leaseId = grant.revocationHandle;
    if (!leaseId) return { effective: true, note: 'no Vault lease was recorded for this grant' };
    await asManager((token) => client.revoke(leaseId, token));
    return { effective: true };
  };

  const provider = upstreamObjectProvider({
    kind,
    maxTtlSeconds: config.maxTtl,
    // A lease ends the same way whether the grant was revoked or expired.
    remove: revoke,

    async issue(draft: GrantDraft): Promise<IssuedCredential> {
      const path = secretPathOf(kind, draft.granted.target);
      const role = roleOf(kind, draft.granted.options, config.role);
      const key = `${role}\n${draft.identity.id}`;
      const read = async (held: TokenLookup): Promise<VaultSecret> => {
        try {
          return await client.read(path, held.token.token);
        } catch (err) {
          await discard(leaseIdOf(err));
          throw err;
        }
      };
      let held = await tokens.get(key, draft.expiresAt, login(draft, role));
      let secret: VaultSecret;
      try {
        secret = await read(held);
      } catch (err) {
        if (!held.cached || !isPermissionDenied(err)) throw err;
        tokens.drop(key, held.token);
        held = await tokens.get(key, draft.expiresAt, login(draft, role));
        secret = await read(held);
      }
      if (secret.leaseId === '') {
        throw new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'NoLease', `vault: ${path} returned a secret without a lease; only dynamic secrets (with a lease Stint can revoke) are issued`);
      }
      return credentialOf(kind, draft, secret, now(), held.token.validUntil);
    },

    async renew(grant: GrantRef, ttlSeconds: number): Promise<{ expiresAt: number }> {
      const leaseId = grant.revocationHandle;
      if (!leaseId) throw new StintError('ERR_INVALID_REQUEST', `${kind}: grant ${grant.id} has no Vault lease to renew`, { kind });
      const increment = Math.max(1, Math.floor(ttlSeconds));
      const renewed = await asManager((token) => client.renew(leaseId, increment, token));
      return { expiresAt: now() + renewed.leaseDuration };
    },

    async close(): Promise<void> {
      tokens.clear();
    },
  });

  if (config.reconcilePrefixes.length > 0) {
    provider.reconcile = (_isLive: LiveGrantCheck, at: number, liveHandles: LiveHandles) => reconcile(at, liveHandles);
  }

  /** Revoke the leases under the configured prefixes that no live grant holds. */
  async function reconcile(at: number, liveHandles: LiveHandles): Promise<ReconcileReport> {
    const found: string[] = [];
    const failed: string[] = [];
    for (const prefix of config.reconcilePrefixes) {
      try {
        // Collected afresh on each attempt: asManager may run the listing twice.
        found.push(...(await asManager(async (token) => collect(prefix, token, 0, [], MAX_RECONCILE_LEASES - found.length))));
      } catch (err) {
        failed.push(`${prefix}/: ${failureOf(err)}`);
      }
    }
    const live = found.length > 0 ? await liveHandles() : new Set<string>();
    const swept = await sweepOrphans(found, {
      handle: (leaseId) => leaseId,
      isOrphan: async (leaseId) => !live.has(leaseId),
      async remove(leaseId) {
        // Only a lease's own record says how old it is (and whether it still exists).
        const info = await asManager((token) => client.lookup(leaseId, token));
        if (!info || at - info.issueTime < config.reconcileGrace) return false;
        await asManager((token) => client.revoke(leaseId, token));
        return true;
      },
    });
    return { found: found.length, removed: swept.removed, failed: [...failed, ...swept.failed] };
  }

  /** Collect into `into` (and return) at most `limit` lease ids under `prefix`, descending into sub-prefixes. */
  async function collect(prefix: string, token: string, depth: number, into: string[], limit: number): Promise<string[]> {
    for (const key of await client.list(prefix, token)) {
      if (into.length >= limit) break;
      if (key.endsWith('/')) {
        const sub = `${prefix}/${key.slice(0, -1)}`;
        if (depth < MAX_RECONCILE_DEPTH && isVaultPath(sub)) await collect(sub, token, depth + 1, into, limit);
      } else if (isVaultPath(`${prefix}/${key}`)) {
        into.push(`${prefix}/${key}`);
      }
    }
    return into;
  }

  return [provider];
}
