/**
 * The `gcp-instance` attestor: the identity token a Compute Engine VM obtains from its metadata
 * server (`.../service-accounts/default/identity?audience=<Stint>&format=full`). It is a Google ID
 * token (`iss` https://accounts.google.com, Google's keys by discovery) whose
 * `google.compute_engine` claim names the VM; a Google token without that claim (a user's or a
 * service account's plain ID token) proves no machine and is refused here. Identity
 * `spiffe://<td>/gcp/<project_id>/<zone>/<instance_id>`.
 */
import { z } from 'zod';
import { durationSchema } from '../../config/fields.js';
import { TokenError } from '../../errors.js';
import { defineAttestor, type AttestorDeps, type ClaimValue, type WorkloadIdentity } from '../attestor.js';
import { jwtAttestorFields, jwtConfigPaths } from '../jwt/config.js';
import { assembleJwtAttestor, createJwtVerifier, type JwtAttestor } from '../jwt/jwt_verifier.js';
import { jwtIdentity } from '../jwt/identity.js';
import type { PrecheckedToken } from '../jwt/precheck.js';
import { GCP_INSTANCE_TOKEN_TYPE, GENERIC_JWT_TOKEN_TYPES } from '../token_types.js';
import { computeEngineClaims } from './compute_engine.js';

/** Google's issuer of ID tokens, byte-exact as the metadata server's tokens carry it. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

/** Configuration of a gcp-instance attestor. */
export const gcpInstanceAttestorSchema = z.object({
  kind: z.literal('gcp-instance'),
  ...jwtAttestorFields,
  issuer: z.literal(GOOGLE_ISSUER).default(GOOGLE_ISSUER),
  algorithms: jwtAttestorFields.algorithms.default(['RS256']),
  /** Google ID tokens live one hour. */
  maxLifetime: durationSchema.default(3600),
  /** Oldest accepted token, now - iat (the sidecar fetches a fresh one for every exchange). */
  maxAge: durationSchema.default(300),
  /** Projects whose VMs are accepted, each a project id or number (byte-exact); absent = any. */
  projects: z.array(z.string().min(1)).min(1).optional(),
}).strict();
/** A validated gcp-instance attestor configuration. */
export type GcpInstanceAttestorConfig = z.output<typeof gcpInstanceAttestorSchema>;

/** Create a gcp-instance attestor. */
export function createGcpInstanceAttestor(config: GcpInstanceAttestorConfig, deps: AttestorDeps): JwtAttestor {
  const name = config.name ?? config.kind;
  const verifier = createJwtVerifier(config, name, deps);
  const projects = config.projects ? new Set(config.projects) : undefined;
  return assembleJwtAttestor({ kind: 'gcp-instance', name, verifier, ownTokenTypes: [GCP_INSTANCE_TOKEN_TYPE], attest });

  async function attest(subjectToken: string, prechecked: PrecheckedToken): Promise<WorkloadIdentity> {
    const verified = await verifier.verify(subjectToken, prechecked);
    const fingerprint = verified.fingerprint;
    const raw = verified.claims as Record<string, ClaimValue>;
    const iat = raw['iat'];
    if (typeof iat !== 'number') {
      throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'token "iat" is required (freshness)', { claim: 'iat', reason: 'missing', fingerprint });
    }
    const now = Math.floor(deps.clock.now() / 1000);
    if (now - iat > config.maxAge + config.clockSkew) {
      throw new TokenError('ERR_TOKEN_EXPIRED', `instance identity token older than ${config.maxAge} s`, { claim: 'iat', reason: 'too_old', maxAge: config.maxAge, fingerprint });
    }
    const vm = computeEngineClaims(raw, fingerprint);
    if (projects && !projects.has(vm.project_id) && !projects.has(String(vm.project_number))) {
      throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'the instance belongs to a project this attestor does not accept', { claim: 'project_id', reason: 'project_not_allowed', fingerprint });
    }
    const email = raw['email'];
    const claims: Record<string, ClaimValue> = {
      ...raw,
      ...vm,
      ...(typeof email === 'string' ? { email } : {}),
    };
    const id = `spiffe://${deps.trustDomain}/gcp/${vm.project_id}/${vm.zone}/${vm.instance_id}`;
    return jwtIdentity({ kind: 'gcp-instance', name, issuer: GOOGLE_ISSUER, id, claims });
  }
}

/** The gcp-instance kind: GCE instance identity tokens (format=full). */
export const GCP_INSTANCE_ATTESTOR = defineAttestor({
  kind: 'gcp-instance',
  summary: 'Compute Engine instance identity tokens (format=full) from the VM metadata server',
  schema: gcpInstanceAttestorSchema,
  tokenTypes: [...GENERIC_JWT_TOKEN_TYPES, GCP_INSTANCE_TOKEN_TYPE],
  claims: [
    'iss', 'sub', 'aud', 'azp', 'exp', 'iat', 'email', 'email_verified', 'google',
    'project_id', 'project_number', 'zone', 'instance_id', 'instance_name', 'instance_creation_timestamp', 'license_id',
  ],
  lint: { scopeClaims: ['project_id', 'project_number'], workloadClaims: ['instance_id', 'instance_name', 'email', 'sub'] },
  create: createGcpInstanceAttestor,
  resolvePaths: jwtConfigPaths,
});
