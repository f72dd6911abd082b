/**
 * GitHub Actions attestor: OIDC tokens GitHub mints for a workflow job. Identity
 * `<issuer>#<sub>`; every claim (repository, repository_id, repository_owner_id, ref,
 * environment, job_workflow_ref, ...) reaches policy byte-exact, never case-folded.
 */
import { z } from 'zod';
import { defineAttestor, type AttestorDeps, type ClaimValue, type WorkloadIdentity } from './attestor.js';
import { jwtAttestorFields, jwtConfigPaths } from './jwt/config.js';
import { GENERIC_JWT_TOKEN_TYPES } from './token_types.js';
import type { PrecheckedToken } from './jwt/precheck.js';
import { assembleJwtAttestor, createJwtVerifier, type JwtAttestor } from './jwt/jwt_verifier.js';
import { jwtIdentity } from './jwt/identity.js';

/** Configuration of a github-actions attestor (github.com by default, or a GHES / enterprise issuer). */
export const githubActionsAttestorSchema = z.object({
  kind: z.literal('github-actions'),
  ...jwtAttestorFields,
  issuer: z.string().min(1).default('https://token.actions.githubusercontent.com'),
}).strict();
/** A validated github-actions attestor configuration. */
export type GithubActionsAttestorConfig = z.output<typeof githubActionsAttestorSchema>;

/** Create the GitHub Actions attestor (github.com or a GHES / enterprise issuer). */
export function createGithubActionsAttestor(config: GithubActionsAttestorConfig, deps: AttestorDeps): JwtAttestor {
  const name = config.name ?? config.kind;
  const verifier = createJwtVerifier(config, name, deps);
  return assembleJwtAttestor({ kind: 'github-actions', name, verifier, attest });

  async function attest(subjectToken: string, prechecked: PrecheckedToken): Promise<WorkloadIdentity> {
    const verified = await verifier.verify(subjectToken, prechecked);
    const claims = verified.claims as Record<string, ClaimValue>;
    return jwtIdentity({ kind: 'github-actions', name, issuer: config.issuer, id: `${config.issuer}#${claims['sub'] as string}`, claims });
  }
}

/** The github-actions kind: OIDC tokens of GitHub Actions jobs. */
export const GITHUB_ACTIONS_ATTESTOR = defineAttestor({
  kind: 'github-actions',
  summary: 'GitHub Actions OIDC tokens (github.com, GHES or an enterprise issuer)',
  schema: githubActionsAttestorSchema,
  tokenTypes: GENERIC_JWT_TOKEN_TYPES,
  claims: [
    'iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'ref', 'ref_type', 'ref_protected', 'sha', 'repository', 'repository_id', 'repository_owner', 'repository_owner_id', 'repository_visibility',
    'run_id', 'run_number', 'run_attempt', 'actor', 'actor_id', 'triggering_actor', 'workflow', 'workflow_ref', 'workflow_sha', 'head_ref', 'base_ref',
    'event_name', 'environment', 'environment_node_id', 'job_workflow_ref', 'job_workflow_sha', 'runner_environment', 'enterprise', 'enterprise_id', 'check_run_id',
  ],
  create: createGithubActionsAttestor,
  resolvePaths: jwtConfigPaths,
});
