/**
 * GitHub Actions attestor: OIDC tokens GitHub mints for a workflow job. Identity
 * `<issuer>#<sub>`; every claim (repository, repository_id, repository_owner_id, ref,
 * environment, job_workflow_ref, ...) reaches policy byte-exact, never case-folded.
 */
import type { GithubActionsAttestorConfig } from '../config/schema.js';
import type { ClaimValue, WorkloadIdentity } from './attestor.js';
import type { PrecheckedToken } from './jwt/precheck.js';
import { createJwtVerifier, type AttestorDeps, type JwtAttestor } from './jwt/jwt_verifier.js';

/** Create the GitHub Actions attestor (github.com or a GHES / enterprise issuer). */
export function createGithubActionsAttestor(config: GithubActionsAttestorConfig, deps: AttestorDeps): JwtAttestor {
  const name = config.name ?? config.kind;
  const verifier = createJwtVerifier(config, name, deps);
  return {
    kind: 'github-actions',
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
    const sub = claims['sub'] as string;
    return {
      attestor: 'github-actions',
      attestorName: name,
      issuer: config.issuer,
      subject: sub,
      id: `${config.issuer}#${sub}`,
      claims,
      expiresAt: claims['exp'] as number,
    };
  }
}
