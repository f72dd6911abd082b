/**
 * Kubernetes attestor: projected ServiceAccount tokens (bound to a pod, with `exp` and the
 * `kubernetes.io` claim). Identity `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>`.
 * Legacy secret-based tokens (issuer `kubernetes/serviceaccount`, no expiry) are refused unless
 * `acceptLegacyTokens` is set; even then the identity is marked `legacy` and policy must opt in.
 * With `tokenReview`, a token that verified locally is also confirmed by the cluster's API server
 * (kubernetes/token_review.ts), which refuses tokens of deleted pods and ServiceAccounts.
 */
import { z } from 'zod';
import { TokenError } from '../errors.js';
import { defineAttestor, type AttestorDeps, type ClaimValue, type WorkloadIdentity } from './attestor.js';
import { mergeClaims } from './claims.js';
import { tokenReviewConfigSchema } from './kubernetes/token_review_config.js';
import { createTokenReviewer, type ReviewExpectation } from './kubernetes/token_review.js';
import { jwtAttestorFields, jwtConfigPaths } from './jwt/config.js';
import { GENERIC_JWT_TOKEN_TYPES } from './token_types.js';
import { assembleJwtAttestor, createJwtVerifier, type JwtAttestor } from './jwt/jwt_verifier.js';
import type { PrecheckedToken } from './jwt/precheck.js';
import { LEGACY_KUBERNETES_ISSUER } from './jwt/router.js';
import type { VerifiedJwt } from './jwt/verify.js';

export { LEGACY_KUBERNETES_ISSUER } from './jwt/router.js';

/** Configuration of a kubernetes attestor (one cluster issuer). */
export const kubernetesAttestorSchema = z.object({
  kind: z.literal('kubernetes'),
  ...jwtAttestorFields,
  /** Accept legacy secret-based tokens (issuer `kubernetes/serviceaccount`, no exp); a rule must still opt in. */
  acceptLegacyTokens: z.boolean().default(false),
  /**
   * Ask the cluster's API server (TokenReview) to confirm each token after it verified locally:
   * refuses tokens whose pod or ServiceAccount was deleted. Absent = no review.
   */
  tokenReview: tokenReviewConfigSchema.optional(),
}).strict();
/** A validated kubernetes attestor configuration. */
export type KubernetesAttestorConfig = z.output<typeof kubernetesAttestorSchema>;

const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const LEGACY_PREFIX = 'kubernetes.io/serviceaccount/';

/** Create the Kubernetes attestor for one cluster issuer. */
export function createKubernetesAttestor(config: KubernetesAttestorConfig, deps: AttestorDeps): JwtAttestor {
  const name = config.name ?? config.kind;
  // Built first: it checks its files and may throw, before the key source starts anything.
  const reviewer = config.tokenReview
    ? createTokenReviewer(config.tokenReview, { attestorName: name, clock: deps.clock, configPath: `${deps.configPath ?? 'attestor'}.tokenReview` })
    : null;
  const verifier = createJwtVerifier(config, name, deps);
  reviewer?.warmUp();
  const issuers = config.acceptLegacyTokens ? [config.issuer, LEGACY_KUBERNETES_ISSUER] : [config.issuer];

  const identity = (verified: VerifiedJwt, namespace: string, serviceAccount: string, normalized: Record<string, ClaimValue>, legacy: boolean, recheckAtMs: number | undefined): WorkloadIdentity => {
    const claims = verified.claims as Record<string, ClaimValue>;
    const exp = claims['exp'];
    return {
      attestor: 'kubernetes',
      attestorName: name,
      issuer: claims['iss'] as string,
      subject: claims['sub'] as string,
      id: `spiffe://${deps.trustDomain}/ns/${namespace}/sa/${serviceAccount}`,
      claims: mergeClaims(claims, normalized),
      expiresAt: typeof exp === 'number' ? exp : 0,
      ...(legacy ? { legacy: true } : {}),
      ...(recheckAtMs !== undefined ? { recheckAt: Math.floor(recheckAtMs / 1000) } : {}),
    };
  };

  return assembleJwtAttestor({ kind: 'kubernetes', name, verifier, issuers, attest, close: () => reviewer?.close() });

  async function attest(subjectToken: string, prechecked: PrecheckedToken): Promise<WorkloadIdentity> {
    const fp = (): string => prechecked.fingerprint;
    if (prechecked.issuer === LEGACY_KUBERNETES_ISSUER && config.issuer !== LEGACY_KUBERNETES_ISSUER) {
      if (!config.acceptLegacyTokens) {
        throw new TokenError('ERR_TOKEN_LEGACY_REJECTED', 'legacy secret-based ServiceAccount tokens are not accepted; use a projected token', { reason: 'legacy', fingerprint: fp() });
      }
      const verified = await verifier.verify(subjectToken, prechecked, { issuer: LEGACY_KUBERNETES_ISSUER, legacy: true });
      const c = verified.claims;
      const namespace = requireName(c[`${LEGACY_PREFIX}namespace`], `${LEGACY_PREFIX}namespace`, DNS_LABEL, fp);
      const serviceAccount = requireName(c[`${LEGACY_PREFIX}service-account.name`], `${LEGACY_PREFIX}service-account.name`, DNS_SUBDOMAIN, fp);
      checkSubject(c['sub'], namespace, serviceAccount, fp);
      const normalized: Record<string, ClaimValue> = { namespace, service_account: serviceAccount };
      addString(normalized, 'service_account_uid', c[`${LEGACY_PREFIX}service-account.uid`]);
      addString(normalized, 'secret_name', c[`${LEGACY_PREFIX}secret.name`]);
      // A legacy token has no audience: it is reviewed for the API server's own audiences.
      const recheckAt = await review(subjectToken, fp, { namespace, serviceAccount, ...uidOf(normalized), audiences: [], expiresAt: 0 });
      return identity(verified, namespace, serviceAccount, normalized, true, recheckAt);
    }

    const verified = await verifier.verify(subjectToken, prechecked);
    const k8s = verified.claims['kubernetes.io'];
    if (!isRecord(k8s)) {
      throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'token lacks the "kubernetes.io" claim of a projected ServiceAccount token', { claim: 'kubernetes.io', reason: 'missing', fingerprint: fp() });
    }
    const namespace = requireName(k8s['namespace'], 'kubernetes.io.namespace', DNS_LABEL, fp);
    const sa = k8s['serviceaccount'];
    const serviceAccount = requireName(isRecord(sa) ? sa['name'] : undefined, 'kubernetes.io.serviceaccount.name', DNS_SUBDOMAIN, fp);
    checkSubject(verified.claims['sub'], namespace, serviceAccount, fp);
    const normalized: Record<string, ClaimValue> = { namespace, service_account: serviceAccount };
    if (isRecord(sa)) addString(normalized, 'service_account_uid', sa['uid']);
    const pod = k8s['pod'];
    if (isRecord(pod)) {
      addString(normalized, 'pod_name', pod['name']);
      addString(normalized, 'pod_uid', pod['uid']);
    }
    const node = k8s['node'];
    if (isRecord(node)) {
      addString(normalized, 'node_name', node['name']);
      addString(normalized, 'node_uid', node['uid']);
    }
    const recheckAt = await review(subjectToken, fp, {
      namespace,
      serviceAccount,
      ...uidOf(normalized),
      ...(isRecord(pod) ? { pod: { ...stringField('name', pod['name']), ...stringField('uid', pod['uid']) } } : {}),
      audiences: acceptedAudiences(verified.claims['aud']),
      expiresAt: typeof verified.claims['exp'] === 'number' ? verified.claims['exp'] : 0,
    });
    return identity(verified, namespace, serviceAccount, normalized, false, recheckAt);
  }

  /** The TokenReview, after every local check passed; undefined when none is configured. */
  async function review(subjectToken: string, fingerprint: () => string, expected: ReviewExpectation): Promise<number | undefined> {
    // The fingerprint (a SHA-256 of the token) is computed only when a review needs it.
    return reviewer ? reviewer.review(subjectToken, fingerprint(), expected) : undefined;
  }

  /**
   * The token's audiences that Stint accepts (what the review asks the API server to confirm).
   * Never empty for a projected token (an empty list would skip the audience check).
   */
  function acceptedAudiences(aud: unknown): string[] {
    const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
    const accepted = list.filter((a) => verifier.policy.audiences.includes(a));
    return accepted.length > 0 ? accepted : [deps.audience];
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireName(value: unknown, claim: string, pattern: RegExp, fp: () => string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new TokenError('ERR_TOKEN_CLAIM_INVALID', `token claim "${claim}" is missing or not a valid Kubernetes name`, { claim, reason: value === undefined ? 'missing' : 'invalid', fingerprint: fp() });
  }
  return value;
}

function checkSubject(sub: unknown, namespace: string, serviceAccount: string, fp: () => string): void {
  if (sub !== `system:serviceaccount:${namespace}:${serviceAccount}`) {
    throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'token "sub" does not name its namespace and ServiceAccount', { claim: 'sub', reason: 'mismatch', fingerprint: fp() });
  }
}

function uidOf(normalized: Record<string, ClaimValue>): { serviceAccountUid?: string } {
  const uid = normalized['service_account_uid'];
  return typeof uid === 'string' ? { serviceAccountUid: uid } : {};
}

function stringField<K extends string>(key: K, value: unknown): { [P in K]?: string } {
  return (typeof value === 'string' && value.length > 0 ? { [key]: value } : {}) as { [P in K]?: string };
}

function addString(target: Record<string, ClaimValue>, key: string, value: unknown): void {
  if (typeof value === 'string' && value.length > 0) target[key] = value;
}

const JWT_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti'];

/** The kubernetes kind: projected ServiceAccount tokens of one cluster. */
export const KUBERNETES_ATTESTOR = defineAttestor({
  kind: 'kubernetes',
  summary: 'Kubernetes projected ServiceAccount tokens of one cluster issuer',
  schema: kubernetesAttestorSchema,
  tokenTypes: GENERIC_JWT_TOKEN_TYPES,
  claims: [...JWT_CLAIMS, 'kubernetes.io', 'namespace', 'service_account', 'service_account_uid', 'pod_name', 'pod_uid', 'node_name', 'node_uid', 'secret_name'],
  create: createKubernetesAttestor,
  // The TokenReview reads a CA bundle and Stint's own token file.
  resolvePaths: (config, abs) => {
    const keys = jwtConfigPaths(config, abs);
    return keys.tokenReview ? { ...keys, tokenReview: { ...keys.tokenReview, caFile: abs(keys.tokenReview.caFile), tokenFile: abs(keys.tokenReview.tokenFile) } } : keys;
  },
});
