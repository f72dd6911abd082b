/**
 * The Azure resource id of a managed identity (`xms_mirid`, `xms_az_rid`):
 * `/subscriptions/<sub>/resourcegroups/<rg>/providers/<Namespace>/<type>/<name>`. Split for policy
 * and the identity URI; every part is checked against Azure's naming rules so none can inject a
 * path segment. Values are kept byte-exact (only the fixed words `subscriptions`,
 * `resourcegroups` and `providers` are matched without case, as ARM treats them).
 */

/** The parts of a managed identity's resource id. */
export interface AzureResourceId {
  readonly subscription_id: string;
  readonly resource_group: string;
  /** `<Namespace>/<type>`, e.g. `Microsoft.Compute/virtualMachines`. */
  readonly provider: string;
  readonly resource_name: string;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
const NAMESPACE = /^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+$/;
const TYPE = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const NAME = /^[A-Za-z0-9][-\w.]{0,127}$/;

/** True for a GUID (tenant, subscription, object ids). */
export function isGuid(v: unknown): v is string {
  return typeof v === 'string' && GUID.test(v);
}

/** Parse a resource id, or undefined when it is not one of a single top-level resource. */
export function parseResourceId(id: string): AzureResourceId | undefined {
  const p = id.split('/');
  if (p.length !== 9 || p[0] !== '') return undefined;
  const [, subs, sub, rgs, rg, providers, ns, type, name] = p as [string, string, string, string, string, string, string, string, string];
  if (subs.toLowerCase() !== 'subscriptions' || rgs.toLowerCase() !== 'resourcegroups' || providers.toLowerCase() !== 'providers') return undefined;
  if (!GUID.test(sub) || !RESOURCE_GROUP.test(rg) || !NAMESPACE.test(ns) || !TYPE.test(type) || !NAME.test(name) || name.endsWith('.')) return undefined;
  return { subscription_id: sub, resource_group: rg, provider: `${ns}/${type}`, resource_name: name };
}
