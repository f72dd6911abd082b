/**
 * The part every JWT attestor shares: its verification policy and key source, built from the
 * attestor's configuration. Each attestor kind adds only its claim rules and identity.
 */
import type { Attestor, AttestorDeps, JwtRoute, WorkloadIdentity } from '../attestor.js';
import type { JwtAttestorConfig } from './config.js';
import { createKeySource, type KeySource } from './key_source.js';
import { applyIssuerLimits, precheckToken, type PrecheckedToken } from './precheck.js';
import { verifyPrechecked, type JwtVerifyPolicy, type VerifiedJwt } from './verify.js';
import { GENERIC_JWT_TOKEN_TYPES } from '../token_types.js';

export type { AttestorDeps } from '../attestor.js';
export type { JwtAttestorConfig } from './config.js';

/** Verification of one configured issuer's tokens. */
export interface JwtVerifier {
  /** The policy derived from the configuration. */
  readonly policy: JwtVerifyPolicy;
  /** The issuer's keys. */
  readonly keys: KeySource;
  /** Run the precheck with this issuer's limits, or only re-apply them to a router's precheck. */
  precheck(token: string, routed?: PrecheckedToken): PrecheckedToken;
  /** Verify a prechecked token, optionally overriding parts of the policy (legacy tokens). */
  verify(token: string, prechecked: PrecheckedToken, overrides?: Partial<JwtVerifyPolicy>): Promise<VerifiedJwt>;
}

/** Build the verifier of one configured JWT attestor; throws ConfigError on a bad key source. */
export function createJwtVerifier(config: JwtAttestorConfig, name: string, deps: AttestorDeps): JwtVerifier {
  const policy: JwtVerifyPolicy = {
    issuer: config.issuer,
    algorithms: config.algorithms,
    audiences: [deps.audience, ...(config.audiences ?? [])],
    allowMultipleAudiences: config.allowMultipleAudiences,
    clockSkew: config.clockSkew,
    maxLifetime: config.maxLifetime,
    maxTokenBytes: config.maxTokenBytes,
  };
  const keys = createKeySource({
    attestorName: name,
    issuer: config.issuer,
    jwksFile: config.jwksFile,
    jwksUrl: config.jwksUrl,
    discoveryUrl: config.discoveryUrl,
    fetchTimeout: config.fetchTimeout,
    refetchCooldown: config.refetchCooldown,
    staleKeysFor: config.staleKeysFor,
    clock: deps.clock,
    onFetch: deps.onJwksFetch,
    ...(deps.configPath !== undefined ? { configPath: deps.configPath } : {}),
  });
  return {
    policy,
    keys,
    precheck: (token, routed) => {
      const limits = { maxTokenBytes: policy.maxTokenBytes, algorithms: policy.algorithms };
      return routed ? applyIssuerLimits(token, routed, limits) : precheckToken(token, limits);
    },
    verify: (token, prechecked, overrides) =>
      verifyPrechecked(token, prechecked, overrides ? { ...policy, ...overrides } : policy, keys.getKey, deps.clock),
  };
}

/** An attestor built on a JWT verifier: routed by `iss`, and it can load its keys ahead of the first token. */
export interface JwtAttestor extends Attestor {
  readonly jwt: JwtRoute;
  /**
   * Attest a token the registry already prechecked with looser limits (largest size cap, union
   * of algorithms); only this attestor's limits are re-applied.
   */
  attestPrechecked(subjectToken: string, routed: PrecheckedToken): Promise<WorkloadIdentity>;
  /** Fetch keys now (cooldown-bounded); resolves to ready(). Never rejects. */
  load(): Promise<boolean>;
}

/** The parts of a JWT attestor that differ by kind. */
export interface JwtAttestorParts {
  readonly kind: string;
  readonly name: string;
  readonly verifier: JwtVerifier;
  /** Issuers routed to it (default: the verifier's issuer). */
  readonly issuers?: readonly string[];
  /** The kind's own token types, routed like the generic jwt and id_token types. */
  readonly ownTokenTypes?: readonly string[];
  /** Accept the generic jwt/id_token types too (default true). */
  readonly genericTokenTypes?: boolean;
  /** Verify a prechecked token and build the identity (the kind's claim rules). */
  readonly attest: (token: string, prechecked: PrecheckedToken) => Promise<WorkloadIdentity>;
  /** Release what the kind holds besides the key source. */
  readonly close?: () => void;
}

/** Assemble a JWT attestor from its verifier and its kind's claim rules. */
export function assembleJwtAttestor(p: JwtAttestorParts): JwtAttestor {
  const { verifier } = p;
  return {
    kind: p.kind,
    name: p.name,
    tokenTypes: [],
    jwt: {
      issuers: p.issuers ?? [verifier.policy.issuer],
      tokenTypes: [...(p.genericTokenTypes === false ? [] : GENERIC_JWT_TOKEN_TYPES), ...(p.ownTokenTypes ?? [])],
      maxTokenBytes: verifier.policy.maxTokenBytes,
      algorithms: verifier.policy.algorithms,
    },
    attest: async (token) => p.attest(token.value, verifier.precheck(token.value)),
    attestPrechecked: async (token, routed) => p.attest(token, verifier.precheck(token, routed)),
    ready: () => verifier.keys.ready(),
    load: () => verifier.keys.load(),
    close: () => {
      p.close?.();
      verifier.keys.close();
    },
  };
}
