/**
 * The configuration fields every JWT attestor kind shares (issuer, key source, algorithms,
 * audiences, lifetimes, limits). Each kind spreads them into its own schema.
 */
import { z } from 'zod';
import { durationSchema } from '../../config/fields.js';
import { attestorCommonFields } from '../common_fields.js';

/** Signature algorithms an issuer may be allowed: asymmetric only. */
export const jwsAlgorithmSchema = z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);

/** Fields shared by every JWT attestor. */
export const jwtAttestorFields = {
  ...attestorCommonFields,
  /** The issuer (`iss`), compared byte-exact. */
  issuer: z.string().min(1),
  /** Discovery base URL (defaults to the issuer); `/.well-known/openid-configuration` is appended. */
  discoveryUrl: z.string().url().optional(),
  /** A JWKS URL to use directly, skipping discovery. */
  jwksUrl: z.string().url().optional(),
  /** A static JWKS file (for clusters whose issuer is not public). */
  jwksFile: z.string().optional(),
  /** Accepted signature algorithms; asymmetric only. */
  algorithms: z.array(jwsAlgorithmSchema).min(1).default(['RS256', 'ES256']),
  /** Audiences accepted besides Stint's own; default none. */
  audiences: z.array(z.string().min(1)).optional(),
  /** Accept a token whose `aud` lists more than one audience (replayable by each): default false. */
  allowMultipleAudiences: z.boolean().default(false),
  /** Longest accepted token lifetime (exp - iat). */
  maxLifetime: durationSchema.default(86400),
  /** Allowed clock skew for exp, nbf and iat. */
  clockSkew: durationSchema.default(60),
  /** Largest accepted token, in bytes, checked before decoding. */
  maxTokenBytes: z.number().int().positive().default(16384),
  /** How long keys from a failing issuer stay usable. */
  staleKeysFor: durationSchema.default(3600),
  /** Minimum time between two JWKS refetches caused by an unknown kid. */
  refetchCooldown: durationSchema.default(30),
  /** Timeout of one discovery or JWKS fetch. */
  fetchTimeout: durationSchema.default(5),
};

/** The validated shared fields of a JWT attestor's configuration. */
export type JwtAttestorConfig = z.output<z.ZodObject<typeof jwtAttestorFields>>;

/** A JWT attestor configuration with its static JWKS file made absolute. */
export function jwtConfigPaths<C extends { jwksFile?: string | undefined }>(config: C, abs: (path: string) => string): C {
  return config.jwksFile ? { ...config, jwksFile: abs(config.jwksFile) } : config;
}
