/**
 * The two ways to a Google access token, each through google-auth-library's own classes:
 *
 * - `impersonate`: Stint's own credentials (the source client) call IAM Credentials
 *   generateAccessToken for the target service account (`Impersonated`).
 * - `federate`: STS exchanges a Stint JWT for a federated token (`IdentityPoolClient` with a
 *   programmatic subject token supplier), then, when a service account is named, the library
 *   calls generateAccessToken with the federated token (`service_account_impersonation_url`).
 *
 * Every call goes through callUpstream (timeout, metrics, classified errors).
 */
import { JWT_TOKEN_TYPE } from '../../client/constants.js';
import type { AuthClient } from 'google-auth-library';
import { googleAuth } from './google_auth.js';
import { UpstreamError } from '../../errors.js';
import type { UpstreamObserver } from '../../upstream/call.js';
import { callUpstream } from '../../upstream/call.js';
import { classifyGcpError, failedUrl, type GcpStage } from './classify_error.js';
import { generateAccessTokenUrl } from './service_account.js';
import type { SourceCredentials } from './source_credentials.js';

/** RFC 8693 type of the Stint JWT presented to STS. */

/** What every Google call needs. */
export interface GcpCallContext {
  readonly kind: string;
  readonly timeoutMs: number;
  readonly stsEndpoint: string;
  /** IAM Credentials base URL, without a trailing slash. */
  readonly iamCredentialsEndpoint: string;
  readonly observe?: UpstreamObserver;
}

/** An access token as Google returned it. */
export interface GoogleAccessToken {
  readonly token: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** Impersonate `serviceAccount` with Stint's own credentials. */
export async function impersonate(
  ctx: GcpCallContext,
  source: SourceCredentials,
  request: { serviceAccount: string; scopes: readonly string[]; lifetimeSeconds: number },
  nowSeconds: number,
): Promise<GoogleAccessToken> {
  const sourceClient = await callUpstream(
    { kind: ctx.kind, operation: 'SourceToken', timeoutMs: ctx.timeoutMs, observe: ctx.observe, classify: (e) => classifyGcpError(ctx.kind, 'source-credentials', e) },
    async () => {
      let client: AuthClient;
      try {
        client = await source.client();
      } catch (e) {
        throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', ctx.kind, 'NO_CREDENTIALS', `${ctx.kind}: Stint's own Google credentials (${source.description}) could not be loaded (${credentialsProblem(e)})`, {
          retryAfterSeconds: 30,
        });
      }
      await client.getAccessToken();
      return client;
    },
  );
  const { Impersonated } = await googleAuth();
  const result = await callUpstream(
    { kind: ctx.kind, operation: 'GenerateAccessToken', timeoutMs: ctx.timeoutMs, observe: ctx.observe, classify: (e) => classifyGcpError(ctx.kind, stageOf(ctx, e, 'iam'), e) },
    () =>
      new Impersonated({
        sourceClient,
        targetPrincipal: request.serviceAccount,
        targetScopes: [...request.scopes],
        delegates: [],
        lifetime: request.lifetimeSeconds,
        endpoint: ctx.iamCredentialsEndpoint,
      }).getAccessToken(),
  );
  return generatedToken(ctx.kind, result.res?.data, nowSeconds);
}

/** Exchange a Stint JWT at STS; then impersonate `serviceAccount` with the federated token if named. */
export async function federate(
  ctx: GcpCallContext,
  request: { audience: string; subjectToken: string; scopes: readonly string[]; serviceAccount?: string; lifetimeSeconds: number },
  nowSeconds: number,
): Promise<GoogleAccessToken> {
  const { serviceAccount } = request;
  const { IdentityPoolClient } = await googleAuth();
  const client = new IdentityPoolClient({
    type: 'external_account',
    audience: request.audience,
    subject_token_type: JWT_TOKEN_TYPE,
    token_url: ctx.stsEndpoint,
    subject_token_supplier: { getSubjectToken: () => Promise.resolve(request.subjectToken) },
    scopes: [...request.scopes],
    transporterOptions: { timeout: ctx.timeoutMs },
    ...(serviceAccount
      ? {
          service_account_impersonation_url: generateAccessTokenUrl(ctx.iamCredentialsEndpoint, serviceAccount),
          service_account_impersonation: { token_lifetime_seconds: request.lifetimeSeconds },
        }
      : {}),
  });
  const result = await callUpstream(
    {
      kind: ctx.kind,
      operation: serviceAccount ? 'ExchangeTokenAndImpersonate' : 'ExchangeToken',
      timeoutMs: ctx.timeoutMs,
      observe: ctx.observe,
      classify: (e) => classifyGcpError(ctx.kind, stageOf(ctx, e, 'sts'), e),
    },
    () => client.getAccessToken(),
  );
  return serviceAccount ? generatedToken(ctx.kind, result.res?.data, nowSeconds) : federatedToken(ctx.kind, result.res?.data, nowSeconds);
}

/** A short, secret-free reason why credentials could not be loaded (never the library's message: it may quote the file). */
function credentialsProblem(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code;
  const message = String((err as { message?: unknown } | null)?.message ?? '');
  return message.startsWith('Could not load the default credentials') ? 'no Application Default Credentials found' : 'unusable credentials';
}

/** Which call failed, from the URL gaxios recorded. */
function stageOf(ctx: GcpCallContext, err: unknown, fallback: GcpStage): GcpStage {
  const url = failedUrl(err);
  if (url === null) return fallback;
  if (url === ctx.stsEndpoint) return 'sts';
  if (url.startsWith(`${ctx.iamCredentialsEndpoint}/`) && url.endsWith(':generateAccessToken')) return 'iam';
  return 'source-credentials';
}

/** `{ accessToken, expireTime }` from generateAccessToken. */
function generatedToken(kind: string, data: unknown, nowSeconds: number): GoogleAccessToken {
  const { accessToken, expireTime } = (data && typeof data === 'object' ? data : {}) as { accessToken?: unknown; expireTime?: unknown };
  const expiresMs = typeof expireTime === 'string' ? Date.parse(expireTime) : Number.NaN;
  if (typeof accessToken !== 'string' || accessToken === '' || !Number.isFinite(expiresMs)) {
    throw malformed(kind, 'IAM Credentials generateAccessToken returned no accessToken or no valid expireTime');
  }
  return checked(kind, accessToken, Math.floor(expiresMs / 1000), nowSeconds);
}

/** RFC 8693 `{ access_token, expires_in, ... }` from STS. */
function federatedToken(kind: string, data: unknown, nowSeconds: number): GoogleAccessToken {
  const { access_token: token, expires_in: expiresIn } = (data && typeof data === 'object' ? data : {}) as { access_token?: unknown; expires_in?: unknown };
  if (typeof token !== 'string' || token === '' || typeof expiresIn !== 'number' || !Number.isInteger(expiresIn)) {
    throw malformed(kind, 'STS returned no access_token or no valid expires_in');
  }
  return checked(kind, token, nowSeconds + expiresIn, nowSeconds);
}

function checked(kind: string, token: string, expiresAt: number, nowSeconds: number): GoogleAccessToken {
  if (expiresAt <= nowSeconds) throw malformed(kind, 'Google returned a token that is already expired');
  return { token, expiresAt };
}

function malformed(kind: string, message: string): UpstreamError {
  return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'MALFORMED_RESPONSE', `${kind}: ${message}`);
}
