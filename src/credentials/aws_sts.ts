/**
 * The `aws-sts` credential provider (configuration key `providers.aws`): temporary AWS
 * credentials for an IAM role named as the request's target.
 *
 * Mode `web-identity` (preferred) calls AssumeRoleWithWebIdentity with a short-lived Stint JWT as
 * the web identity token, so Stint holds no AWS secret: AWS trusts Stint's OIDC discovery.
 * Session tags and the source identity travel in that token's `https://aws.amazon.com/tags` and
 * `https://aws.amazon.com/source_identity` claims, as AWS reads them for OIDC providers.
 * Mode `assume-role` calls AssumeRole with Stint's own AWS credentials (the SDK default chain,
 * or keys referenced in the configuration) and passes tags and source identity as parameters.
 *
 * STS credentials cannot be revoked one by one: revoke says so, and docs/providers/aws.md shows how
 * to deny sessions issued before a time with an `aws:TokenIssueTime` condition. With
 * `revokeOlderSessions.enabled` Stint attaches that deny policy to the role itself through IAM
 * (aws/revoke_older_sessions.ts), which cuts off every older session of the role.
 */
import type { Credentials, STSClient } from '@aws-sdk/client-sts';
import { z } from 'zod';
import { epochSeconds } from '../clock.js';
import { ConfigError, StintError, UpstreamError } from '../errors.js';
import { boundedDuration } from '../config/fields.js';
import { AWS_STS_KIND, classifyStsError } from './aws/errors.js';
import { lazySdkClient } from './aws/lazy_client.js';
import { readStaticAwsCredentials, staticAwsCredentialsSchema } from './aws/static_credentials.js';
import { createOlderSessionsRevoker, revokeOlderSessionsSchema, ROUTINE_REVOKE_CAUSES, type OlderSessionsRevoker, type RevokeCause } from './aws/revoke_older_sessions.js';
import { sessionName, sessionOptions, sessionTags, webIdentityClaims } from './aws/session.js';
import { renewAfterOf, type CredentialProvider, type GrantDraft, type IssuedCredential, type ProviderDeps, type RevokeResult } from './provider.js';
import { callUpstream } from '../upstream/call.js';

/** The credential kind named in policy rules and requests. */
export { AWS_STS_KIND };

/** RFC 8693 issued_token_type of AWS credentials (`token` is the session token). */
export const AWS_CREDENTIALS_TOKEN_TYPE = 'urn:stint:params:oauth:token-type:aws-credentials';

/** AWS's shortest session: shorter grants are raised to it. */
export const AWS_MIN_SESSION_SECONDS = 900;

/** What revoking an aws-sts grant means. */
export const AWS_REVOKE_NOTE = 'AWS STS credentials stay valid until they expire; deny them earlier with an aws:TokenIssueTime condition (see docs/providers/aws.md)';

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const SECRET_FIELDS: readonly string[] = Object.freeze(['secret_access_key', 'session_token']);

/** Configuration of `providers.aws`. */
export const awsProviderConfigSchema = z
  .object({
    /** AWS region of the STS endpoint, e.g. `us-east-1`; also returned to clients. */
    region: z.string().regex(REGION, 'expected an AWS region such as us-east-1'),
    /** STS endpoint URL (VPC endpoint, FIPS, or a local STS in tests); default: the regional endpoint. */
    endpoint: z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL').optional(),
    /** `web-identity` (AssumeRoleWithWebIdentity with a Stint JWT; no AWS secret) or `assume-role`. */
    mode: z.enum(['web-identity', 'assume-role']).default('web-identity'),
    /** `aud` of the Stint JWT presented to AWS: the client id registered on the IAM OIDC provider. */
    webIdentityAudience: z.string().min(1).default('sts.amazonaws.com'),
    /** Longest session Stint asks for: at most the roles' MaxSessionDuration (900 s to 12 h). */
    maxSessionDuration: boundedDuration(AWS_MIN_SESSION_SECONDS, 43200).default(3600),
    /** Bound of one issuance, including the SDK's retries. */
    timeout: boundedDuration(1, 60).default(5),
    /** SDK attempts per call (1 disables its retries). */
    maxAttempts: z.number().int().min(1).max(5).default(2),
    /** assume-role only: Stint's own access key, from env or file; default the SDK's chain (env, profile, container, instance). */
    credentials: staticAwsCredentialsSchema.optional(),
    /** Opt-in: on revoke, deny every session of the role issued before the revocation (IAM inline policy; see docs/providers/aws.md). */
    revokeOlderSessions: revokeOlderSessionsSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.credentials && c.mode !== 'assume-role') {
      ctx.addIssue({ code: 'custom', path: ['credentials'], message: 'only used in mode assume-role (web-identity holds no AWS secret)' });
    }
  });
export type AwsStsProviderConfig = z.infer<typeof awsProviderConfigSchema>;

/**
 * `webIdentityToken` with the claims AWS reads from the token (session tags, source identity):
 * the registry's minting adds `claims` to the Stint JWT (never over iss/sub/aud/iat/nbf/exp/jti).
 */
type MintWebIdentity = (grant: GrantDraft, audience: string, ttlSeconds: number | undefined, claims: Readonly<Record<string, unknown>>) => Promise<string>;

/** Create the aws-sts provider. Configuration problems are ConfigErrors naming `providers.aws.*`. */
export function createAwsStsProviders(input: z.input<typeof awsProviderConfigSchema>, deps: ProviderDeps): CredentialProvider[] {
  // Already validated when the service configuration loaded; validated again for direct callers.
  const parsed = awsProviderConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError('ERR_CONFIG_INVALID', ['providers', 'aws', ...(issue?.path ?? []).map(String)].join('.'), issue?.message ?? 'invalid');
  }
  const config = parsed.data;
  const staticCredentials = readStaticAwsCredentials(config.credentials, 'providers.aws.credentials');
  const timeoutMs = config.timeout * 1000;
  // The STS SDK (~16 MiB once loaded) is imported at the first issuance, not at start.
  const stsClient = lazySdkClient(() => import('@aws-sdk/client-sts'), (sts) => newClient(sts.STSClient));
  const newClient = (Client: typeof STSClient): STSClient => new Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    maxAttempts: config.maxAttempts,
    requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
    // web-identity: AssumeRoleWithWebIdentity is unsigned, and Stint must never pick up an AWS key.
    credentials:
      config.mode === 'web-identity'
        ? () => Promise.reject(Object.assign(new Error('web-identity mode holds no AWS credentials'), { name: 'CredentialsProviderError' }))
        : staticCredentials,
  });
  const mint = deps.webIdentityToken as MintWebIdentity;
  const operation = config.mode === 'web-identity' ? 'AssumeRoleWithWebIdentity' : 'AssumeRole';
  const olderSessions: OlderSessionsRevoker | null = config.revokeOlderSessions?.enabled
    ? createOlderSessionsRevoker(config.revokeOlderSessions, { clock: deps.clock, ...(deps.onUpstreamCall ? { onUpstreamCall: deps.onUpstreamCall } : {}) })
    : null;

  const provider: CredentialProvider = {
    kind: AWS_STS_KIND,
    maxTtlSeconds: config.maxSessionDuration,
    minTtlSeconds: AWS_MIN_SESSION_SECONDS,
    requires: 'target',
    reapOnExpiry: false,

    validateOptions(options, rule) {
      sessionOptions(options, rule);
    },

    async issue(grant: GrantDraft): Promise<IssuedCredential> {
      const roleArn = grant.granted.target;
      if (!roleArn) throw new StintError('ERR_INVALID_REQUEST', 'an aws-sts credential requires a target: the IAM role ARN', { kind: AWS_STS_KIND, field: 'target' });
      if (!ROLE_ARN.test(roleArn)) throw new StintError('ERR_INVALID_REQUEST', 'the aws-sts target must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)', { kind: AWS_STS_KIND, field: 'target' });
      const options = sessionOptions(grant.granted.options, grant.rule);
      const durationSeconds = Math.min(config.maxSessionDuration, Math.max(AWS_MIN_SESSION_SECONDS, grant.expiresAt - grant.issuedAt));
      const name = sessionName(grant.identity.id);
      const tags = sessionTags(grant, options);
      const policy = options.sessionPolicy !== undefined ? { Policy: options.sessionPolicy } : {};
      const webIdentityToken = config.mode === 'web-identity' ? await mint(grant, config.webIdentityAudience, undefined, webIdentityClaims(tags, name)) : '';
      // The answer is checked inside the timed call, so a bad one counts as a failed upstream call.
      return callUpstream({ kind: AWS_STS_KIND, operation, timeoutMs, observe: deps.onUpstreamCall, classify: classifyStsError }, async (abortSignal) => {
        const { client, mod: sts } = await stsClient.get();
        const out =
          config.mode === 'web-identity'
            ? await client.send(new sts.AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: name, WebIdentityToken: webIdentityToken, DurationSeconds: durationSeconds, ...policy }), { abortSignal })
            : await client.send(new sts.AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: name, DurationSeconds: durationSeconds, Tags: tags, SourceIdentity: name, ...policy }), { abortSignal });
        return credentialOf(out.Credentials, out.AssumedRoleUser?.Arn, grant, config.region, epochSeconds(deps.clock));
      });
    },

    // A workload's own revocation or a rollback never attaches the deny policy (cause undefined: an operator's).
    async revoke(grant, cause?: RevokeCause): Promise<RevokeResult> {
      if (!olderSessions || (cause !== undefined && ROUTINE_REVOKE_CAUSES.has(cause))) return { effective: false, note: AWS_REVOKE_NOTE };
      return olderSessions.revoke(grant);
    },

    async close(): Promise<void> {
      stsClient.destroy();
      olderSessions?.close();
    },
  };
  return [provider];
}

/** The issued credential from STS's answer; anything missing or already expired is a bad response. */
function credentialOf(c: Credentials | undefined, assumedRoleArn: string | undefined, grant: GrantDraft, region: string, now: number): IssuedCredential {
  const bad = (what: string): UpstreamError => new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', AWS_STS_KIND, 'MalformedResponse', `${AWS_STS_KIND}: STS answer ${what}`);
  if (!c || typeof c.AccessKeyId !== 'string' || typeof c.SecretAccessKey !== 'string' || typeof c.SessionToken !== 'string' || !c.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
    throw bad('lacks Credentials (AccessKeyId, SecretAccessKey, SessionToken)');
  }
  if (!/^[\w]{16,128}$/.test(c.AccessKeyId)) throw bad('has an AccessKeyId that is not one');
  const expiration = c.Expiration instanceof Date ? c.Expiration.getTime() : Number.NaN;
  if (!Number.isFinite(expiration)) throw bad('lacks a valid Expiration');
  const expiresAt = Math.floor(expiration / 1000);
  if (expiresAt <= now) throw bad('holds credentials that have already expired');
  if (typeof assumedRoleArn !== 'string' || !assumedRoleArn) throw bad('lacks AssumedRoleUser.Arn');
  const issuedAt = Math.min(grant.issuedAt, now);
  return {
    kind: AWS_STS_KIND,
    token: c.SessionToken,
    tokenType: AWS_CREDENTIALS_TOKEN_TYPE,
    fields: {
      access_key_id: c.AccessKeyId,
      secret_access_key: c.SecretAccessKey,
      session_token: c.SessionToken,
      expiration: new Date(expiresAt * 1000).toISOString(),
      assumed_role_arn: assumedRoleArn,
      region,
    },
    secretFields: SECRET_FIELDS,
    expiresAt,
    renewAfter: renewAfterOf(issuedAt, expiresAt),
    revocationHandle: assumedRoleArn,
  };
}
