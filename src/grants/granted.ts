/**
 * What a workload asks for and what policy grants it: the words the policy engine and the
 * credential providers share, in a neutral module so that neither imports the other.
 */

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
