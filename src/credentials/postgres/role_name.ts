/**
 * Names of the roles Stint creates: `<prefix><grant id without dashes>`, so a role maps back to
 * its grant (reconciliation) and to the grant's creation time (UUIDv7). At most 63 bytes, the
 * PostgreSQL identifier limit (longer names are silently truncated by the server).
 */

/** PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Length of a grant id without dashes. */
const COMPACT_ID_LENGTH = 32;

/** Longest allowed role prefix, so that prefix + compact id fits in 63 bytes. */
export const MAX_ROLE_PREFIX_LENGTH = MAX_IDENTIFIER_BYTES - COMPACT_ID_LENGTH;

/** Allowed role prefixes: lower-case, starting with a letter or underscore. */
export const ROLE_PREFIX_PATTERN = /^[a-z_][a-z0-9_]*$/;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COMPACT = /^[0-9a-f]{32}$/;

/** The role name of a grant; throws RangeError when the grant id is not a lower-case UUID. */
export function roleNameFor(prefix: string, grantId: string): string {
  if (!UUID.test(grantId)) throw new RangeError('grant id is not a lower-case UUID');
  return prefix + grantId.replace(/-/g, '');
}

/** The grant id a role name carries, or null when the name is not `<prefix><32 hex digits>`. */
export function grantIdOfRole(prefix: string, roleName: string): string | null {
  if (!roleName.startsWith(prefix)) return null;
  const hex = roleName.slice(prefix.length);
  if (!COMPACT.test(hex)) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Creation time of a grant id (shared with the other providers). */
export { uuidv7TimeMs } from '../../ids.js';
