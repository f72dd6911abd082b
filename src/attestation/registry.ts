/**
 * The attestor registry: one registration line per kind, and the AttestorSet that routes a
 * subject token to the attestor configured for its (unverified, byte-exact) `iss`.
 */
import type { Clock } from '../clock.js';
import type { AttestorConfig } from '../config/schema.js';
import { ConfigError, TokenError } from '../errors.js';
import type { Attestor, AttestorKind, WorkloadIdentity } from './attestor.js';
import { createGithubActionsAttestor } from './github_actions.js';
import type { AttestorDeps, JwtAttestor } from './jwt/jwt_verifier.js';
import type { KeyFetchOutcome } from './jwt/key_source.js';
import { ASYMMETRIC_ALGORITHMS } from './jwt/header_rules.js';
import { precheckToken } from './jwt/precheck.js';
import { createKubernetesAttestor, LEGACY_KUBERNETES_ISSUER } from './kubernetes.js';
import { createOidcAttestor } from './oidc.js';

type AttestorFactory<K extends AttestorKind> = (config: Extract<AttestorConfig, { kind: K }>, deps: AttestorDeps) => JwtAttestor;

/** Every attestor kind and its factory: a new kind is one file plus one line here. */
export const ATTESTOR_KINDS: { readonly [K in AttestorKind]: AttestorFactory<K> } = {
  kubernetes: createKubernetesAttestor,
  'github-actions': createGithubActionsAttestor,
  oidc: createOidcAttestor,
};

/** What createAttestorSet needs besides the attestor configurations. */
export interface AttestorSetDeps {
  /** Time source for expiry, skew, cooldown and key staleness. */
  readonly clock: Clock;
  /** Stint's audience: subject tokens must be minted for it. */
  readonly audience: string;
  /** SPIFFE trust domain of identities. */
  readonly trustDomain: string;
  /** Observer of every key fetch, per attestor (metrics). */
  readonly onJwksFetch?: (attestorName: string, outcome: KeyFetchOutcome, seconds: number) => void;
}

/** The configured attestors, routing subject tokens by issuer. */
export interface AttestorSet {
  /** The attestors, in configuration order. */
  readonly attestors: readonly Attestor[];
  /** Verify a subject token with the attestor configured for its issuer. */
  attest(subjectToken: string): Promise<WorkloadIdentity>;
  /** True when every attestor has loaded its keys at least once (triggers loads when not). */
  ready(): boolean;
  /** Load every attestor's keys now; resolves to ready(). Never rejects. */
  warm(): Promise<boolean>;
  /** Release timers and connections. */
  close(): void;
}

const DEFAULT_MAX_TOKEN_BYTES = 16384;

/** Build the attestors of a validated configuration; throws ConfigError on duplicates or bad URLs. */
export function createAttestorSet(configs: readonly AttestorConfig[], deps: AttestorSetDeps): AttestorSet {
  const attestors: JwtAttestor[] = [];
  const byIssuer = new Map<string, JwtAttestor>();
  const names = new Set<string>();
  try {
    configs.forEach((config, i) => {
      const name = config.name ?? config.kind;
      if (names.has(name)) {
        throw new ConfigError('ERR_CONFIG_INVALID', `attestors.${i}.name`, `attestor name "${name}" is used twice (the default name is the kind)`);
      }
      names.add(name);
      const observer = deps.onJwksFetch;
      const attestorDeps: AttestorDeps = {
        clock: deps.clock,
        audience: deps.audience,
        trustDomain: deps.trustDomain,
        configPath: `attestors.${i}`,
        ...(observer ? { onJwksFetch: (outcome: KeyFetchOutcome, seconds: number) => observer(name, outcome, seconds) } : {}),
      };
      const attestor = createAttestor(config, attestorDeps);
      attestors.push(attestor);
      for (const issuer of attestor.issuers) {
        const other = byIssuer.get(issuer);
        if (other) {
          throw new ConfigError('ERR_CONFIG_INVALID', `attestors.${i}.issuer`, `issuer "${issuer}" is already served by attestor "${other.name}"`);
        }
        byIssuer.set(issuer, attestor);
      }
    });
  } catch (err) {
    for (const a of attestors) a.close?.();
    throw err;
  }

  const routing = {
    maxTokenBytes: Math.max(0, ...configs.map((c) => c.maxTokenBytes)) || DEFAULT_MAX_TOKEN_BYTES,
    // Each attestor re-runs the precheck with its own limits; routing only needs the union.
    algorithms: configs.length > 0 ? [...new Set(configs.flatMap((c) => c.algorithms))] : [...ASYMMETRIC_ALGORITHMS],
  };

  return {
    attestors,
    async attest(subjectToken) {
      const prechecked = precheckToken(subjectToken, routing);
      const iss = prechecked.issuer;
      const attestor = iss === undefined ? undefined : byIssuer.get(iss);
      if (attestor) return attestor.attestPrechecked(subjectToken, prechecked);
      if (iss === LEGACY_KUBERNETES_ISSUER) {
        throw new TokenError('ERR_TOKEN_LEGACY_REJECTED', 'legacy secret-based ServiceAccount tokens are not accepted; use a projected token', { reason: 'legacy', fingerprint: prechecked.fingerprint });
      }
      if (iss === undefined) {
        throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'token "iss" is missing or not a string', { claim: 'iss', reason: 'missing', fingerprint: prechecked.fingerprint });
      }
      throw new TokenError('ERR_TOKEN_ISSUER_UNKNOWN', 'no attestor is configured for the token issuer', { reason: 'unknown_issuer', fingerprint: prechecked.fingerprint });
    },
    ready: () => attestors.map((a) => a.ready()).every(Boolean),
    async warm() {
      const results = await Promise.all(attestors.map((a) => a.load()));
      return results.every(Boolean);
    },
    close() {
      for (const a of attestors) a.close?.();
    },
  };
}

function createAttestor(config: AttestorConfig, deps: AttestorDeps): JwtAttestor {
  // The table pairs each kind with the factory of that kind's configuration.
  const factory = ATTESTOR_KINDS[config.kind] as (config: AttestorConfig, deps: AttestorDeps) => JwtAttestor;
  return factory(config, deps);
}
