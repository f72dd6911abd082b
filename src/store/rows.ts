/**
 * Row shapes and column lists shared by the SQL stores (SQLite, PostgreSQL): the same table layout,
 * snake_case columns, epoch seconds as integers.
 */
import type { CleanupState, Grant, GrantState, Quarantine, StoredKey } from './store.js';

/** A `grants` row. */
export interface GrantRow {
  id: string;
  identity: string;
  attestor: string;
  issuer: string;
  rule: string;
  kind: string;
  audience: string | null;
  target: string | null;
  issued_at: number;
  expires_at: number;
  state: GrantState;
  revoked_at: number | null;
  revoked_reason: string | null;
  revocation_handle: string | null;
  credential_fingerprint: string;
  cleanup: CleanupState;
  cleanup_attempts: number;
  cleanup_next_at: number | null;
  cleanup_error: string | null;
}

/** A `keys` row. */
export interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  state: StoredKey['state'];
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
  publish_until: number | null;
}

/** Columns an issuance writes. */
export const INSERT_GRANT_COLUMNS =
  'id, identity, attestor, issuer, rule, kind, audience, target, issued_at, expires_at, state, revoked_at, revoked_reason, revocation_handle, credential_fingerprint';
/** Every column of a grant, in GrantRow order. */
export const GRANT_COLUMNS = `${INSERT_GRANT_COLUMNS}, cleanup, cleanup_attempts, cleanup_next_at, cleanup_error`;
/** Seconds an admin revoke gets to clean up inline before the reaper retries it. */
export const INLINE_REVOKE_GRACE_SECONDS = 60;
/** Columns of an audit event. */
export const AUDIT_COLUMNS = 'id, time, type, request_id, identity, rule, outcome, reason, grant_ids, data';

/** A grant from its row. */
/** A grant's values in INSERT_GRANT_COLUMNS order, for either store's insert. */
export function grantParams(g: Grant): unknown[] {
  return [
    g.id,
    g.identity,
    g.attestor,
    g.issuer,
    g.rule,
    g.kind,
    g.audience,
    g.target,
    g.issuedAt,
    g.expiresAt,
    g.state,
    g.revokedAt,
    g.revokedReason,
    g.revocationHandle,
    g.credentialFingerprint,
  ];
}

export function grantFromRow(r: GrantRow): Grant {
  return {
    id: r.id,
    identity: r.identity,
    attestor: r.attestor,
    issuer: r.issuer,
    rule: r.rule,
    kind: r.kind,
    audience: r.audience,
    target: r.target,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
    state: r.state,
    revokedAt: r.revoked_at,
    revokedReason: r.revoked_reason,
    revocationHandle: r.revocation_handle,
    credentialFingerprint: r.credential_fingerprint,
    cleanup: r.cleanup,
    cleanupAttempts: r.cleanup_attempts,
    cleanupNextAt: r.cleanup_next_at,
    cleanupError: r.cleanup_error,
  };
}

/** A key from its row. */
export function keyFromRow(r: KeyRow): StoredKey {
  return {
    kid: r.kid,
    alg: r.alg,
    privateJwk: r.private_jwk,
    publicJwk: r.public_jwk,
    state: r.state,
    createdAt: r.created_at,
    activatedAt: r.activated_at,
    retiredAt: r.retired_at,
    publishUntil: r.publish_until,
  };
}

/** A `quarantines` row. */
export interface QuarantineRow {
  identity: string;
  reason: string;
  actor: string;
  quarantined_at: number;
  ends_at: number | null;
}

/** A quarantine from its row. */
export function quarantineFromRow(r: QuarantineRow): Quarantine {
  return { identity: r.identity, reason: r.reason, actor: r.actor, at: r.quarantined_at, until: r.ends_at };
}

/** Quarantines most recent first, then by identity (code units, the same in both stores). */
export function sortQuarantines(list: Quarantine[]): Quarantine[] {
  return list.sort((a, b) => b.at - a.at || (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
}

/** Whether a quarantine that ends at `until` is still in force at `at`. */
export function quarantineInForce(until: number | null, at: number): boolean {
  return until === null || until > at;
}
