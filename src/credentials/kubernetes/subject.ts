/**
 * The subject a temporary RoleBinding binds, from the rule's `options.subject`
 * (`{ kind: ServiceAccount|User|Group, name, namespace? }`). Names may reference claims of the
 * verified identity: `${namespace}` (a top-level claim) or `${/kubernetes.io/pod/name}` (a JSON
 * Pointer). A substituted value must be a plain token (letters, digits, `.`, `_`, `@`, `+`, `-`,
 * starting with a letter or digit), so a claim can never introduce `system:` or a `/`.
 */
import type { WorkloadIdentity } from '../../attestation/attestor.js';
import { ConfigError, PolicyDeniedError, type StintError } from '../../errors.js';
import { DNS_LABEL, DNS_SUBDOMAIN } from './names.js';

/** An RBAC subject. */
export interface BindingSubject {
  readonly kind: 'ServiceAccount' | 'User' | 'Group';
  readonly name: string;
  readonly namespace?: string;
  readonly apiGroup?: string;
}

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const SUBSTITUTED_VALUE = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,252}$/;
const TEMPLATE = /\$\{([^{}]*)\}/g;
const KINDS = new Set(['ServiceAccount', 'User', 'Group']);

/** Resolve the rule's `options.subject` for one identity; `bindingNamespace` is null for a ClusterRoleBinding. */
export function resolveSubject(kind: string, rule: string, options: Readonly<Record<string, unknown>>, identity: WorkloadIdentity, bindingNamespace: string | null): BindingSubject {
  const invalid = (path: string, message: string): StintError => new ConfigError('ERR_POLICY_INVALID', `options.${path}`, `rule "${rule}": ${kind}: ${message}`, { rule });
  const raw = options['subject'];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('subject', 'required: { kind: ServiceAccount|User|Group, name, namespace? }');
  const subject = raw as Record<string, unknown>;
  for (const key of Object.keys(subject)) if (key !== 'kind' && key !== 'name' && key !== 'namespace') throw invalid(`subject.${key}`, 'unknown key');
  const subjectKind = subject['kind'];
  if (typeof subjectKind !== 'string' || !KINDS.has(subjectKind)) throw invalid('subject.kind', 'must be ServiceAccount, User or Group');

  const expand = (field: 'name' | 'namespace'): { value: string; templated: boolean } | undefined => {
    const template = subject[field];
    if (template === undefined) return undefined;
    if (typeof template !== 'string' || template.length === 0 || template.length > 1024) throw invalid(`subject.${field}`, 'must be a non-empty string');
    let templated = false;
    const value = template.replace(TEMPLATE, (_, ref: string) => {
      templated = true;
      const claim = claimValue(identity.claims, ref);
      if (claim === undefined) throw invalid(`subject.${field}`, `\${${ref}} is not a claim reference`);
      if (claim === null || !SUBSTITUTED_VALUE.test(claim)) {
        throw new PolicyDeniedError('ERR_POLICY_DENIED', `${kind}: the identity's claim ${JSON.stringify(ref)} is missing or not usable in a subject name`, rule, 'SUBJECT_CLAIM_INVALID', { claim: ref });
      }
      return claim;
    });
    if (value.includes('${')) throw invalid(`subject.${field}`, 'has an unterminated ${');
    return { value, templated };
  };
  const check = (ok: boolean, field: 'name' | 'namespace', expanded: { templated: boolean }, message: string): void => {
    if (ok) return;
    if (expanded.templated) throw new PolicyDeniedError('ERR_POLICY_DENIED', `${kind}: subject ${field} built from the identity's claims ${message}`, rule, 'SUBJECT_CLAIM_INVALID', { field });
    throw invalid(`subject.${field}`, message);
  };

  const name = expand('name');
  if (!name) throw invalid('subject.name', 'required');
  const namespace = expand('namespace');
  if (subjectKind === 'ServiceAccount') {
    check(DNS_SUBDOMAIN.test(name.value), 'name', name, 'is not a valid ServiceAccount name');
    if (namespace) check(DNS_LABEL.test(namespace.value), 'namespace', namespace, 'is not a valid namespace');
    const ns = namespace?.value ?? bindingNamespace;
    if (!ns) throw invalid('subject.namespace', 'required for a ServiceAccount bound cluster-wide');
    return { kind: 'ServiceAccount', name: name.value, namespace: ns };
  }
  if (namespace) throw invalid('subject.namespace', `not allowed for a ${subjectKind}`);
  // eslint-disable-next-line no-control-regex
  check(!/[\u0000-\u001f\u007f]/.test(name.value), 'name', name, 'contains control characters');
  return { kind: subjectKind as 'User' | 'Group', name: name.value, apiGroup: RBAC_GROUP };
}

/**
 * The value of `${ref}`: undefined when `ref` is not a reference at all, null when the claim is
 * missing or not a string (or a safe integer, read as its decimal form).
 */
function claimValue(claims: Readonly<Record<string, unknown>>, ref: string): string | null | undefined {
  let value: unknown;
  if (ref.startsWith('/')) {
    value = claims;
    for (const token of ref.slice(1).split('/')) {
      if (/~(?![01])/.test(token)) return undefined;
      const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, key)) return null;
      value = (value as Record<string, unknown>)[key];
    }
  } else {
    if (!/^[^\s/]+$/.test(ref)) return undefined;
    value = Object.hasOwn(claims, ref) ? claims[ref] : undefined;
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
}
