/**
 * The Store seam: grants, audit events and signing keys. SQLite is the embedded default;
 * PostgreSQL serves several replicas; one contract suite runs against both. Methods that replicas
 * sharing a store could race on (claiming cleanups, creating keys) are atomic across them.
 */

/** Lifecycle state of a grant. */
export type GrantState = 'active' | 'revoked' | 'expired' | 'reaped';

/** A recorded grant. Times are epoch seconds. */
export interface Grant {
  readonly id: string;
  readonly identity: string;
  readonly attestor: string;
  readonly issuer: string;
  readonly rule: string;
  readonly kind: string;
  readonly audience: string | null;
  readonly target: string | null;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly state: GrantState;
  readonly revokedAt: number | null;
  readonly revokedReason: string | null;
  readonly revocationHandle: string | null;
  /** Fingerprint of the issued credential. */
  readonly credentialFingerprint: string;
  /** Upstream cleanup: none needed yet, pending (revoke or reap to do or retry), done, or resolved by an operator. */
  readonly cleanup: CleanupState;
  /** Failed cleanup attempts so far. */
  readonly cleanupAttempts: number;
  /** When the next cleanup attempt is due (epoch seconds), while pending. */
  readonly cleanupNextAt: number | null;
  /** Stable code of the last cleanup failure (never a secret). */
  readonly cleanupError: string | null;
}

/** Upstream cleanup state of a grant. */
export type CleanupState = 'none' | 'pending' | 'done' | 'resolved';

/** The outcome of one cleanup attempt. */
export type CleanupOutcome =
  | { readonly ok: true; readonly at: number }
  | { readonly ok: false; readonly at: number; readonly error: string; readonly nextAt: number };

/** Audit event types. */
export type AuditType =
  | 'exchange.allowed'
  | 'exchange.denied'
  | 'exchange.error'
  | 'grant.revoked'
  | 'grant.expired'
  | 'grant.reaped'
  | 'grant.renewed'
  | 'grant.cleanup_failed'
  | 'grant.resolved'
  | 'reconcile.removed'
  | 'key.created'
  | 'key.activated'
  | 'key.retired'
  | 'key.deleted'
  | 'policy.loaded'
  | 'policy.reload_failed'
  | 'policy.shadow_disagreement'
  | 'identity.quarantined'
  | 'identity.unquarantined'
  | 'breakglass.requested'
  | 'breakglass.approved'
  | 'breakglass.released';

/** One audit event. Never carries a token or secret: fingerprints only. */
export interface AuditEvent {
  readonly id: string;
  /** Epoch milliseconds. */
  readonly time: number;
  readonly type: AuditType;
  readonly requestId: string | null;
  readonly identity: string | null;
  readonly rule: string | null;
  readonly outcome: 'allow' | 'deny' | 'error' | 'info';
  readonly reason: string | null;
  readonly grantIds: readonly string[];
  /** Structured details: verified claims, the request, error code, fingerprints. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** A stored signing key. */
export interface StoredKey {
  readonly kid: string;
  readonly alg: string;
  /** Private JWK as JSON (the store file is mode 0600). */
  readonly privateJwk: string;
  readonly publicJwk: string;
  readonly state: 'next' | 'current' | 'retired';
  /** Epoch seconds. */
  readonly createdAt: number;
  readonly activatedAt: number | null;
  readonly retiredAt: number | null;
  /** Published until then (epoch seconds) once retired. */
  readonly publishUntil: number | null;
}

/** Filters for listing grants. */
export interface GrantFilter {
  readonly identity?: string;
  readonly state?: GrantState;
  /** Only grants whose cleanup is pending after at least this many failed attempts ("stuck"). */
  readonly stuckAfterAttempts?: number;
  readonly limit?: number;
}

/** Filters for querying audit. */
export interface AuditFilter {
  /** Epoch milliseconds, inclusive. */
  readonly since?: number;
  readonly identity?: string;
  readonly type?: AuditType;
  readonly grantId?: string;
  /** Events of one request (its request id). */
  readonly requestId?: string;
  /** One event by its id. */
  readonly eventId?: string;
  readonly limit?: number;
}

/** Trust-on-first-use binding of a static attestation proof (e.g. an AWS instance identity document) to its first use. */
export interface AttestationBindingInput {
  /** Attestation kind, e.g. `aws-iid`. */
  readonly kind: string;
  /** What identifies the proof within its kind (a digest of the document, never the document). */
  readonly key: string;
  /** What the proof is bound to on first use (e.g. the client nonce). */
  readonly binding: string;
  /** Epoch milliseconds. */
  readonly now: number;
  /** Epoch milliseconds: the binding holds while `now < expiresAt`. */
  readonly expiresAt: number;
}

/** The binding in force after bindAttestation. */
export interface AttestationBinding {
  readonly binding: string;
  /** True when this call created (or replaced an expired) binding; false when an earlier one holds. */
  readonly firstUse: boolean;
}

/** An identity refused new exchanges and renewals until `until` (or until lifted). Times are epoch milliseconds. */
export interface Quarantine {
  readonly identity: string;
  readonly reason: string;
  /** Who quarantined it (an admin name). */
  readonly actor: string;
  readonly at: number;
  /** When it ends by itself; null: only when lifted. */
  readonly until: number | null;
}

/** Persistent state of Stint. */
export interface Store {
  /** Record grants and their audit event atomically: if either insert fails, nothing of this call is written. */
  recordIssuance(grants: readonly Grant[], event: AuditEvent): Promise<void>;
  /** Append one audit event. */
  appendAudit(event: AuditEvent): Promise<void>;
  getGrant(id: string): Promise<Grant | null>;
  /** Grants matching the filter, most recently recorded first. */
  listGrants(filter?: GrantFilter): Promise<Grant[]>;
  /**
   * Mark an active grant revoked; returns the updated grant, or null if unknown. Idempotent: a grant
   * that is not active (already revoked, expired, reaped) is returned unchanged, keeping its first revokedAt.
   */
  revokeGrant(id: string, at: number, reason: string): Promise<Grant | null>;
  /** Revoke every active grant of an identity; returns those revoked. */
  revokeIdentity(identity: string, at: number, reason: string): Promise<Grant[]>;
  /**
   * Mark active grants past expiry as expired, with cleanup pending and due now; returns them. The
   * same pass drops attestation bindings and quarantines that ended by `now` (the reaper's tick).
   */
  expireGrants(now: number): Promise<Grant[]>;
  /** Grants whose cleanup is pending and due at `now`, oldest due first (a read: the reaper claims with claimCleanups). */
  dueCleanups(now: number, limit: number): Promise<Grant[]>;
  /**
   * Claim up to `limit` grants whose cleanup is pending and due at `now`, oldest due first: their
   * next attempt moves to `now + leaseSeconds` (the returned cleanupNextAt), so a reaper sharing the
   * store skips them until recordCleanup settles them or the lease runs out (a claimer that died).
   * Two concurrent claims never return the same grant.
   */
  claimCleanups(now: number, limit: number, leaseSeconds: number): Promise<Grant[]>;
  /** Record a cleanup attempt: success marks cleanup done (and an expired grant reaped); failure schedules the next. */
  recordCleanup(id: string, outcome: CleanupOutcome): Promise<Grant | null>;
  /** Move an active grant's expiry (renewal); returns the updated grant, or null when unknown or not active. */
  extendGrant(id: string, expiresAt: number): Promise<Grant | null>;
  /** Revocation handles of live grants of a kind (active and unexpired at `now`, or cleanup pending). */
  liveRevocationHandles(kind: string, now: number): Promise<string[]>;
  /** An operator resolved a stuck cleanup by hand. */
  resolveCleanup(id: string): Promise<Grant | null>;
  /** Active grants whose expiresAt is after `now` (epoch seconds). */
  countActiveGrants(now: number): Promise<number>;
  /** How many grants have a pending cleanup after at least this many failed attempts (stuck). */
  countStuckGrants(stuckAfterAttempts: number): Promise<number>;
  /** Audit events matching the filter, newest first (by time, then latest recorded first). */
  queryAudit(filter?: AuditFilter): Promise<AuditEvent[]>;
  /** Every stored signing key, oldest createdAt first. */
  listKeys(): Promise<StoredKey[]>;
  /** Insert or replace a key by kid. */
  putKey(key: StoredKey): Promise<void>;
  /**
   * Insert a new key only if its rotation slot is free: a `current` key while no key is current, a
   * `next` key while no `next` key of its algorithm waits (a `retired` key has no slot). Atomic across
   * replicas sharing the store; returns false, writing nothing, when the slot is taken or the kid exists.
   */
  insertKey(key: StoredKey): Promise<boolean>;
  /** Delete a key; an unknown kid is a no-op. */
  deleteKey(kid: string): Promise<void>;
  /**
   * Bind a static attestation proof to its first use, atomically (across replicas sharing the store):
   * while a binding of (kind, key) holds at `now` it is returned unchanged with firstUse false;
   * otherwise the given binding is stored (replacing an expired one) and returned with firstUse true.
   * Of concurrent first binders exactly one gets firstUse true; the others see its binding.
   */
  bindAttestation(input: AttestationBindingInput): Promise<AttestationBinding>;
  /** Drop the binding of (kind, key) (an operator's escape hatch); false when there was none. */
  unbindAttestation(kind: string, key: string): Promise<boolean>;
  /** Quarantine an identity, replacing any quarantine it already has (the latest decision holds). */
  quarantineIdentity(q: Quarantine): Promise<void>;
  /** Lift an identity's quarantine; true when one was in force at `at` (epoch milliseconds). */
  liftQuarantine(identity: string, at: number): Promise<boolean>;
  /** The identity's quarantine in force at `now` (epoch milliseconds: at or after `until` it has ended), or null. */
  activeQuarantine(identity: string, now: number): Promise<Quarantine | null>;
  /** Every quarantine in force at `now`, most recent `at` first (then by identity). */
  listQuarantines(now: number): Promise<Quarantine[]>;
  /**
   * The database server's clock (epoch milliseconds), where replicas share a server (PostgreSQL):
   * the reference each replica measures its own clock against. Absent for SQLite (one host, one clock).
   */
  databaseTime?(): Promise<number>;
  /** Release the store; calling it again is harmless. */
  close(): Promise<void>;
}
