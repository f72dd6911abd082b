/** The shape of a policy decision: every decision names its rule (or null) and a reason code. */
import type { WorkloadIdentity } from '../attestation/attestor.js';

/** Stable reason codes of policy decisions. */
export type DecisionReason =
  | 'RULE_MATCHED'
  | 'NO_RULE_MATCHED'
  | 'KIND_NOT_ALLOWED'
  | 'AUDIENCE_NOT_ALLOWED'
  | 'AUDIENCE_REQUIRED'
  | 'TARGET_NOT_ALLOWED'
  | 'TARGET_REQUIRED'
  | 'SCOPE_NOT_ALLOWED'
  | 'TTL_ABOVE_MAX'
  | 'LEGACY_TOKEN_NOT_ALLOWED'
  | 'CONDITION_NOT_MET'
  | 'NO_CREDENTIALS_REQUESTED';

/** One credential a workload asks for. */
export interface CredentialRequest {
  /** Credential kind, e.g. `stint-jwt`. */
  readonly kind: string;
  /** Audience (for JWT-shaped credentials). */
  readonly audience?: string;
  /** Target (role ARN, Vault path, ...) for provider credentials. */
  readonly target?: string;
  /** Requested TTL in seconds; 0 or absent means the rule's default. */
  readonly ttlSeconds?: number;
  /** Requested scopes. */
  readonly scopes?: readonly string[];
}

/** Optional context the caller supplies. */
export interface RequestContext {
  readonly reason?: string;
  readonly ticket?: string;
  readonly runId?: string;
}

/** What was granted for one credential request. */
export interface GrantedCredential {
  readonly request: CredentialRequest;
  readonly kind: string;
  readonly audience?: string;
  readonly target?: string;
  readonly scopes: readonly string[];
  /** TTL actually granted, in seconds (after default, cap and provider limits). */
  readonly ttlSeconds: number;
  /** True when the requested TTL was above the rule maximum and was capped. */
  readonly ttlCapped: boolean;
  /** Claims of the identity passed through into the credential (Stint JWTs). */
  readonly passClaims: Readonly<Record<string, unknown>>;
  /** Provider-specific settings from the rule's allow entry. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** A condition that failed on the nearest rule (for explainable denials). */
export interface FailedCondition {
  readonly field: string;
  readonly expected: string;
  readonly actual: string;
}

/** A policy decision. */
export type Decision =
  | { readonly outcome: 'allow'; readonly rule: string; readonly reason: 'RULE_MATCHED'; readonly credentials: readonly GrantedCredential[] }
  | {
      readonly outcome: 'deny';
      readonly rule: string | null;
      readonly reason: Exclude<DecisionReason, 'RULE_MATCHED'>;
      readonly message: string;
      /** With NO_RULE_MATCHED: the conditions the nearest rule failed. */
      readonly failed?: readonly FailedCondition[];
      /** With NO_RULE_MATCHED: the nearest rule (most conditions satisfied), for explanations only. */
      readonly nearestRule?: string;
    };

/** Options of one decision. */
export interface DecideOptions {
  /**
   * false: a NO_RULE_MATCHED denial skips the nearest-rule scan (no `nearestRule`, no `failed`).
   * Shadow evaluation uses it, and decides again with explanations only when it disagrees.
   */
  readonly explain?: boolean;
}

/** What a policy engine exposes to the pipeline. */
export interface PolicyEngine {
  /** Decide one exchange. Pure: no I/O, no clock except via `now`. */
  decide(identity: WorkloadIdentity, requests: readonly CredentialRequest[], now: number, context?: RequestContext, options?: DecideOptions): Decision;
  /** Rule names in order, for /readyz and the Admin API. */
  readonly ruleNames: readonly string[];
  /** SHA-256 of the policy source, for audit. */
  readonly digest: string;
}
