/**
 * The `gcp-access-token` provider (configuration key `providers.gcp`): a Google OAuth 2.0 access
 * token for a service account, by one of two modes chosen per rule (`options.mode`):
 *
 * - `impersonation`: Stint's own Google credentials (a credentials file or ADC) call IAM
 *   Credentials `generateAccessToken` for the target service account.
 * - `workload-identity-federation`: STS exchanges a Stint JWT (audience: the configured workload
 *   identity pool provider) for a federated token; with a target service account the federated
 *   token then calls `generateAccessToken`; without one the federated token itself is returned.
 *
 * The request target is the service account email. Google access tokens cannot be revoked one by
 * one: revocation is recorded in Stint, the token stays valid until it expires (at most 1 h by
 * default). Nothing is created upstream, so there is nothing to reap or reconcile.
 */
import { z } from 'zod';
import { epochSeconds } from '../clock.js';
import { parseDuration } from '../duration.js';
import { durationSchema } from '../config/fields.js';
import { ConfigError, StintError } from '../errors.js';
import { renewAfterOf, type CredentialProvider, type GrantDraft, type IssuedCredential, type ProviderDeps, type RevokeResult } from './provider.js';
import { federate, impersonate, type GcpCallContext, type GoogleAccessToken } from './gcp/access_token.js';
import { endpointUrlProblem } from '../net/endpoint_url.js';
import { GCP_MODES, ruleOptions, scopeSchema, type GcpMode } from './gcp/rule_options.js';
import { isServiceAccountName } from './gcp/service_account.js';
import { CLOUD_PLATFORM_SCOPE, readCredentialsFile, sourceCredentials, type SourceCredentials } from './gcp/source_credentials.js';

/** The credential kind named in policy rules and requests. */
export const GCP_ACCESS_TOKEN_KIND = 'gcp-access-token';

/** RFC 8693 token type of the issued credential. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** generateAccessToken's limit without the org policy constraint iam.allowServiceAccountCredentialLifetimeExtension. */
export const DEFAULT_MAX_LIFETIME_SECONDS = 3600;
/** generateAccessToken's limit with that constraint. */
const EXTENDED_MAX_LIFETIME_SECONDS = 43200;
/** Lifetime of the Stint JWT presented to STS when the federated token is only used to impersonate. */
const EXCHANGE_JWT_TTL_SECONDS = 300;

const WIF_PROVIDER = /^\/\/iam\.[a-z0-9.-]+\/projects\/[^/\s]+\/locations\/global\/workloadIdentityPools\/[^/\s]+\/providers\/[^/\s]+$/;

const endpointSchema = z
  .string()
  .refine((v) => endpointUrlProblem(v, { allowQuery: false }) === null, { message: 'must be an https URL (http only on loopback) without credentials, query or fragment' })
  .transform((v) => v.replace(/\/+$/, ''));


/** A timeout in milliseconds, written `500ms`, `5s` or a number of seconds. */
const timeoutSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const m = typeof v === 'string' ? /^(\d+)ms$/.exec(v.trim()) : null;
  if (m) return Number(m[1]);
  try {
    return typeof v === 'number' ? Math.round(v * 1000) : parseDuration(v) * 1000;
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/** Configuration of `providers.gcp`. */
export const gcpProviderConfigSchema = z
  .object({
    /** Mode of rules that do not name one. */
    mode: z.enum(GCP_MODES).default('impersonation'),
    /** Stint's own Google credentials for `impersonation` (JSON credentials file); ADC when absent. */
    credentialsFile: z.string().min(1).optional(),
    /** The workload identity pool provider STS trusts Stint JWTs through (`//iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`). */
    workloadIdentityProvider: z.string().regex(WIF_PROVIDER, 'expected //iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>').optional(),
    /** STS token endpoint (private service connect, tests). */
    stsEndpoint: endpointSchema.default('https://sts.googleapis.com/v1/token'),
    /** IAM Credentials API base URL (private service connect, tests). */
    iamCredentialsEndpoint: endpointSchema.default('https://iamcredentials.googleapis.com'),
    /** Scopes requested when neither the request nor the rule's `options.defaultScopes` names any. */
    defaultScopes: z.array(scopeSchema).min(1).max(64).default([CLOUD_PLATFORM_SCOPE]),
    /** Longest token lifetime; above 1h needs the org policy constraint iam.allowServiceAccountCredentialLifetimeExtension. */
    maxTtl: durationSchema.pipe(z.number().int().min(1).max(EXTENDED_MAX_LIFETIME_SECONDS, 'at most 12h (43200 s), generateAccessToken\'s limit')).default(DEFAULT_MAX_LIFETIME_SECONDS),
    /** Timeout of each Google call (retries by the Google client included). */
    timeout: timeoutSchema.pipe(z.number().int().min(100, 'at least 100ms').max(60_000, 'at most 60s')).default(5000),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.mode === 'workload-identity-federation' && !config.workloadIdentityProvider) {
      ctx.addIssue({ code: 'custom', path: ['workloadIdentityProvider'], message: 'required when mode is workload-identity-federation' });
    }
  });

/** The validated `providers.gcp` section. */
export type GcpProviderConfig = z.infer<typeof gcpProviderConfigSchema>;

const REVOKE_RESULT: RevokeResult = {
  effective: false,
  note: 'Google access tokens cannot be revoked one by one; the token stays valid until it expires (at most 1 h by default). To cut access now, disable the service account: Google then rejects its existing tokens',
};

/** Create the gcp-access-token provider. */
export function createGcpProviders(config: GcpProviderConfig, deps: ProviderDeps): CredentialProvider[] {
  return [createGcpAccessTokenProvider(config, deps)];
}

/** The gcp-access-token provider. */
export function createGcpAccessTokenProvider(config: GcpProviderConfig, deps: ProviderDeps): CredentialProvider {
  const kind = GCP_ACCESS_TOKEN_KIND;
  const json = config.credentialsFile ? readCredentialsFile(config.credentialsFile, 'providers.gcp.credentialsFile') : undefined;
  let source: SourceCredentials | null = null;
  const ctx: GcpCallContext = {
    kind,
    timeoutMs: config.timeout,
    stsEndpoint: config.stsEndpoint,
    iamCredentialsEndpoint: config.iamCredentialsEndpoint,
    ...(deps.onUpstreamCall ? { observe: deps.onUpstreamCall } : {}),
  };

  async function obtain(draft: GrantDraft, mode: GcpMode, serviceAccount: string | undefined, scopes: readonly string[], lifetimeSeconds: number, now: number): Promise<GoogleAccessToken> {
    if (mode === 'impersonation') {
      if (!serviceAccount) throw new StintError('ERR_INVALID_REQUEST', `${kind} in impersonation mode requires a target service account`, { kind, field: 'target' });
      source ??= sourceCredentials(json, { timeoutMs: config.timeout, ...(config.credentialsFile ? { file: config.credentialsFile } : {}) });
      return impersonate(ctx, source, { serviceAccount, scopes, lifetimeSeconds }, now);
    }
    const audience = config.workloadIdentityProvider;
    if (!audience) throw new ConfigError('ERR_CONFIG_INVALID', 'providers.gcp.workloadIdentityProvider', `required by rule ${draft.rule} (mode workload-identity-federation)`);
    // Without a service account the federated token is the credential: it lives as long as the JWT.
    const subjectToken = await deps.webIdentityToken(draft, audience, serviceAccount ? EXCHANGE_JWT_TTL_SECONDS : lifetimeSeconds);
    return federate(ctx, { audience, subjectToken, scopes, lifetimeSeconds, ...(serviceAccount ? { serviceAccount } : {}) }, now);
  }

  return {
    kind,
    maxTtlSeconds: config.maxTtl,
    requires: 'none',
    reapOnExpiry: false,

    validateOptions(options, rule) {
      ruleOptions(options, rule);
    },

    async issue(draft: GrantDraft): Promise<IssuedCredential> {
      const options = ruleOptions(draft.granted.options, draft.rule);
      const mode = options.mode ?? config.mode;
      const target = draft.granted.target;
      if (target !== undefined && !isServiceAccountName(target)) {
        throw new StintError('ERR_INVALID_REQUEST', `${kind}: target must be a service account email or unique id`, { kind, field: 'target' });
      }
      const scopes = draft.granted.scopes.length > 0 ? draft.granted.scopes : (options.defaultScopes ?? config.defaultScopes);
      const now = epochSeconds(deps.clock);
      const lifetime = Math.min(draft.expiresAt - now, config.maxTtl);
      if (!(lifetime > 0) || !Number.isInteger(lifetime)) throw new StintError('ERR_INVALID_REQUEST', `${kind} grant already expired`, { kind });
      const google = await obtain(draft, mode, target, scopes, lifetime, now);
      const fields: Record<string, string> = {
        ...(target ? { service_account: target } : {}),
        token_type: 'Bearer',
        expires_at: new Date(google.expiresAt * 1000).toISOString(),
      };
      return {
        kind,
        token: google.token,
        tokenType: ACCESS_TOKEN_TYPE,
        fields,
        secretFields: [],
        expiresAt: google.expiresAt,
        renewAfter: renewAfterOf(now, google.expiresAt),
      };
    },

    async revoke(): Promise<RevokeResult> {
      return REVOKE_RESULT;
    },
  };
}
