/**
 * The CredentialProvider plugin seam: a provider turns an allowed grant into a credential and
 * follows one lifecycle: issue → track (grant in the store) → renew where the upstream allows →
 * revoke on demand → reap at expiry → reconcile against the target system. A new kind is one file
 * in this folder plus one line in registry.ts.
 */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import type { Clock } from '../clock.js';
import type { UpstreamObserver } from '../upstream/call.js';

export type { GrantRef } from '../grants/grant_ref.js';
import type { GrantRef } from '../grants/grant_ref.js';
import type { GrantedCredential } from '../grants/granted.js';

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
  /** The primary secret value (the token, the secret key, the password...). */
  readonly token: string;
  /** RFC 8693 issued_token_type, e.g. `urn:ietf:params:oauth:token-type:jwt`. */
  readonly tokenType: string;
  /** Further named fields (AWS access key id, username, lease id...). Secret ones are listed in `secretFields`. */
  readonly fields: Readonly<Record<string, string>>;
  /** Names of `fields` entries that are secret (for masking). */
  readonly secretFields: readonly string[];
  /** Epoch seconds (may be earlier than the grant's when the upstream grants less). */
  readonly expiresAt: number;
  /** Epoch seconds: when a client should renew. */
  readonly renewAfter: number;
  /** Upstream handle needed to revoke (lease id, role name, binding name...), stored with the grant; never secret. */
  readonly revocationHandle?: string;
}

/** Result of a revoke or reap call. */
export interface RevokeResult {
  /** True when the upstream credential stops working now; false when it stays valid until expiry. */
  readonly effective: boolean;
  /** Said plainly to the operator (e.g. "STS keys stay valid until expiry"). */
  readonly note?: string;
}

/** What a reconciliation pass found upstream. */
export interface ReconcileReport {
  /** Objects found under Stint's marking. */
  readonly found: number;
  /** Objects removed because no live grant accounts for them (names/handles, never secrets). */
  readonly removed: readonly string[];
  /** Objects that could not be removed, with a short reason each. */
  readonly failed: readonly string[];
}

/** Is a grant live (active and unexpired, or awaiting cleanup)? Used by reconciliation. */
export type LiveGrantCheck = (grantId: string) => Promise<boolean>;

/** Revocation handles of this provider's live grants, for upstreams whose objects cannot carry a grant id (Vault leases). */
export type LiveHandles = () => Promise<ReadonlySet<string>>;

/** One credential kind. */
/**
 * Why a grant is revoked: by an operator (`stint revoke`, quarantine), by the workload itself
 * (`POST /revoke`: a CI post step, a sidecar shutting down), or as the rollback of a credential that
 * was never handed out. Providers whose only revocation is broad (AWS: every older session of a
 * role) act on an operator's revocation only.
 */
export type RevokeCause = 'operator' | 'workload' | 'rollback';

export interface CredentialProvider {
  /** The kind named in policy rules and requests, e.g. `stint-jwt`, `aws-sts`. */
  readonly kind: string;
  /** Longest TTL this provider can issue, in seconds. */
  readonly maxTtlSeconds: number;
  /** Shortest TTL the upstream accepts (AWS STS: 900); shorter grants are raised to it. Default 1. */
  readonly minTtlSeconds?: number;
  /** Whether requests must carry an audience or a target. */
  readonly requires: 'audience' | 'target' | 'none';
  /** True when an expired grant leaves something upstream that the reaper must remove. */
  readonly reapOnExpiry: boolean;
  /** Check a policy rule's `options` for this kind when the policy loads (throws ERR_POLICY_INVALID naming the option). */
  validateOptions?(options: Readonly<Record<string, unknown>>, rule: string): void;
  /** Issue the credential for an allowed grant. Throws UpstreamError on upstream failure. */
  issue(grant: GrantDraft): Promise<IssuedCredential>;
  /** Revoke what `issue` produced (idempotent: revoking twice, or something already gone, succeeds). */
  revoke(grant: GrantRef, cause?: RevokeCause): Promise<RevokeResult>;
  /** Remove what an expired grant left upstream; defaults to `revoke` when absent. Idempotent. */
  reap?(grant: GrantRef): Promise<RevokeResult>;
  /** Extend a grant upstream where allowed; returns the new expiry (epoch seconds). */
  renew?(grant: GrantRef, ttlSeconds: number): Promise<{ expiresAt: number }>;
  /** List what exists upstream under Stint's marking and remove what no live grant accounts for. */
  reconcile?(isLive: LiveGrantCheck, now: number, liveHandles: LiveHandles): Promise<ReconcileReport>;
  /** Release connections. */
  close?(): Promise<void>;
}

/** What every provider factory receives besides its own configuration. */
export interface ProviderDeps {
  readonly clock: Clock;
  /** Stint's issuer URL. */
  readonly issuer: string;
  /**
   * Mint a short-lived Stint JWT for the grant's identity and `audience`, to present upstream as a
   * web identity (AWS AssumeRoleWithWebIdentity, GCP STS, Vault jwt auth). Never leaves Stint
   * except to that upstream. `claims` are added (they never override iss, sub, aud, times or jti).
   */
  webIdentityToken(grant: GrantDraft | GrantRef, audience: string, ttlSeconds?: number, claims?: Readonly<Record<string, unknown>>): Promise<string>;
  /** Metrics hook for every upstream call. */
  readonly onUpstreamCall?: UpstreamObserver;
}

/**
 * When a client should renew a credential valid from `start` until `expiresAt` (epoch seconds):
 * two thirds of the way there (whole seconds, rounded down). Every provider and the renewal
 * endpoint answer `renew_after` with it; the rule is written once, in src/client/renewal.ts, where
 * Stint's clients fall back on it too.
 */
export { renewAfterOf } from '../client/renewal.js';
