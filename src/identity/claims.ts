/**
 * Reading an identity's claims by reference. A claim reference is either a top-level claim name, taken
 * literally (`kubernetes.io` is one name, dots are not separators), or, when it starts with
 * `/`, an RFC 6901 JSON Pointer into nested objects (`/kubernetes.io/pod/name`). Only own
 * properties are read, so `constructor` or `__proto__` never resolve to anything inherited.
 * Policy conditions and the AWS session tags both read claims this way.
 */

const hasOwn = Object.prototype.hasOwnProperty;

/** Why a claim reference is invalid, or null. */
export function claimRefProblem(ref: string): string | null {
  if (ref.length === 0) return 'claim name must not be empty';
  if (ref === '__proto__') return 'claim name "__proto__" is not allowed';
  if (!ref.startsWith('/')) return null;
  const bad = /~(?![01])/.exec(ref);
  if (bad) return 'invalid JSON Pointer: "~" must be followed by 0 or 1';
  if (ref === '/') return 'JSON Pointer "/" names the empty claim name; write the claim name instead';
  return null;
}

/** The JSON Pointer segments of a valid reference starting with `/`, else undefined (a top-level name). */
export function pointerSegments(ref: string): readonly string[] | undefined {
  if (!ref.startsWith('/')) return undefined;
  return ref.slice(1).split('/').map((s) => propertyKey(s.replace(/~1/g, '/').replace(/~0/g, '~')));
}

/**
 * The same string as an engine-internalized property key, so that reading claims by it is a
 * plain lookup rather than a string-table search on every decision.
 */
export function propertyKey(name: string): string {
  return Object.keys({ [name]: 0 })[0] ?? name;
}

/** Read a top-level claim (own property only); undefined when absent. */
export function readClaim(claims: unknown, name: string): unknown {
  return isObject(claims) && hasOwn.call(claims, name) ? claims[name] : undefined;
}

/** Read a nested claim by JSON Pointer segments (own properties only); undefined when absent. */
export function readPointer(claims: unknown, segments: readonly string[]): unknown {
  let cur: unknown = claims;
  for (const seg of segments) {
    if (!isObject(cur) || !hasOwn.call(cur, seg)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
