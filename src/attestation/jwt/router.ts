/**
 * Routing of JWT subject tokens: the token is prechecked with the loosest limits of the attestors
 * that may take it (largest size cap, union of algorithms), then handed to the attestor configured
 * for its unverified `iss`, byte-exact, which re-applies its own limits and verifies it in full.
 */
import { TokenError } from '../../errors.js';
import type { WorkloadIdentity } from '../attestor.js';
import { ASYMMETRIC_ALGORITHMS } from './header_rules.js';
import type { JwtAttestor } from './jwt_verifier.js';
import { precheckToken } from './precheck.js';

/** The `iss` of legacy secret-based Kubernetes ServiceAccount tokens (refused unless an attestor opts in). */
export const LEGACY_KUBERNETES_ISSUER = 'kubernetes/serviceaccount';

const DEFAULT_MAX_TOKEN_BYTES = 16384;

/** Routes JWTs of one token type among the attestors that accept it. */
export interface JwtRouter {
  attest(token: string): Promise<WorkloadIdentity>;
}

/**
 * A router over `attestors` (all accepting the same token type). Issuers must be unique among
 * them: `duplicate` reports a clash (the registry turns it into a ConfigError).
 */
export function createJwtRouter(attestors: readonly JwtAttestor[], duplicate: (issuer: string, first: JwtAttestor, second: JwtAttestor) => never): JwtRouter {
  const byIssuer = new Map<string, JwtAttestor>();
  for (const attestor of attestors) {
    for (const issuer of attestor.jwt.issuers) {
      const other = byIssuer.get(issuer);
      if (other) duplicate(issuer, other, attestor);
      byIssuer.set(issuer, attestor);
    }
  }
  const limits = {
    maxTokenBytes: Math.max(0, ...attestors.map((a) => a.jwt.maxTokenBytes)) || DEFAULT_MAX_TOKEN_BYTES,
    // Each attestor re-runs the precheck with its own limits; routing only needs the union.
    algorithms: attestors.length > 0 ? [...new Set(attestors.flatMap((a) => a.jwt.algorithms))] : [...ASYMMETRIC_ALGORITHMS],
  };
  return {
    async attest(token) {
      const prechecked = precheckToken(token, limits);
      const iss = prechecked.issuer;
      const attestor = iss === undefined ? undefined : byIssuer.get(iss);
      if (attestor) return attestor.attestPrechecked(token, prechecked);
      if (iss === LEGACY_KUBERNETES_ISSUER) {
        throw new TokenError('ERR_TOKEN_LEGACY_REJECTED', 'legacy secret-based ServiceAccount tokens are not accepted; use a projected token', { reason: 'legacy', fingerprint: prechecked.fingerprint });
      }
      if (iss === undefined) {
        throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'token "iss" is missing or not a string', { claim: 'iss', reason: 'missing', fingerprint: prechecked.fingerprint });
      }
      throw new TokenError('ERR_TOKEN_ISSUER_UNKNOWN', 'no attestor is configured for the token issuer', { reason: 'unknown_issuer', fingerprint: prechecked.fingerprint });
    },
  };
}
