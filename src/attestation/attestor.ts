/**
 * The Attestor plugin seam: one attestor verifies one kind of subject token from one configured
 * issuer and yields a WorkloadIdentity. Attestors import nothing above this folder.
 */

/** Attestor kinds Stint knows. A new kind is one file in this folder plus one line in registry.ts. */
export type AttestorKind = 'kubernetes' | 'github-actions' | 'oidc';

/** Claim values policy may read. Values are kept exactly as the token carried them. */
export type ClaimValue = string | number | boolean | null | ClaimValue[] | { [k: string]: ClaimValue };

/** The verified, normalized result of an attestation. */
export interface WorkloadIdentity {
  /** Attestor kind that verified the proof. */
  readonly attestor: AttestorKind;
  /** Name of the configured attestor instance (unique in the config). */
  readonly attestorName: string;
  /** The token's `iss`, byte-exact. */
  readonly issuer: string;
  /** The token's `sub`, byte-exact. */
  readonly subject: string;
  /** Stable identity string, e.g. `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`. */
  readonly id: string;
  /** Verified claims policy may read: the token's claims plus normalized ones (namespace, ...). */
  readonly claims: Readonly<Record<string, ClaimValue>>;
  /** Expiry of the subject token (epoch seconds); 0 when the token has none (legacy Kubernetes). */
  readonly expiresAt: number;
  /** True for a legacy Kubernetes secret-based token: policy must opt in explicitly. */
  readonly legacy?: boolean;
  /**
   * Epoch seconds after which the identity must be attested again although the token has not
   * expired: a check against a live system (the Kubernetes TokenReview) holds until then. A
   * cache of verified identities must not keep this one longer.
   */
  readonly recheckAt?: number;
}

/** One configured attestor instance. */
export interface Attestor {
  readonly kind: AttestorKind;
  readonly name: string;
  /** The issuer this attestor accepts, compared byte-exact with the token's `iss`. */
  readonly issuers: readonly string[];
  /** Verify a compact JWS subject token; throws TokenError / StintError with a stable code. */
  attest(subjectToken: string): Promise<WorkloadIdentity>;
  /** True when keys are available (or were at least once); used by /readyz. */
  ready(): boolean;
  /** Release timers and connections. */
  close?(): void;
}
