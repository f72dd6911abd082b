/** The shape of a policy decision: every decision names its rule (or null) and a reason code. */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import type { CredentialRequest, GrantedCredential } from '../grants/granted.js';

export type { CredentialRequest, GrantedCredential } from '../grants/granted.js';

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

/** Optional context the caller supplies. */
export interface RequestContext {
  readonly reason?: string;
  readonly ticket?: string;
  readonly runId?: string;
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
