/**
 * A Vault dynamic secret as a Stint credential. The token is the secret's primary value when it
 * has an obvious one (`password` for database roles, `secret_key` for AWS, `token` for Consul or
 * Nomad), else the JSON of its data. Every data key is also a field (strings as they are, numbers
 * and booleans as text, objects as JSON, null left out) and every one of them is marked secret;
 * `lease_id`, `lease_duration` and `renewable` describe the lease.
 */
import { renewAfterOf, type GrantDraft, type IssuedCredential } from '../provider.js';
import type { VaultSecret } from './client.js';

/** RFC 8693 issued_token_type of a Vault secret. */
export const VAULT_SECRET_TOKEN_TYPE = 'urn:stint:params:oauth:token-type:vault-secret';

/** Data keys tried, in order, for the primary value. */
export const PRIMARY_KEYS: readonly string[] = ['password', 'secret_key', 'token'];

/** Lease fields added beside the data keys (they win over data keys of the same name). */
const LEASE_FIELDS = ['lease_id', 'lease_duration', 'renewable'] as const;

/** Build the credential of `draft` from a secret read at `now`, the reading token valid until `tokenValidUntil`. */
export function credentialOf(kind: string, draft: GrantDraft, secret: VaultSecret, now: number, tokenValidUntil: number): IssuedCredential {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const secretFields: string[] = [];
  for (const [key, value] of Object.entries(secret.data)) {
    if (value === null || value === undefined || (LEASE_FIELDS as readonly string[]).includes(key)) continue;
    fields[key] = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
    secretFields.push(key);
  }
  fields.lease_id = secret.leaseId;
  fields.lease_duration = String(secret.leaseDuration);
  fields.renewable = String(secret.renewable);
  const primaryKey = PRIMARY_KEYS.find((k) => typeof secret.data[k] === 'string' && secret.data[k] !== '');
  const token = primaryKey !== undefined ? (secret.data[primaryKey] as string) : JSON.stringify(secret.data);
  // The lease ends first of: Vault's lease, the grant (the reaper revokes the lease then), the
  // token that created it (Vault revokes a token's leases with it).
  const leaseEnd = secret.leaseDuration > 0 ? now + secret.leaseDuration : Number.POSITIVE_INFINITY;
  const expiresAt = Math.max(now + 1, Math.min(leaseEnd, draft.expiresAt, tokenValidUntil));
  return {
    kind,
    token,
    tokenType: VAULT_SECRET_TOKEN_TYPE,
    fields,
    secretFields,
    expiresAt,
    // Vault leases as short as 1 s: never ask for a renewal before the next second.
    renewAfter: Math.max(now + 1, renewAfterOf(now, expiresAt)),
    revocationHandle: secret.leaseId,
  };
}
