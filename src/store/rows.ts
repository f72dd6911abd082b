/**
 * Row shapes, column lists and row mapping shared by the SQL stores (SQLite, PostgreSQL): the same
 * table layout, snake_case columns, epoch seconds as integers (audit time, bindings and quarantines
 * in epoch milliseconds).
 */
import type { AuditEvent, CleanupState, Grant, GrantState, Quarantine, StoredKey } from './store.js';

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
/** Columns of a key, in KeyRow order. */
export const KEY_COLUMNS = 'kid, alg, private_jwk, public_jwk, state, created_at, activated_at, retired_at, publish_until';

/** An `audit` row: SQLite keeps grant ids and data as JSON text, PostgreSQL as JSONB (parsed by the driver). */
export interface AuditRow {
  id: string;
  time: number;
  type: AuditEvent['type'];
  request_id: string | null;
  identity: string | null;
  rule: string | null;
  outcome: AuditEvent['outcome'];
  reason: string | null;
  grant_ids: string | string[];
  data: string | Record<string, unknown>;
}

/** An event's values in AUDIT_COLUMNS order; `json` serializes grant ids and data (it throws on what JSON cannot hold). */
export function auditParams(e: AuditEvent, json: (value: unknown) => string): unknown[] {
  return [e.id, e.time, e.type, e.requestId, e.identity, e.rule, e.outcome, e.reason, json(e.grantIds), json(e.data)];
}

/** An audit event from its row. */
export function auditFromRow(r: AuditRow): AuditEvent {
  return {
    id: r.id,
    time: r.time,
    type: r.type,
    requestId: r.request_id,
    identity: r.identity,
    rule: r.rule,
    outcome: r.outcome,
    reason: r.reason,
    grantIds: typeof r.grant_ids === 'string' ? (JSON.parse(r.grant_ids) as string[]) : r.grant_ids,
    data: typeof r.data === 'string' ? (JSON.parse(r.data) as Record<string, unknown>) : r.data,
  };
}

/** A list limit: a positive whole number, or null for none. */
export function limitOf(limit: number | undefined): number | null {
  return limit !== undefined && Number.isFinite(limit) && limit > 0 ? Math.floor(limit) : null;
}

/** A key's values in KEY_COLUMNS order. */
export function keyParams(k: StoredKey): unknown[] {
  return [k.kid, k.alg, k.privateJwk, k.publicJwk, k.state, k.createdAt, k.activatedAt, k.retiredAt, k.publishUntil];
}

/** The values of INSERT_KEY_IN_SLOT: the key, then what its slot check compares. */
export function keyInSlotParams(k: StoredKey): unknown[] {
  return [...keyParams(k), k.kid, k.state, k.alg, k.state];
}

/** Keys oldest createdAt first, then by kid (code units, the same in both stores). */
export function sortKeys(keys: StoredKey[]): StoredKey[] {
  return keys.sort((a, b) => a.createdAt - b.createdAt || byCodeUnit(a.kid, b.kid));
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

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

/** A grant from its row. */
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
  return list.sort((a, b) => b.at - a.at || byCodeUnit(a.identity, b.identity));
}

/** Whether a quarantine that ends at `until` is still in force at `at`. */
export function quarantineInForce(until: number | null, at: number): boolean {
  return until === null || until > at;
}
