/**
 * What /readyz reports: a signing key to sign with, a store that answers, and a policy that
 * loaded and has rules. Each check is `true` or the reason it is not ready.
 */
import type { Keyring } from '../keys/keyring.js';
import type { PolicyHolder } from '../pipeline/policy_source.js';
import type { Store } from '../store/store.js';

/** The checks of /readyz, by name: `true`, or why the service is not ready. */
export type ReadinessChecks = Record<string, true | string>;

/** The /readyz check of the policy: stale while the file on disk failed to load. */
export function policyReadiness(policy: PolicyHolder): true | string {
  const stale = policy.staleness();
  if (stale) return `stale: the policy file failed to load at ${new Date(stale.since).toISOString()} (${stale.error.slice(0, 300)}); serving ${policy.info().digest.slice(0, 12)}`;
  return policy.current().ruleNames.length > 0 ? true : 'policy has no rules';
}

/** The service's readiness: signing keys, the store (one read) and the policy. */
export function serviceReadiness(deps: { readonly keyring: Keyring; readonly store: Store; readonly policy: PolicyHolder }): () => Promise<ReadinessChecks> {
  return async () => ({
    keys: deps.keyring.ready() ? true : 'no signing key',
    store: (await deps.store.countActiveGrants(0).then(() => true, () => false)) ? true : 'store unavailable',
    policy: policyReadiness(deps.policy),
  });
}
