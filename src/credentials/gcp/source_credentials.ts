/**
 * Stint's own Google credentials, used in `impersonation` mode to call IAM Credentials: a
 * credentials file (authorized_user, service_account, external_account, ...) or Application
 * Default Credentials. Loaded through google-auth-library's GoogleAuth; the client is created
 * once and refreshes its own token.
 *
 * google-auth-library ignores the `token_uri` member of an `authorized_user` file; Stint passes
 * it as the client's OAuth token endpoint, so a file pointing at a private endpoint (or a local
 * fake) is honoured. It must be https, or http on loopback.
 */
import { readFileSync } from 'node:fs';
import type { AuthClient, GoogleAuthOptions } from 'google-auth-library';
import { googleAuth } from './google_auth.js';
import { ConfigError } from '../../errors.js';
import { endpointUrlProblem } from '../../net/endpoint_url.js';

/** The scope Stint's own token needs to call generateAccessToken. */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

const CREDENTIAL_TYPES = new Set(['authorized_user', 'service_account', 'external_account', 'external_account_authorized_user', 'impersonated_service_account']);

/** A lazily created source client; `get` retries creation after a failure. */
export interface SourceCredentials {
  /** The client (created on first use). */
  client(): Promise<AuthClient>;
  /** Where the credentials come from, for messages: `file <path>` or `ADC`. */
  readonly description: string;
}

/** Read and check a credentials file at startup; errors name `keyPath`. */
export function readCredentialsFile(file: string, keyPath: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('ERR_CONFIG_INVALID', keyPath, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError('ERR_CONFIG_INVALID', keyPath, `${file} is not JSON`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError('ERR_CONFIG_INVALID', keyPath, `${file} is not a JSON object`);
  const type = (json as { type?: unknown }).type;
  if (typeof type !== 'string' || !CREDENTIAL_TYPES.has(type)) {
    throw new ConfigError('ERR_CONFIG_INVALID', keyPath, `${file}: "type" must be one of ${[...CREDENTIAL_TYPES].join(', ')}`);
  }
  const tokenUri = (json as { token_uri?: unknown }).token_uri;
  if (type === 'authorized_user' && tokenUri !== undefined) {
    const problem = typeof tokenUri === 'string' ? endpointUrlProblem(tokenUri, { allowQuery: false }) : 'not a string';
    if (problem) throw new ConfigError('ERR_CONFIG_INVALID', keyPath, `${file}: token_uri ${problem}`);
  }
  return json as Record<string, unknown>;
}

/** Source credentials from a parsed credentials file, or ADC when `json` is undefined. */
export function sourceCredentials(json: Record<string, unknown> | undefined, options: { timeoutMs: number; file?: string }): SourceCredentials {
  const tokenUri = json?.type === 'authorized_user' && typeof json.token_uri === 'string' ? json.token_uri : undefined;
  const clientOptions = {
    transporterOptions: { timeout: options.timeoutMs },
    // A token the server no longer accepts (revoked, clock skew) is refreshed once and the call retried.
    forceRefreshOnFailure: true,
    ...(tokenUri ? { endpoints: { oauth2TokenUrl: tokenUri } } : {}),
  };
  let pending: Promise<AuthClient> | null = null;
  return {
    description: json ? `file ${options.file ?? ''}`.trim() : 'Application Default Credentials',
    client(): Promise<AuthClient> {
      pending ??= (async () => {
        const { GoogleAuth } = await googleAuth();
        const auth = new GoogleAuth({
          scopes: [CLOUD_PLATFORM_SCOPE],
          // Stint never needs a project id (IAM Credentials takes `projects/-`); naming one keeps
          // ADC from looking it up over the network (Cloud Resource Manager, metadata server).
          projectId: '-',
          clientOptions,
          ...(json ? { credentials: json as GoogleAuthOptions['credentials'] } : {}),
        });
        return (await auth.getClient()) as AuthClient;
      })();
      pending.catch(() => {
        pending = null;
      });
      return pending;
    },
  };
}
