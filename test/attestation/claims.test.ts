/**
 * mergeClaims, the claims object of an identity: the same members as object spread would give, in
 * the same order, later sources winning, in a new plain object; a claim named __proto__ (kept as an
 * own member by the strict JSON parser) stays an own member and never becomes the prototype.
 */
import { describe, expect, it } from 'vitest';
import type { ClaimValue } from '../../src/attestation/attestor.js';
import { mergeClaims } from '../../src/attestation/claims.js';
import { parseStrictJson } from '../../src/attestation/jwt/strict_json.js';

describe('mergeClaims', () => {
  it('copies claims without changing them: same claims, in order, a new object', () => {
    const claims: Record<string, ClaimValue> = { iss: 'https://k', aud: ['x'], nested: { a: 1 } };
    const copy = mergeClaims(claims);
    expect(copy).toEqual(claims);
    expect(copy).not.toBe(claims);
    expect(Object.keys(copy)).toEqual(['iss', 'aud', 'nested']);
  });

  it('merges as object spread does: first-seen order, the later value winning', () => {
    const verified: Record<string, ClaimValue> = { sub: 's', namespace: 'from-token', exp: 5 };
    const normalized: Record<string, ClaimValue> = { namespace: 'default', service_account: 'app' };
    const merged = mergeClaims(verified, normalized);
    expect(merged).toEqual({ ...verified, ...normalized });
    expect(Object.keys(merged)).toEqual(Object.keys({ ...verified, ...normalized }));
  });

  it('keeps a claim named __proto__ as an own claim, the prototype untouched', () => {
    const claims = parseStrictJson('{"sub":"app","__proto__":{"polluted":true},"exp":1}') as Record<string, ClaimValue>;
    const merged = mergeClaims(claims, { namespace: 'default' });
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.keys(merged)).toEqual(['sub', '__proto__', 'exp', 'namespace']);
    expect(Object.getOwnPropertyDescriptor(merged, '__proto__')?.value).toEqual({ polluted: true });
    expect((merged as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
