/**
 * RFC 7662 token introspection of Stint JWTs: verified with jose, then checked against the grant.
 * The grant is read from the store on every call (no cache), so a revocation made through any
 * replica sharing the store shows at once; only the key set is cached, until the keys change.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import type { Store } from '../store/store.js';

/** Seconds of clock difference between replicas tolerated on a token's nbf/iat (docs/operations.md). */
export const INTROSPECTION_CLOCK_TOLERANCE_SECONDS = 60;

/** Answers whether a Stint JWT is active: valid signature, unexpired, and its grant still active. */
export class Introspector {
  private cachedSet: { jwks: JSONWebKeySet; resolve: ReturnType<typeof createLocalJWKSet> } | null = null;

  /** `jwks` may re-read the keys (Keyring.freshJwks), so tokens signed by another replica's new key verify. */
  constructor(private readonly deps: { issuer: string; jwks: () => JSONWebKeySet | Promise<JSONWebKeySet>; store: Store; clock: Clock }) {}

  /** RFC 7662 §2.2 response; anything invalid is simply `{ active: false }`. */
  async introspect(token: string): Promise<Record<string, unknown>> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 16384) return { active: false };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.keySet(), {
        issuer: this.deps.issuer,
        currentDate: new Date(this.deps.clock.now()),
        requiredClaims: ['exp', 'jti', 'sub', 'aud'],
        // A token from a replica whose clock is ahead (within the StintClockSkew threshold) is not "not yet valid";
        // whether it is still active is the grant's expiry below, by this replica's clock.
        clockTolerance: INTROSPECTION_CLOCK_TOLERANCE_SECONDS,
      }));
    } catch {
      return { active: false };
    }
    const grant = await this.deps.store.getGrant(String(payload.jti));
    if (!grant || grant.state !== 'active') return { active: false };
    if (grant.expiresAt * 1000 <= this.deps.clock.now()) return { active: false };
    return {
      active: true,
      token_type: 'Bearer',
      iss: payload.iss,
      sub: payload.sub,
      aud: payload.aud,
      exp: payload.exp,
      iat: payload.iat,
      nbf: payload.nbf,
      jti: payload.jti,
      grant_id: grant.id,
      rule: grant.rule,
    };
  }

  private async keySet(): Promise<ReturnType<typeof createLocalJWKSet>> {
    const jwks = await this.deps.jwks();
    // The keyring hands out the same JWKS object until its keys change: rebuild only then.
    if (this.cachedSet?.jwks !== jwks) this.cachedSet = { jwks, resolve: createLocalJWKSet(jwks) };
    return this.cachedSet.resolve;
  }
}
