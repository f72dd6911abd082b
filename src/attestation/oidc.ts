/**
 * Generic OIDC attestor: any issuer with discovery (GitLab CI `id_tokens`, a cloud's workload
 * identity, an internal IdP). Identity `<issuer>#<value of identityClaim>` (default `sub`).
 */
import { z } from 'zod';
import { TokenError } from '../errors.js';
import { defineAttestor, type AttestorDeps, type ClaimValue, type WorkloadIdentity } from './attestor.js';
import { jwtAttestorFields, jwtConfigPaths } from './jwt/config.js';
import { GENERIC_JWT_TOKEN_TYPES } from './token_types.js';
import type { PrecheckedToken } from './jwt/precheck.js';
import { assembleJwtAttestor, createJwtVerifier, type JwtAttestor } from './jwt/jwt_verifier.js';
import { jwtIdentity } from './jwt/identity.js';

/** Configuration of a generic oidc attestor (one issuer). */
export const oidcAttestorSchema = z.object({
  kind: z.literal('oidc'),
  ...jwtAttestorFields,
  /** Claim used to build the identity (`<issuer>#<claim value>`); default `sub`. */
  identityClaim: z.string().default('sub'),
}).strict();
/** A validated oidc attestor configuration. */
export type OidcAttestorConfig = z.output<typeof oidcAttestorSchema>;

/** Create a generic OIDC attestor for one issuer. */
export function createOidcAttestor(config: OidcAttestorConfig, deps: AttestorDeps): JwtAttestor {
  const name = config.name ?? config.kind;
  const verifier = createJwtVerifier(config, name, deps);
  const identityClaim = config.identityClaim;
  return assembleJwtAttestor({ kind: 'oidc', name, verifier, attest });

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
    return jwtIdentity({ kind: 'oidc', name, issuer: config.issuer, id: `${config.issuer}#${value}`, claims });
  }
}

/** The oidc kind: any OIDC issuer with discovery; its claims are whatever the issuer puts in. */
export const OIDC_ATTESTOR = defineAttestor({
  kind: 'oidc',
  summary: 'any OIDC issuer (GitLab CI id_tokens, an internal IdP, a cloud workload identity)',
  schema: oidcAttestorSchema,
  tokenTypes: GENERIC_JWT_TOKEN_TYPES,
  create: createOidcAttestor,
  resolvePaths: jwtConfigPaths,
});
