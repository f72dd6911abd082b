/**
 * The part every JWT attestor shares: its verification policy and key source, built from the
 * attestor's configuration. Each attestor kind adds only its claim rules and identity.
 */
import type { Clock } from '../../clock.js';
import type { Attestor, WorkloadIdentity } from '../attestor.js';
import type { OidcAttestorConfig } from '../../config/schema.js';
import { createKeySource, type KeyFetchOutcome, type KeySource } from './key_source.js';
import { applyIssuerLimits, precheckToken, type PrecheckedToken } from './precheck.js';
import { verifyPrechecked, type JwtVerifyPolicy, type VerifiedJwt } from './verify.js';

/** The configuration fields shared by every JWT attestor kind (already validated). */
export type JwtAttestorConfig = Omit<OidcAttestorConfig, 'kind' | 'identityClaim'>;

/** What an attestor factory receives besides its configuration. */
export interface AttestorDeps {
  /** Time source. */
  readonly clock: Clock;
  /** Stint's audience: subject tokens must be minted for it. */
  readonly audience: string;
  /** SPIFFE trust domain of identities. */
  readonly trustDomain: string;
  /** Config key path of this attestor (e.g. `attestors.0`), for configuration errors. */
  readonly configPath?: string;
  /** Observer of this attestor's key fetches (metrics). */
  readonly onJwksFetch?: (outcome: KeyFetchOutcome, seconds: number) => void;
}

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

/** An attestor built on a JWT verifier: it can also load its keys ahead of the first token. */
export interface JwtAttestor extends Attestor {
  /**
   * Attest a token the registry already prechecked with looser limits (largest size cap, union
   * of algorithms); only this attestor's limits are re-applied.
   */
  attestPrechecked(subjectToken: string, routed: PrecheckedToken): Promise<WorkloadIdentity>;
  /** Fetch keys now (cooldown-bounded); resolves to ready(). Never rejects. */
  load(): Promise<boolean>;
}
