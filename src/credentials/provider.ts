/**
 * The CredentialProvider plugin seam: a provider turns an allowed grant into a credential and
 * knows how to revoke it. A new kind is one file in this folder plus one line in registry.ts.
 */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import type { GrantedCredential } from '../policy/decision.js';

/** The grant a provider issues for (already decided, not yet recorded). */
export interface GrantDraft {
  readonly id: string;
  readonly identity: WorkloadIdentity;
  readonly rule: string;
  readonly granted: GrantedCredential;
  /** Epoch seconds. */
  readonly issuedAt: number;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** A credential as it leaves Stint. */
export interface IssuedCredential {
  readonly kind: string;
  /** The primary secret value (the token, the secret key...). */
  readonly token: string;
  /** RFC 8693 issued_token_type, e.g. `urn:ietf:params:oauth:token-type:jwt`. */
  readonly tokenType: string;
  /** Further named fields (AWS access key id, username, lease id...). Secret ones are listed in `secretFields`. */
  readonly fields: Readonly<Record<string, string>>;
  /** Names of `fields` entries that are secret (for masking). */
  readonly secretFields: readonly string[];
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** Epoch seconds: when a client should renew. */
  readonly renewAfter: number;
  /** Upstream handle needed to revoke (lease id, role name...), stored with the grant; never secret. */
  readonly revocationHandle?: string;
}

/** Result of a revoke call. */
export interface RevokeResult {
  /** True when the upstream credential stops working now; false when it stays valid until expiry. */
  readonly effective: boolean;
  readonly note?: string;
}

/** One credential kind. */
export interface CredentialProvider {
  /** The kind named in policy rules and requests, e.g. `stint-jwt`. */
  readonly kind: string;
  /** Longest TTL this provider can issue, in seconds. */
  readonly maxTtlSeconds: number;
  /** Whether requests must carry an audience or a target. */
  readonly requires: 'audience' | 'target' | 'none';
  /** Issue the credential for an allowed grant. */
  issue(grant: GrantDraft): Promise<IssuedCredential>;
  /** Revoke what `issue` produced. */
  revoke(grant: { id: string; revocationHandle?: string | null }): Promise<RevokeResult>;
}
