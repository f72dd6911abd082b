/**
 * Generic OIDC attestor: any issuer with discovery (GitLab CI `id_tokens`, a cloud's workload
 * identity, an internal IdP). Identity `<issuer>#<value of identityClaim>` (default `sub`).
 */
import type { OidcAttestorConfig } from '../config/schema.js';
import { TokenError } from '../errors.js';
import type { ClaimValue, WorkloadIdentity } from './attestor.js';
import type { PrecheckedToken } from './jwt/precheck.js';
import { createJwtVerifier, type AttestorDeps, type JwtAttestor } from './jwt/jwt_verifier.js';

/** Create a generic OIDC attestor for one issuer. */
export function createOidcAttestor(config: OidcAttestorConfig, deps: AttestorDeps): JwtAttestor {
  const name = config.name ?? config.kind;
  const verifier = createJwtVerifier(config, name, deps);
  const identityClaim = config.identityClaim;
  return {
    kind: 'oidc',
    name,
    issuers: [config.issuer],
    attest: async (subjectToken) => attest(subjectToken, verifier.precheck(subjectToken)),
    attestPrechecked: async (subjectToken, routed) => attest(subjectToken, verifier.precheck(subjectToken, routed)),
    ready: () => verifier.keys.ready(),
    load: () => verifier.keys.load(),
    close: () => verifier.keys.close(),
  };

  async function attest(subjectToken: string, prechecked: PrecheckedToken): Promise<WorkloadIdentity> {
    const verified = await verifier.verify(subjectToken, prechecked);
    const claims = verified.claims as Record<string, ClaimValue>;
    const value = claims[identityClaim];
    if (typeof value !== 'string' || value.length === 0) {
      throw new TokenError('ERR_TOKEN_CLAIM_INVALID', `token claim "${identityClaim}" (the identity claim) must be a non-empty string`, {
        claim: identityClaim,
        reason: value === undefined ? 'missing' : 'invalid',
        fingerprint: verified.fingerprint,
      });
    }
    return {
      attestor: 'oidc',
      attestorName: name,
      issuer: config.issuer,
      subject: claims['sub'] as string,
      id: `${config.issuer}#${value}`,
      claims,
      expiresAt: claims['exp'] as number,
    };
  }
}
