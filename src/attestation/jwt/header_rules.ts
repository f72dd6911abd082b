/** What a subject token's protected header may and may not carry. */

/** Header members that embed or point at a key: never fetched, never trusted, always refused. */
export const KEY_CARRYING_HEADERS: readonly string[] = ['jku', 'jwk', 'x5u', 'x5c'];

/**
 * Other refused members: `b64` (RFC 7797 unencoded payload), `zip` (compression is JWE-only and
 * a decompression-bomb vector) and `enc` (a JWE header inside a JWS).
 */
export const OTHER_FORBIDDEN_HEADERS: readonly string[] = ['b64', 'zip', 'enc'];

/**
 * Ignored hints, allowed but never used for key selection: `x5t` and `x5t#S256` are certificate
 * thumbprints, not keys, and GitHub Actions and Azure tokens carry them. Keys are selected by
 * `kid` and `alg` only.
 */
export const IGNORED_HINT_HEADERS: readonly string[] = ['x5t', 'x5t#S256'];

/** Asymmetric JWS algorithms Stint can ever accept; anything else (`none`, HS*) is refused. */
export const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA',
]);

/** Longest accepted `kid`: it is an opaque lookup key, never a path or URL. */
export const MAX_KID_LENGTH = 256;
