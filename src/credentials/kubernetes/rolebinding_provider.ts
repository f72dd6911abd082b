/**
 * `kubernetes-rolebinding`: a temporary RoleBinding (target `<namespace>/<Role|ClusterRole>/<name>`)
 * or ClusterRoleBinding (target `cluster/ClusterRole/<name>`) binding the rule's `options.subject`
 * to that role until the grant ends. The binding is named `stint-<grant id without dashes>`,
 * labelled `app.kubernetes.io/managed-by` and `<prefix>/grant-id`, and annotated with its expiry,
 * identity and rule. Revoking or reaping deletes it (access ends as soon as the API server's
 * authorizer sees the deletion); reconciliation deletes bindings Stint labelled that no live grant
 * accounts for.
 */
import type { V1ClusterRoleBinding, V1ObjectMeta, V1RoleBinding } from '@kubernetes/client-node';
import type { Clock } from '../../clock.js';
import { UpstreamError } from '../../errors.js';
import { renewAfterOf, type CredentialProvider, type GrantDraft, type GrantRef, type IssuedCredential, type LiveGrantCheck, type ReconcileReport, type RevokeResult } from '../provider.js';
import { failureOf, sweepOrphans, upstreamObjectProvider, type RemovalCause } from '../upstream_object.js';
import type { KubernetesProviderConfig } from './config.js';
import type { CallOptions, KubeApis, KubernetesConnection } from './connection.js';
import { apiFailureOf } from '../../kube/api_errors.js';
import { bindingName, CLUSTER_SCOPE, DNS_LABEL, DNS_SUBDOMAIN, grantTimeMs, parseBindingTarget, type BindingTarget } from './names.js';
import { resolveSubject, type BindingSubject } from './subject.js';

/** The credential kind. */
export const KUBERNETES_ROLEBINDING_KIND = 'kubernetes-rolebinding';
/** Token type of the credential: the binding's name (nothing secret exists). */
export const KUBERNETES_ROLEBINDING_TOKEN_TYPE = 'urn:stint:params:oauth:token-type:kubernetes-rolebinding';
/** The standard label naming the tool that manages an object. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const RBAC_VERSION = 'rbac.authorization.k8s.io/v1';
const LIST_PAGE = 500;
/** A list that keeps returning a continue token past this many pages is treated as broken. */
const MAX_PAGES = 1000;

/** Where a binding lives. */
interface BindingLocation {
  /** Null for a ClusterRoleBinding. */
  readonly namespace: string | null;
  readonly name: string;
}

type Binding = V1RoleBinding | V1ClusterRoleBinding;

const describe = (loc: BindingLocation): string => (loc.namespace === null ? `ClusterRoleBinding ${loc.name}` : `RoleBinding ${loc.namespace}/${loc.name}`);
const handleOf = (loc: BindingLocation): string => `${loc.namespace ?? CLUSTER_SCOPE}/${loc.name}`;
const status = (err: unknown, clock: Clock): number | undefined => apiFailureOf(err, clock.now())?.status;

/** Create the `kubernetes-rolebinding` provider. */
export function createRoleBindingProvider(config: KubernetesProviderConfig, connection: KubernetesConnection, clock: Clock): CredentialProvider {
  const kind = KUBERNETES_ROLEBINDING_KIND;
  const grantLabel = `${config.labelPrefix}/grant-id`;
  const annotation = (name: string): string => `${config.labelPrefix}/${name}`;
  const selector = `${MANAGED_BY_LABEL}=${config.managedBy},${grantLabel}`;

  const create = (apis: KubeApis, loc: BindingLocation, body: Binding, options: CallOptions): Promise<Binding> =>
    loc.namespace === null
      ? apis.rbac.createClusterRoleBinding({ body: body as V1ClusterRoleBinding }, options)
      : apis.rbac.createNamespacedRoleBinding({ namespace: loc.namespace, body: body as V1RoleBinding }, options);
  const read = (apis: KubeApis, loc: BindingLocation, options: CallOptions): Promise<Binding> =>
    loc.namespace === null ? apis.rbac.readClusterRoleBinding({ name: loc.name }, options) : apis.rbac.readNamespacedRoleBinding({ namespace: loc.namespace, name: loc.name }, options);

  /** Delete a binding; true when it was already gone. */
  const remove = (loc: BindingLocation, operation: string): Promise<boolean> =>
    connection.call(kind, operation, describe(loc), async (apis, options) => {
      try {
        if (loc.namespace === null) await apis.rbac.deleteClusterRoleBinding({ name: loc.name }, options);
        else await apis.rbac.deleteNamespacedRoleBinding({ namespace: loc.namespace, name: loc.name }, options);
        return false;
      } catch (err) {
        if (status(err, clock) === 404) return true;
        throw err;
      }
    });

  /** The binding of a recorded grant: from its revocation handle, else from its target and id. */
  const locate = (ref: GrantRef): BindingLocation => {
    const handle = ref.revocationHandle;
    const slash = handle ? handle.indexOf('/') : -1;
    if (handle && slash > 0) {
      const scope = handle.slice(0, slash);
      const name = handle.slice(slash + 1);
      if (DNS_SUBDOMAIN.test(name) && DNS_LABEL.test(scope)) {
        let cluster = scope === CLUSTER_SCOPE;
        // A namespace may itself be called "cluster": the target says which one was meant.
        if (cluster && ref.target) {
          try {
            cluster = parseBindingTarget(kind, ref.target).scope === 'cluster';
          } catch {
            // keep the handle's reading
          }
        }
        return { namespace: cluster ? null : scope, name };
      }
    }
    const target = parseBindingTarget(kind, ref.target ?? undefined);
    return { namespace: target.scope === 'cluster' ? null : target.namespace, name: bindingName(ref.id) };
  };

  const revoke = async (ref: GrantRef, cause: RemovalCause): Promise<RevokeResult> => {
    const loc = locate(ref);
    const gone = await remove(loc, cause === 'revoke' ? 'delete' : 'reap');
    return { effective: true, note: gone ? `${describe(loc)} was already gone` : `${describe(loc)} deleted; access ends now` };
  };

  return upstreamObjectProvider({
    kind,
    maxTtlSeconds: config.maxTtl,
    remove: revoke,

    async issue(draft: GrantDraft): Promise<IssuedCredential> {
      const target = parseBindingTarget(kind, draft.granted.target);
      const namespace = target.scope === 'namespace' ? target.namespace : null;
      const subject = resolveSubject(kind, draft.rule, draft.granted.options, draft.identity, namespace);
      const loc: BindingLocation = { namespace, name: bindingName(draft.id) };
      const body = bindingBody(loc, target, subject, {
        labels: { [MANAGED_BY_LABEL]: config.managedBy, [grantLabel]: draft.id },
        annotations: {
          [annotation('expires-at')]: new Date(draft.expiresAt * 1000).toISOString(),
          [annotation('identity')]: draft.identity.id,
          [annotation('rule')]: draft.rule,
        },
      });
      const created = await connection.call(kind, 'create', describe(loc), async (apis, options) => {
        try {
          return await create(apis, loc, body, options);
        } catch (err) {
          if (status(err, clock) === 409) return null;
          throw err;
        }
      });
      const binding = created ?? (await connection.call(kind, 'read', describe(loc), (apis, options) => read(apis, loc, options)));
      if (created === null && binding?.metadata?.labels?.[grantLabel] !== draft.id) {
        // Same name, different owner: never adopt (or later delete) someone else's binding.
        throw new UpstreamError('ERR_UPSTREAM_DENIED', kind, 'AlreadyExists', `${kind}: ${describe(loc)} already exists and is not this grant's`);
      }
      if (binding?.metadata?.name !== loc.name || binding.roleRef?.name !== target.roleName || binding.roleRef?.kind !== target.roleKind) {
        throw new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'MalformedResponse', `${kind}: create ${describe(loc)}: the reply is not the binding Stint sent`);
      }
      const role = `${target.roleKind}/${target.roleName}`;
      return {
        kind,
        token: loc.name,
        tokenType: KUBERNETES_ROLEBINDING_TOKEN_TYPE,
        fields: {
          kind: namespace === null ? 'ClusterRoleBinding' : 'RoleBinding',
          namespace: namespace ?? '',
          name: loc.name,
          role,
          subject: `${subject.kind}:${subject.namespace ? `${subject.namespace}/` : ''}${subject.name}`,
        },
        secretFields: [],
        expiresAt: draft.expiresAt,
        renewAfter: renewAfterOf(draft.issuedAt, draft.expiresAt),
        revocationHandle: handleOf(loc),
      };
    },

    async reconcile(isLive: LiveGrantCheck, now: number): Promise<ReconcileReport> {
      const nowMs = now * 1000;
      const graceMs = config.reconcileGrace * 1000;
      const found: { loc: BindingLocation; meta: V1ObjectMeta }[] = [];
      const failed: string[] = [];
      const listErrors: unknown[] = [];
      for (const namespaced of [true, false]) {
        const what = namespaced ? 'RoleBindings in all namespaces' : 'ClusterRoleBindings';
        const listed: { loc: BindingLocation; meta: V1ObjectMeta }[] = [];
        let continueToken: string | undefined;
        let pages = 0;
        try {
          do {
            const page = await connection.call(kind, 'list', what, (apis, options) => {
              const param = { labelSelector: selector, limit: LIST_PAGE, ...(continueToken ? { _continue: continueToken } : {}) };
              return namespaced ? apis.rbac.listRoleBindingForAllNamespaces(param, options) : apis.rbac.listClusterRoleBinding(param, options);
            });
            if (!page || !Array.isArray(page.items)) {
              throw new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'MalformedResponse', `${kind}: list ${what}: the reply has no items`);
            }
            for (const item of page.items as Binding[]) {
              const meta = item?.metadata;
              if (!meta?.name) continue;
              listed.push({ loc: { namespace: namespaced ? (meta.namespace ?? '') : null, name: meta.name }, meta });
            }
            continueToken = page.metadata?._continue || undefined;
            if (++pages >= MAX_PAGES && continueToken) throw new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', kind, 'TooManyPages', `${kind}: list ${what}: more than ${MAX_PAGES} pages`);
          } while (continueToken);
          found.push(...listed);
        } catch (err) {
          // One scope that cannot be listed (e.g. no cluster-wide permission) does not stop the other.
          listErrors.push(err);
          failed.push(`${what}: cannot list: ${failureOf(err)}`);
        }
      }
      if (listErrors.length === 2) throw listErrors[0];
      const swept = await sweepOrphans(found, {
        handle: ({ loc }) => handleOf(loc),
        async isOrphan({ loc, meta }) {
          const grantId = meta.labels?.[grantLabel];
          // Only objects Stint named after a grant: a copied label never gets someone else's binding deleted.
          if (!grantId || loc.name !== safeBindingName(grantId) || loc.namespace === '') return false;
          const created = Math.max(grantTimeMs(grantId) ?? -Infinity, creationMs(meta.creationTimestamp) ?? -Infinity);
          if (!Number.isFinite(created) || nowMs - created < graceMs) return false;
          return !(await isLive(grantId));
        },
        remove: async ({ loc }) => {
          await remove(loc, 'reconcile');
          return true;
        },
      });
      return { found: found.length, removed: swept.removed, failed: [...failed, ...swept.failed] };
    },
  });
}

function safeBindingName(grantId: string): string | null {
  try {
    return bindingName(grantId);
  } catch {
    return null;
  }
}

function creationMs(value: unknown): number | null {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? ms : null;
}

function bindingBody(loc: BindingLocation, target: BindingTarget, subject: BindingSubject, meta: { labels: Record<string, string>; annotations: Record<string, string> }): Binding {
  const metadata: V1ObjectMeta = { name: loc.name, ...(loc.namespace !== null ? { namespace: loc.namespace } : {}), labels: meta.labels, annotations: meta.annotations };
  return {
    apiVersion: RBAC_VERSION,
    kind: loc.namespace === null ? 'ClusterRoleBinding' : 'RoleBinding',
    metadata,
    roleRef: { apiGroup: RBAC_GROUP, kind: target.roleKind, name: target.roleName },
    subjects: [{ kind: subject.kind, name: subject.name, ...(subject.namespace ? { namespace: subject.namespace } : {}), ...(subject.apiGroup ? { apiGroup: subject.apiGroup } : {}) }],
  };
}
