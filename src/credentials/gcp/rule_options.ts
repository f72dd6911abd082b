/**
 * The `options` of a policy allow entry for `gcp-access-token`:
 *
 * ```yaml
 * options:
 *   mode: workload-identity-federation   # or impersonation; default: providers.gcp.mode
 *   defaultScopes: [https://www.googleapis.com/auth/devstorage.read_only]   # when the request names none
 * ```
 *
 * Unknown keys are refused (a misspelt `mode` must not silently change how tokens are made).
 */
import { z } from 'zod';
import { ConfigError } from '../../errors.js';

/** How a token is obtained. */
export const GCP_MODES = ['impersonation', 'workload-identity-federation'] as const;
export type GcpMode = (typeof GCP_MODES)[number];

/** One OAuth scope: a non-empty string without whitespace. */
export const scopeSchema = z.string().regex(/^\S{1,256}$/, 'a scope is a non-empty string without spaces');

const ruleOptionsSchema = z
  .object({
    mode: z.enum(GCP_MODES).optional(),
    defaultScopes: z.array(scopeSchema).min(1).max(64).optional(),
  })
  .strict();

/** Parsed rule options. */
export type GcpRuleOptions = z.infer<typeof ruleOptionsSchema>;

const cache = new WeakMap<object, GcpRuleOptions>();

/** Parse (once per options object) the options of the rule `rule`; bad options are ERR_POLICY_INVALID. */
export function ruleOptions(options: Readonly<Record<string, unknown>>, rule: string): GcpRuleOptions {
  const hit = cache.get(options);
  if (hit) return hit;
  const result = ruleOptionsSchema.safeParse(options);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = ['options', ...(issue?.path ?? []).map(String)].join('.');
    throw new ConfigError('ERR_POLICY_INVALID', path, `rule ${rule}: ${issue?.message ?? 'invalid'} (gcp-access-token options: mode, defaultScopes)`, { rule });
  }
  cache.set(options, result.data);
  return result.data;
}
