/**
 * What the providers whose credential is an object Stint creates upstream (a PostgreSQL role, a
 * RoleBinding, a Vault lease) have in common: the request names a target, revoking and reaping
 * both remove the object (so the reaper must act at expiry), and reconciliation sweeps the
 * objects under Stint's marking that no live grant accounts for, reporting each failure in one
 * short form. Written once here so the providers differ only in how they create, remove and list.
 */
import { StintError, UpstreamError } from '../errors.js';
import type { CredentialProvider, GrantDraft, GrantRef, IssuedCredential, RevokeResult } from './provider.js';

/** Why a removal happens: an operator or workload revoked the grant, or it expired. */
export type RemovalCause = 'revoke' | 'reap';

/** The parts of a provider of upstream objects that differ between kinds. */
export interface UpstreamObjectSpec extends Pick<CredentialProvider, 'kind' | 'maxTtlSeconds' | 'minTtlSeconds' | 'validateOptions' | 'renew' | 'reconcile' | 'close'> {
  /** Create the object for an allowed grant. */
  issue(draft: GrantDraft): Promise<IssuedCredential>;
  /** Remove the grant's object (idempotent: already gone is success). */
  remove(grant: GrantRef, cause: RemovalCause): Promise<RevokeResult>;
}

/** A provider whose credential is an upstream object: target required, removed on revoke and at expiry. */
export function upstreamObjectProvider(spec: UpstreamObjectSpec): CredentialProvider {
  const { remove, ...rest } = spec;
  return {
    ...rest,
    requires: 'target',
    reapOnExpiry: true,
    revoke: (grant) => remove(grant, 'revoke'),
    reap: (grant) => remove(grant, 'reap'),
  };
}

/** How a sweep treats one upstream object. */
export interface OrphanSweep<T> {
  /** The name reported for it (never a secret). */
  handle(candidate: T): string;
  /** True when no live grant accounts for it and it is old enough; an error ends the pass (the store is needed). */
  isOrphan(candidate: T): Promise<boolean>;
  /** Remove it; false when a last look says it stays after all. An error is reported and the sweep goes on. */
  remove(candidate: T): Promise<boolean>;
}

/** Remove the orphans among `candidates`, one at a time. */
export async function sweepOrphans<T>(candidates: Iterable<T>, sweep: OrphanSweep<T>): Promise<{ removed: string[]; failed: string[] }> {
  const removed: string[] = [];
  const failed: string[] = [];
  for (const candidate of candidates) {
    if (!(await sweep.isOrphan(candidate))) continue;
    try {
      if (await sweep.remove(candidate)) removed.push(sweep.handle(candidate));
    } catch (err) {
      failed.push(`${sweep.handle(candidate)}: ${failureOf(err)}`);
    }
  }
  return { removed, failed };
}

/** A failure as a reconciliation report lists it: the stable code, and the upstream's own code when there is one. */
export function failureOf(err: unknown): string {
  if (err instanceof UpstreamError) return `${err.code} (${err.upstreamCode})`;
  return err instanceof StintError ? err.code : 'ERR_INTERNAL';
}
