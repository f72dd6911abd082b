/**
 * The policy as the service holds it: checked against the providers at start (every credential
 * kind served, every provider's options valid) and reloaded on file change, SIGHUP or the Admin
 * API with the same checks.
 */
import type { Auditor } from '../audit/auditor.js';
import type { ProviderRegistry } from '../credentials/registry.js';
import { ConfigError } from '../errors.js';
import { PolicyReloader } from '../pipeline/policy_source.js';
import { loadPolicyFiles } from '../policy/load.js';
import type { ServiceContext } from './context.js';
import type { StartupInputs } from './inputs.js';

/** The part of a compiled policy the provider checks read. */
interface ProviderRules {
  readonly rules: readonly { readonly name: string; readonly allow: readonly { readonly kind: string; readonly options: Readonly<Record<string, unknown>> }[] }[];
}

/** Every allow entry's provider `options` are checked when the policy loads, not at the first request. */
export function validateProviderOptions(policy: ProviderRules, providers: Pick<ProviderRegistry, 'has' | 'get'>): void {
  for (const rule of policy.rules) {
    for (const entry of rule.allow) if (providers.has(entry.kind)) providers.get(entry.kind).validateOptions?.(entry.options, rule.name);
  }
}

/** Refuse a policy allowing a kind no provider issues, log its warnings, and check its provider options. */
export function checkPolicyAgainstProviders(ctx: ServiceContext, inputs: StartupInputs, providers: ProviderRegistry): void {
  const { enforced, shadow } = inputs.loadedPolicy;
  const unserved = [...new Set([...enforced.credentialKinds, ...(shadow?.credentialKinds ?? [])])].filter((k) => !providers.has(k));
  if (unserved.length > 0) {
    throw new ConfigError('ERR_POLICY_INVALID', 'rules', `credential kind ${unserved.join(', ')} has no provider (known: ${providers.kinds().join(', ')}) in ${ctx.config.policy.file}`);
  }
  for (const w of enforced.warnings) ctx.logger.warn({ policyWarning: w }, 'policy warning');
  validateProviderOptions(enforced, providers);
  if (shadow) validateProviderOptions(shadow, providers);
}

/** The reloader of the policy files (not started: `jobs.ts` starts it once the service listens). */
export function createPolicyReloader(ctx: ServiceContext, inputs: StartupInputs, providers: ProviderRegistry, auditor: Auditor): PolicyReloader {
  return new PolicyReloader({
    holder: inputs.policy,
    load: () => {
      const next = loadPolicyFiles({ ...inputs.policyFiles, knownKinds: (k) => providers.has(k) });
      validateProviderOptions(next.enforced, providers);
      if (next.shadow) validateProviderOptions(next.shadow, providers);
      return next;
    },
    files: inputs.loadedPolicy.files,
    auditor,
    metrics: ctx.metrics,
    logger: ctx.logger,
    clock: ctx.clock,
    watch: ctx.config.policy.watch ?? true,
  });
}

/** Audit the policy the service starts with (`policy.loaded`). */
export async function recordPolicyLoaded(ctx: ServiceContext, inputs: StartupInputs, auditor: Auditor): Promise<void> {
  const info = inputs.policy.info();
  await auditor.record({
    type: 'policy.loaded',
    requestId: null,
    identity: null,
    rule: null,
    outcome: 'info',
    reason: null,
    grantIds: [],
    data: { digest: info.digest, shadowDigest: info.shadowDigest ?? null, rules: info.rules.length, file: ctx.config.policy.file, files: inputs.loadedPolicy.files },
  });
}
