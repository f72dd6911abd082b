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
  /** Record grants and their audit event atomically. */
  recordIssuance(grants: readonly Grant[], event: AuditEvent): Promise<void>;
  appendAudit(event: AuditEvent): Promise<void>;
  getGrant(id: string): Promise<Grant | null>;
  listGrants(filter?: GrantFilter): Promise<Grant[]>;
  /** Mark a grant revoked; returns the updated grant, or null if unknown. Idempotent. */
  revokeGrant(id: string, at: number, reason: string): Promise<Grant | null>;
  /** Revoke every active grant of an identity; returns those revoked. */
  revokeIdentity(identity: string, at: number, reason: string): Promise<Grant[]>;
  /** Mark active grants past expiry as expired; returns them. */
  expireGrants(now: number): Promise<Grant[]>;
  countActiveGrants(now: number): Promise<number>;
  queryAudit(filter?: AuditFilter): Promise<AuditEvent[]>;
  listKeys(): Promise<StoredKey[]>;
  putKey(key: StoredKey): Promise<void>;
  deleteKey(kid: string): Promise<void>;
  close(): Promise<void>;
}
