/**
 * The credential provider registry: providers by kind. A new kind is one file in this folder and
 * one line in builtinProviders below.
 */
import type { Clock } from '../clock.js';
import { ConfigError, StintError } from '../errors.js';
import type { WorkloadIdentity } from '../attestation/attestor.js';
import { createAwsStsProviders, awsProviderConfigSchema } from './aws_sts.js';
import { createGcpProviders, gcpProviderConfigSchema } from './gcp.js';
import { createKubernetesProviders, kubernetesProviderConfigSchema } from './kubernetes.js';
import { createPostgresProviders, postgresProviderConfigSchema } from './postgres.js';
import type { CredentialProvider, GrantDraft, GrantRef, ProviderDeps } from './provider.js';
import type { UpstreamObserver } from '../upstream/call.js';
import { createStintJwtProvider, STINT_JWT_KIND, type StintJwtSigner } from './stint_jwt.js';
import { createVaultProviders, vaultProviderConfigSchema } from './vault.js';

/**
 * Upstream providers by configuration key (`providers.<key>` in the service config): one line
 * per provider. Each may serve several kinds (kubernetes: tokens and RoleBindings).
 */
export const UPSTREAM_PROVIDERS = {
  aws: { schema: awsProviderConfigSchema, create: createAwsStsProviders },
  gcp: { schema: gcpProviderConfigSchema, create: createGcpProviders },
  vault: { schema: vaultProviderConfigSchema, create: createVaultProviders },
  kubernetes: { schema: kubernetesProviderConfigSchema, create: createKubernetesProviders },
  postgres: { schema: postgresProviderConfigSchema, create: createPostgresProviders },
} as const;

/** Configuration of the upstream providers, by key. */
export type UpstreamProvidersConfig = { [K in keyof typeof UPSTREAM_PROVIDERS]?: Parameters<(typeof UPSTREAM_PROVIDERS)[K]['create']>[0] };

/** Providers by kind. */
export interface ProviderRegistry {
  /** The provider of `kind`; an unknown kind is ERR_INVALID_REQUEST with details.kind. */
  get(kind: string): CredentialProvider;
  /** True when `kind` is registered. */
  has(kind: string): boolean;
  /** Registered kinds, in registration order. */
  kinds(): string[];
  /** Every provider, in registration order. */
  all(): readonly CredentialProvider[];
}

/** What the built-in providers are built from. */
export interface BuiltinProviderDeps {
  /** Stint's issuer URL. */
  readonly issuer: string;
  readonly keyring: StintJwtSigner;
  readonly clock: Clock;
  /** Hard cap on any credential's TTL (configuration `credentials.maxTtl`). */
  readonly maxTtlSeconds: number;
  /** The `typ` header of Stint JWTs (configuration `credentials.jwtTyp`). */
  readonly jwtTyp?: string;
  /** Configured upstream providers (`providers.*`). */
  readonly upstream?: UpstreamProvidersConfig;
  readonly onUpstreamCall?: UpstreamObserver;
}

/** Lifetime of the Stint JWT a provider presents upstream as its web identity. */
const WEB_IDENTITY_TTL_SECONDS = 300;

/** The built-in providers: one line per kind. */
export function builtinProviders(deps: BuiltinProviderDeps): CredentialProvider[] {
  const stintJwt = createStintJwtProvider({ issuer: deps.issuer, keyring: deps.keyring, clock: deps.clock, maxTtlSeconds: deps.maxTtlSeconds, ...(deps.jwtTyp ? { typ: deps.jwtTyp } : {}) });
  const providerDeps: ProviderDeps = {
    clock: deps.clock,
    issuer: deps.issuer,
    onUpstreamCall: deps.onUpstreamCall,
    webIdentityToken: async (grant, audience, ttlSeconds = WEB_IDENTITY_TTL_SECONDS, claims = {}) => {
      const now = Math.floor(deps.clock.now() / 1000);
      const ttl = Math.max(1, Math.min(ttlSeconds, deps.maxTtlSeconds));
      const identity: WorkloadIdentity = isDraft(grant)
        ? grant.identity
        : { attestor: 'oidc', attestorName: 'stint', issuer: deps.issuer, subject: grant.identity, id: grant.identity, claims: {}, expiresAt: 0 };
      const draft: GrantDraft = {
        id: grant.id,
        identity,
        rule: isDraft(grant) ? grant.rule : 'web-identity',
        granted: { request: { kind: STINT_JWT_KIND, audience }, kind: STINT_JWT_KIND, audience, scopes: [], ttlSeconds: ttl, ttlCapped: false, passClaims: claims, options: {} },
        issuedAt: now,
        expiresAt: now + ttl,
      };
      return (await stintJwt.issue(draft)).token;
    },
  };
  const providers: CredentialProvider[] = [stintJwt];
  try {
    for (const [key, entry] of Object.entries(UPSTREAM_PROVIDERS) as [keyof typeof UPSTREAM_PROVIDERS, (typeof UPSTREAM_PROVIDERS)[keyof typeof UPSTREAM_PROVIDERS]][]) {
      const config = deps.upstream?.[key];
      if (config) providers.push(...(entry.create as (c: unknown, d: ProviderDeps) => CredentialProvider[])(config, providerDeps));
    }
  } catch (e) {
    // A provider that cannot be built fails the start: close those built before it (their clients,
    // pools and timers) rather than leak them; the start's own error is what the caller sees.
    for (const p of providers) void Promise.resolve().then(() => p.close?.()).catch(() => undefined);
    throw e;
  }
  return providers;
}

function isDraft(grant: GrantDraft | GrantRef): grant is GrantDraft {
  return typeof (grant as GrantDraft).identity === 'object';
}

/** Build a registry; two providers of the same kind are a configuration error. */
export function createProviderRegistry(providers: readonly CredentialProvider[]): ProviderRegistry {
  const byKind = new Map<string, CredentialProvider>();
  for (const p of providers) {
    if (byKind.has(p.kind)) throw new ConfigError('ERR_CONFIG_INVALID', 'providers', `credential kind ${p.kind} is registered twice`, { kind: p.kind });
    byKind.set(p.kind, p);
  }
  const kinds = [...byKind.keys()];
  return {
    get(kind: string): CredentialProvider {
      const provider = byKind.get(kind);
      if (!provider) throw new StintError('ERR_INVALID_REQUEST', `unknown credential kind ${JSON.stringify(kind.slice(0, 64))}`, { kind: kind.slice(0, 64) });
      return provider;
    },
    has(kind: string): boolean {
      return byKind.has(kind);
    },
    kinds(): string[] {
      return [...kinds];
    },
    all(): readonly CredentialProvider[] {
      return [...byKind.values()];
    },
  };
}
