/**
 * Key paths in messages about configuration and policy files (`listeners[0].tls.certFile`): one
 * renderer for the service's configuration, the policy and the sidecar's configuration.
 * Dependency-free: the sidecar imports it.
 */

/** Render a path as `a.b[2].c`; with `quoteKeys`, keys that are not identifiers are quoted: `claims["kubernetes.io"]`. */
export function formatKeyPath(path: readonly PropertyKey[], options: { readonly quoteKeys?: boolean } = {}): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (options.quoteKeys && !(typeof seg === 'string' && /^[A-Za-z_$][\w$]*$/.test(seg))) out += `[${JSON.stringify(String(seg))}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}
