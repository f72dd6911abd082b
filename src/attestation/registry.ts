/**
 * The attestor registry: the one list of attestor kinds (one line a kind), the configuration
 * schema derived from it, and the AttestorSet that routes a subject token by its RFC 8693 type:
 * JWT types to the JWT router (by unverified `iss`, attestation/jwt/router.ts), the other types to
 * the one attestor configured for them.
 */
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { ConfigError, StintError } from '../errors.js';
import type { AttestationBindings, AttestationNonces, Attestor, AttestorDeps, AttestorPlugin, SubjectToken, WorkloadIdentity } from './attestor.js';
import { AZURE_ATTESTOR } from './azure/azure.js';
import { GCP_INSTANCE_ATTESTOR } from './gcp/gcp_instance.js';
import { AWS_IAM_ATTESTOR } from './aws/aws_iam.js';
import { AWS_IID_ATTESTOR } from './aws/aws_iid.js';
import { GITHUB_ACTIONS_ATTESTOR } from './github_actions.js';
import type { JwtAttestor } from './jwt/jwt_verifier.js';
import type { KeyFetchOutcome } from './jwt/key_source.js';
import { createJwtRouter, type JwtRouter } from './jwt/router.js';
import { KUBERNETES_ATTESTOR } from './kubernetes.js';
import { OIDC_ATTESTOR } from './oidc.js';
import { GENERIC_JWT_TOKEN_TYPES, JWT_TOKEN_TYPE } from './token_types.js';

/** Every attestor kind Stint knows: a new kind is one file (or folder) plus one line here. */
export const ATTESTORS = [
  KUBERNETES_ATTESTOR,
  GITHUB_ACTIONS_ATTESTOR,
  OIDC_ATTESTOR,
  AWS_IID_ATTESTOR,
  AWS_IAM_ATTESTOR,
  GCP_INSTANCE_ATTESTOR,
  AZURE_ATTESTOR,
] as const;

type SchemasOf<T extends readonly AttestorPlugin[]> = { -readonly [K in keyof T]: T[K]['schema'] };

/** The kinds, in registration order (policy `match.attestor`, lint, docs). */
export const ATTESTOR_KIND_NAMES = ATTESTORS.map((p) => p.kind) as [(typeof ATTESTORS)[number]['kind'], ...(typeof ATTESTORS)[number]['kind'][]];

/** Configuration of one attestor instance, any kind (`attestors[]`). */
export const attestorConfigSchema = z.discriminatedUnion('kind', ATTESTORS.map((p) => p.schema) as unknown as SchemasOf<typeof ATTESTORS>);
/** A validated attestor configuration. */
export type AttestorConfig = z.output<typeof attestorConfigSchema>;

/** The plugin of a kind, or undefined. */
export function attestorPlugin(kind: string): AttestorPlugin | undefined {
  return (ATTESTORS as readonly AttestorPlugin[]).find((p) => p.kind === kind);
}

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
  /** Shared replay state (the Store). */
  readonly bindings?: AttestationBindings;
  /** Server nonces (the Store). */
  readonly nonces?: AttestationNonces;
}

/** The configured attestors, routing subject tokens by type (and JWTs by issuer). */
export interface AttestorSet {
  /** The attestors, in configuration order. */
  readonly attestors: readonly Attestor[];
  /** True when some attestor takes tokens of `type` (or `type` is a generic JWT type). */
  accepts(type: string): boolean;
  /** Verify a subject token with the attestor configured for it; a bare string is a JWT (type jwt). */
  attest(token: SubjectToken | string): Promise<WorkloadIdentity>;
  /** True when every attestor has loaded its keys at least once (triggers loads when not). */
  ready(): boolean;
  /** Load every attestor's keys now; resolves to ready(). Never rejects. */
  warm(): Promise<boolean>;
  /** Release timers and connections. */
  close(): void;
}

/** Build the attestors of a validated configuration; throws ConfigError on duplicates or bad settings. */
export function createAttestorSet(configs: readonly AttestorConfig[], deps: AttestorSetDeps): AttestorSet {
  const attestors: Attestor[] = [];
  const names = new Set<string>();
  const routes = new Map<string, (value: string) => Promise<WorkloadIdentity>>();
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
        ...(deps.bindings ? { bindings: deps.bindings } : {}),
        ...(deps.nonces ? { nonces: deps.nonces } : {}),
      };
      const plugin = attestorPlugin(config.kind)!;
      attestors.push(plugin.create(config, attestorDeps));
    });
    buildRoutes(attestors, configs, routes);
  } catch (err) {
    for (const a of attestors) a.close?.();
    throw err;
  }
  // JWTs with no attestor for their type still get the router's precise refusal (unknown issuer).
  const emptyJwtRouter = createJwtRouter([], () => {
    throw new Error('unreachable');
  });

  return {
    attestors,
    accepts: (type) => routes.has(type) || isGenericJwtType(type),
    async attest(token) {
      const { type, value } = typeof token === 'string' ? { type: JWT_TOKEN_TYPE, value: token } : token;
      const route = routes.get(type);
      if (route) return route(value);
      if (isGenericJwtType(type)) return emptyJwtRouter.attest(value);
      throw new StintError('ERR_UNSUPPORTED_TOKEN_TYPE', `no attestor is configured for subject_token_type ${JSON.stringify(String(type).slice(0, 100))}`, { field: 'subject_token_type' });
    },
    ready: () => attestors.map((a) => a.ready()).every(Boolean),
    async warm() {
      await Promise.all(attestors.map((a) => a.load?.()));
      return attestors.every((a) => a.ready());
    },
    close() {
      for (const a of attestors) a.close?.();
    },
  };
}

function isGenericJwtType(type: string): boolean {
  return GENERIC_JWT_TOKEN_TYPES.includes(type);
}

/** One route per token type: a JWT router per JWT type, the single attestor of each other type. */
function buildRoutes(attestors: readonly Attestor[], configs: readonly AttestorConfig[], routes: Map<string, (value: string) => Promise<WorkloadIdentity>>): void {
  const indexOf = (a: Attestor): number => attestors.indexOf(a);
  const direct = new Map<string, Attestor>();
  const jwtByType = new Map<string, JwtAttestor[]>();
  for (const attestor of attestors) {
    for (const type of attestor.tokenTypes) {
      const other = direct.get(type);
      if (other) {
        throw new ConfigError('ERR_CONFIG_INVALID', `attestors.${indexOf(attestor)}.kind`, `subject tokens of type ${type} are already verified by attestor "${other.name}": configure one ${attestor.kind} attestor`);
      }
      direct.set(type, attestor);
    }
    if (attestor.jwt) {
      for (const type of attestor.jwt.tokenTypes) {
        const list = jwtByType.get(type) ?? [];
        list.push(attestor as JwtAttestor);
        jwtByType.set(type, list);
      }
    }
  }
  for (const [type, attestor] of direct) {
    if (jwtByType.has(type)) {
      throw new ConfigError('ERR_CONFIG_INVALID', `attestors.${indexOf(attestor)}.kind`, `subject token type ${type} cannot be both a JWT and a document type`);
    }
    routes.set(type, (value) => attestor.attest({ type, value }));
  }
  for (const [type, list] of jwtByType) {
    const router: JwtRouter = createJwtRouter(list, (issuer, first, second) => {
      const i = indexOf(second);
      const field = configs[i] && 'issuer' in configs[i]! ? 'issuer' : 'kind';
      throw new ConfigError('ERR_CONFIG_INVALID', `attestors.${i}.${field}`, `issuer "${issuer}" is already served by attestor "${first.name}"`);
    });
    routes.set(type, (value) => router.attest(value));
  }
}
