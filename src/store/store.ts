/**
 * The Store seam: grants, audit events and signing keys. SQLite is the embedded default;
 * PostgreSQL will implement the same interface, and one contract suite runs against both.
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
}

/** Audit event types. */
export type AuditType =
  | 'exchange.allowed'
  | 'exchange.denied'
  | 'exchange.error'
  | 'grant.revoked'
  | 'grant.expired'
  | 'key.created'
  | 'key.activated'
  | 'key.retired'
  | 'key.deleted'
  | 'policy.loaded';

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
  readonly limit?: number;
}

/** Filters for querying audit. */
export interface AuditFilter {
  /** Epoch milliseconds, inclusive. */
  readonly since?: number;
  readonly identity?: string;
  readonly type?: AuditType;
  readonly grantId?: string;
  readonly limit?: number;
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
  /** Mark active grants past expiry as expired; returns them. */
  expireGrants(now: number): Promise<Grant[]>;
  /** Active grants whose expiresAt is after `now` (epoch seconds). */
  countActiveGrants(now: number): Promise<number>;
  /** Audit events matching the filter, newest first (by time, then latest recorded first). */
  queryAudit(filter?: AuditFilter): Promise<AuditEvent[]>;
  /** Every stored signing key, oldest createdAt first. */
  listKeys(): Promise<StoredKey[]>;
  /** Insert or replace a key by kid. */
  putKey(key: StoredKey): Promise<void>;
  /** Delete a key; an unknown kid is a no-op. */
  deleteKey(kid: string): Promise<void>;
  /** Release the store; calling it again is harmless. */
  close(): Promise<void>;
}
