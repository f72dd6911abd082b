/**
 * Self-revocation: a workload revokes its own grant by proving it is still the same identity (a
 * fresh subject token of the same identity), e.g. a CI job's post step or a sidecar on shutdown.
 * A grant of another identity is reported exactly like an unknown one.
 */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import { StintError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { AdminService, RevocationResult } from './admin.js';

/** Revokes grants on behalf of the identity that holds them. */
export class SelfRevocation {
  constructor(private readonly deps: { attest: (subjectToken: string) => Promise<WorkloadIdentity>; store: Store; admin: AdminService }) {}

  /** Verify the subject token, check the grant is the caller's own, revoke it. */
  async revoke(subjectToken: string, grantId: string, reason: string): Promise<RevocationResult> {
    if (!subjectToken) throw new StintError('ERR_INVALID_REQUEST', 'subject_token is required', { field: 'subject_token' });
    if (!grantId) throw new StintError('ERR_INVALID_REQUEST', 'grant_id is required', { field: 'grant_id' });
    const identity = await this.deps.attest(subjectToken);
    const grant = await this.deps.store.getGrant(grantId);
    if (!grant || grant.identity !== identity.id) throw new StintError('ERR_NOT_FOUND', 'no such grant for this identity', { field: 'grant_id' });
    return this.deps.admin.revokeGrant(grantId, reason || 'revoked by its workload', identity.id);
  }
}
