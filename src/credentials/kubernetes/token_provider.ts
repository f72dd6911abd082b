/**
 * `kubernetes-token`: a ServiceAccount token from the TokenRequest API
 * (POST /api/v1/namespaces/{namespace}/serviceaccounts/{name}/token), for the target
 * `<namespace>/<serviceaccount>`, with the audiences the request or the rule names, lasting the
 * granted TTL (at least 10 minutes, the API's minimum). Returned as the raw JWT, and also as a
 * kubeconfig when the rule sets `options.format: kubeconfig`.
 *
 * Kubernetes cannot revoke one such token: it stays valid until it expires, unless the
 * ServiceAccount itself is deleted (which ends all of its tokens).
 */
import { JWT_TOKEN_TYPE } from '../../client/constants.js';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Clock } from '../../clock.js';
import { ConfigError, StintError, UpstreamError } from '../../errors.js';
import { renewAfterOf, type CredentialProvider, type GrantDraft, type IssuedCredential, type RevokeResult } from '../provider.js';
import type { KubernetesProviderConfig } from './config.js';
import type { KubernetesConnection } from './connection.js';
import { renderKubeconfig } from './kubeconfig.js';
import { parseServiceAccountTarget } from './names.js';

/** The credential kind. */
export const KUBERNETES_TOKEN_KIND = 'kubernetes-token';
/** RFC 8693 token type of the token (a JWT signed by the cluster). */
export const KUBERNETES_TOKEN_TYPE = JWT_TOKEN_TYPE;
/** The shortest token the TokenRequest API issues, in seconds. */
export const KUBERNETES_MIN_TOKEN_SECONDS = 600;

const REVOKE_RESULT: RevokeResult = {
  effective: false,
  note: 'Kubernetes cannot revoke a single ServiceAccount token: it stays valid until it expires (only deleting the ServiceAccount, which ends all its tokens, stops it sooner)',
};

type TokenRequestBody = Parameters<CoreV1Api['createNamespacedServiceAccountToken']>[0]['body'];

function policyInvalid(rule: string, path: string, message: string): StintError {
  return new ConfigError('ERR_POLICY_INVALID', `options.${path}`, `rule "${rule}": ${KUBERNETES_TOKEN_KIND}: ${message}`, { rule });
}

/** Audiences for the token: the request's (policy-checked), else the rule's `options.audiences`, else the API server's. */
function audiencesOf(draft: GrantDraft): string[] {
  if (draft.granted.audience) return [draft.granted.audience];
  const raw = draft.granted.options['audiences'];
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length === 0 || raw.some((a) => typeof a !== 'string' || a.length === 0 || a.length > 1024)) {
    throw policyInvalid(draft.rule, 'audiences', 'must be a non-empty list of audience strings');
  }
  return raw as string[];
}

function formatOf(draft: GrantDraft): 'token' | 'kubeconfig' {
  const raw = draft.granted.options['format'] ?? 'token';
  if (raw !== 'token' && raw !== 'kubeconfig') throw policyInvalid(draft.rule, 'format', 'must be token or kubeconfig');
  return raw;
}

/** Create the `kubernetes-token` provider. */
export function createTokenProvider(config: KubernetesProviderConfig, connection: KubernetesConnection, clock: Clock): CredentialProvider {
  const kind = KUBERNETES_TOKEN_KIND;
  return {
    kind,
    maxTtlSeconds: config.maxTtl,
    minTtlSeconds: KUBERNETES_MIN_TOKEN_SECONDS,
    requires: 'target',
    reapOnExpiry: false,

    async issue(draft: GrantDraft): Promise<IssuedCredential> {
      const { namespace, serviceAccount } = parseServiceAccountTarget(kind, draft.granted.target);
      const audiences = audiencesOf(draft);
      const format = formatOf(draft);
      const expirationSeconds = Math.max(KUBERNETES_MIN_TOKEN_SECONDS, draft.expiresAt - draft.issuedAt);
      const body: TokenRequestBody = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences, expirationSeconds } };
      const what = `for ServiceAccount ${namespace}/${serviceAccount}`;
      const reply = await connection.call(kind, 'TokenRequest', what, (apis, options) =>
        apis.core.createNamespacedServiceAccountToken({ name: serviceAccount, namespace, body }, options),
      );
      const token: unknown = reply?.status?.token;
      const expiration: unknown = reply?.status?.expirationTimestamp;
      const expiresMs = expiration instanceof Date ? expiration.getTime() : typeof expiration === 'string' ? Date.parse(expiration) : NaN;
      if (typeof token !== 'string' || !/^[\x21-\x7e]{1,16384}$/.test(token) || !Number.isFinite(expiresMs)) {
        throw new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'MalformedResponse', `${kind}: TokenRequest ${what}: the reply lacks status.token or status.expirationTimestamp`);
      }
      const now = Math.floor(clock.now() / 1000);
      const expiresAt = Math.floor(expiresMs / 1000);
      if (expiresAt <= now) {
        throw new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'AlreadyExpired', `${kind}: TokenRequest ${what}: the API server returned a token that has already expired (clock skew?)`);
      }
      const granted = Array.isArray(reply.spec?.audiences) && reply.spec.audiences.length > 0 ? reply.spec.audiences : audiences;
      const fields: Record<string, string> = { namespace, serviceAccount, audiences: granted.join(','), expirationTimestamp: new Date(expiresAt * 1000).toISOString() };
      const secretFields: string[] = [];
      if (format === 'kubeconfig') {
        const { cluster } = await connection.apis();
        fields['kubeconfig'] = renderKubeconfig({ clusterName: config.clusterName, cluster, ...(config.clusterServer ? { server: config.clusterServer } : {}), namespace, serviceAccount, token });
        secretFields.push('kubeconfig');
      }
      return {
        kind,
        token,
        tokenType: KUBERNETES_TOKEN_TYPE,
        fields,
        secretFields,
        expiresAt,
        renewAfter: renewAfterOf(now, expiresAt),
      };
    },

    async revoke(): Promise<RevokeResult> {
      return REVOKE_RESULT;
    },
  };
}
