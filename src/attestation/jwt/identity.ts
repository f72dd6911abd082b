/**
 * The WorkloadIdentity of a verified (non-legacy) JWT: its `sub` is the subject and its `exp`
 * the expiry, whatever the kind; each kind supplies only the issuer it vouches for, the identity
 * string and the claims policy reads. One place, so the JWT attestors cannot drift apart.
 */
import type { ClaimValue, WorkloadIdentity } from '../attestor.js';

/** What a JWT attestor kind decides about a verified token's identity. */
export interface JwtIdentityParts {
  /** The attestor kind. */
  readonly kind: string;
  /** The configured attestor's name. */
  readonly name: string;
  /** The issuer, byte-exact. */
  readonly issuer: string;
  /** The stable identity string (`<issuer>#<sub>`, a SPIFFE id, ...). */
  readonly id: string;
  /** The verified claims plus the kind's normalized ones; `sub` and `exp` are read from them. */
  readonly claims: Record<string, ClaimValue>;
}

/** Build the identity of a verified JWT: subject from `sub`, expiry from `exp` (both required by verification). */
export function jwtIdentity(p: JwtIdentityParts): WorkloadIdentity {
  return {
    attestor: p.kind,
    attestorName: p.name,
    issuer: p.issuer,
    subject: p.claims['sub'] as string,
    id: p.id,
    claims: p.claims,
    expiresAt: p.claims['exp'] as number,
  };
}
