/**
 * Names and targets of the Kubernetes providers: request targets (`<namespace>/<serviceaccount>`,
 * `<namespace|cluster>/<Role|ClusterRole>/<name>`), binding names derived from grant ids, and the
 * creation time a UUIDv7 grant id carries.
 */
import { StintError } from '../../errors.js';

/** A namespace name (RFC 1123 label). */
export const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
/** A ServiceAccount or object name (RFC 1123 subdomain). */
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
/** A label value. */
export const LABEL_VALUE = /^(?=.{1,63}$)[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** An RBAC role name: a path segment (no `/` or `%`, not `.` or `..`). */
const ROLE_NAME = /^(?!\.{1,2}$)[^/%\s]{1,253}$/;

/** The binding scope word in targets and revocation handles. */
export const CLUSTER_SCOPE = 'cluster';

/** A ServiceAccount named by a `kubernetes-token` target. */
export interface ServiceAccountTarget {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** A role named by a `kubernetes-rolebinding` target. */
export type BindingTarget =
  | { readonly scope: 'namespace'; readonly namespace: string; readonly roleKind: 'Role' | 'ClusterRole'; readonly roleName: string }
  | { readonly scope: 'cluster'; readonly roleKind: 'ClusterRole'; readonly roleName: string };

function invalidTarget(kind: string, target: string | undefined, expected: string): StintError {
  return new StintError('ERR_INVALID_REQUEST', `${kind} target ${JSON.stringify((target ?? '').slice(0, 128))} is not ${expected}`, { kind, field: 'target' });
}

/** Parse `<namespace>/<serviceaccount>`. */
export function parseServiceAccountTarget(kind: string, target: string | undefined): ServiceAccountTarget {
  const parts = (target ?? '').split('/');
  const [namespace, serviceAccount] = parts;
  if (parts.length !== 2 || !namespace || !serviceAccount || !DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(serviceAccount)) {
    throw invalidTarget(kind, target, '<namespace>/<serviceaccount>');
  }
  return { namespace, serviceAccount };
}

/** Parse `<namespace>/<Role|ClusterRole>/<name>` or `cluster/ClusterRole/<name>`. */
export function parseBindingTarget(kind: string, target: string | undefined): BindingTarget {
  const parts = (target ?? '').split('/');
  const [scope, roleKind, roleName] = parts;
  const expected = '<namespace>/<Role|ClusterRole>/<name> or cluster/ClusterRole/<name>';
  if (parts.length !== 3 || !scope || !roleName || (roleKind !== 'Role' && roleKind !== 'ClusterRole') || !ROLE_NAME.test(roleName) || !DNS_LABEL.test(scope)) {
    throw invalidTarget(kind, target, expected);
  }
  if (scope === CLUSTER_SCOPE && roleKind === 'ClusterRole') return { scope: 'cluster', roleKind, roleName };
  return { scope: 'namespace', namespace: scope, roleKind, roleName };
}

/** `stint-<grant id without dashes>`: a valid object name that maps back to its grant. */
export function bindingName(grantId: string): string {
  const compact = grantId.toLowerCase().replace(/-/g, '');
  if (!/^[0-9a-z]{1,200}$/.test(compact)) throw new StintError('ERR_INTERNAL', 'grant id cannot name a Kubernetes object', { grantId: grantId.slice(0, 64) });
  return `stint-${compact}`;
}

/** The creation time (epoch ms) of a UUIDv7 grant id, or null for other ids. */
export { uuidv7TimeMs as grantTimeMs } from '../../ids.js';
