/**
 * The claims of a workload identity, merged from the verified token's claims and an attestor's
 * normalized ones. Built key by key, not with object spread: V8 gives every object made by
 * `{ ...verified, ...normalized }` its own hidden class and descriptor array (~380 bytes an
 * identity, measured on 10,000 kubernetes identities held by the verified-identity cache), while
 * objects built key by key in the same order share one (issue 12).
 */
import type { ClaimValue } from './attestor.js';

/** The claims of `sources` in one plain object: keys in first-seen order, a later source's value winning (as object spread). */
export function mergeClaims(...sources: readonly Readonly<Record<string, ClaimValue>>[]): Record<string, ClaimValue> {
  const out: Record<string, ClaimValue> = {};
  for (const source of sources) {
    for (const key of Object.keys(source)) {
      // A claim named __proto__ (the strict JSON parser keeps it as an own member) stays an own member.
      if (key === '__proto__') Object.defineProperty(out, key, { value: source[key], enumerable: true, writable: true, configurable: true });
      else out[key] = source[key]!;
    }
  }
  return out;
}
