/**
 * The Attestor plugin seam: one attestor verifies the subject tokens of one configured source
 * (an issuer, a cloud account, a tenant) and yields a WorkloadIdentity. Each kind exports one
 * `AttestorPlugin` (kind, config schema, factory); `registry.ts` lists them, one line a kind, and the
 * configuration schema, the policy schema, lint and docs derive their lists from it. Attestors
 * import nothing above this folder.
 */
import type { z } from 'zod';
import type { Clock } from '../clock.js';
import type { KeyFetchOutcome } from './jwt/key_source.js';

/** An attestor kind: the name a plugin registers under (`registry.ts`). */
export type AttestorKind = string;

/** A subject token as the transports received it: RFC 8693 `subject_token_type` and value. */
export interface SubjectToken {
  /** The token type URI (`token_types.ts`); the registry routes on it. */
  readonly type: string;
  /** The token, byte-exact. Never logged: fingerprints only. */
  readonly value: string;
}

/** Claim values policy may read. Values are kept exactly as the token carried them. */
export type ClaimValue = string | number | boolean | null | ClaimValue[] | { [k: string]: ClaimValue };

/** The verified, normalized result of an attestation. */
export interface WorkloadIdentity {
  /** Attestor kind that verified the proof. */
  readonly attestor: AttestorKind;
  /** Name of the configured attestor instance (unique in the config). */
  readonly attestorName: string;
  /** The proof's issuer, byte-exact (a JWT's `iss`; a cloud's fixed issuer for documents). */
  readonly issuer: string;
  /** The proof's subject, byte-exact (a JWT's `sub`; an instance id or role ARN for documents). */
  readonly subject: string;
  /** Stable identity string, e.g. `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`. */
  readonly id: string;
  /** Verified claims policy may read: the proof's claims plus normalized ones (namespace, ...). */
  readonly claims: Readonly<Record<string, ClaimValue>>;
  /** Expiry of the proof (epoch seconds); 0 when it has none (legacy Kubernetes). */
  readonly expiresAt: number;
  /** True for a legacy Kubernetes secret-based token: policy must opt in explicitly. */
  readonly legacy?: boolean;
  /**
   * Epoch seconds after which the identity must be attested again although the proof has not
   * expired: a check against a live system (a TokenReview, a DescribeInstances) holds until then. A
   * cache of verified identities must not keep this one longer.
   */
  readonly recheckAt?: number;
  /**
   * True when the same proof must not be answered from a cache of verified identities (a proof
   * with a one-time nonce): every presentation is verified again.
   */
  readonly noCache?: boolean;
}

/** Trust-on-first-use bindings kept in the Store, so every replica agrees (aws-iid replay rule). */
export interface AttestationBindings {
  /**
   * Bind `key` of `kind` to `binding` unless an unexpired binding exists; returns the binding in
   * force and whether this call made it. Times are epoch milliseconds.
   */
  bindAttestation(input: { kind: string; key: string; binding: string; now: number; expiresAt: number }): Promise<{ binding: string; firstUse: boolean }>;
}

/** One-time nonces Stint issues for proofs that embed a server nonce (Azure attested documents). */
export interface AttestationNonces {
  /** A fresh nonce for `kind`, valid for `ttlSeconds`. */
  issue(kind: string, ttlSeconds: number): Promise<string>;
  /** Consume a nonce: true once, when it was issued for `kind` and has not expired. */
  consume(kind: string, nonce: string): Promise<boolean>;
}

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
  /** Shared replay state (the Store); absent in unit tests that need none. */
  readonly bindings?: AttestationBindings;
  /** Server nonces (the Store); absent when no kind needs them. */
  readonly nonces?: AttestationNonces;
}

/** How the registry reaches an attestor for JWT token types: by the token's unverified `iss`. */
export interface JwtRoute {
  /** Issuers this attestor verifies, compared byte-exact with the token's `iss`. */
  readonly issuers: readonly string[];
  /** JWT token types routed by issuer to this attestor (generic jwt/id_token and the kind's own). */
  readonly tokenTypes: readonly string[];
  /** Largest token its precheck accepts and its algorithms: the router prechecks with their union. */
  readonly maxTokenBytes: number;
  readonly algorithms: readonly string[];
}

/** One configured attestor instance. */
export interface Attestor {
  readonly kind: AttestorKind;
  readonly name: string;
  /** Token types routed to this attestor directly (one attestor a type), e.g. aws-iid. */
  readonly tokenTypes: readonly string[];
  /** For JWT proofs: the issuers and types routed here by `iss` (attestation/jwt/router.ts). */
  readonly jwt?: JwtRoute;
  /** Verify a subject token; throws TokenError / StintError with a stable code. */
  attest(token: SubjectToken): Promise<WorkloadIdentity>;
  /** True when keys or roots are available (or were at least once); used by /readyz. */
  ready(): boolean;
  /** Fetch keys now (cooldown-bounded); resolves to ready(). Never rejects. */
  load?(): Promise<boolean>;
  /** Release timers and connections. */
  close?(): void;
}

/** Lint hints of a kind: claims that only scope a whole account or project, and claims that pin a workload. */
export interface AttestorLintHints {
  /** Claims naming a whole account, project, subscription or tenant. */
  readonly scopeClaims: readonly string[];
  /** Claims naming one workload inside it (instance, role, service account, resource). */
  readonly workloadClaims: readonly string[];
}

/** One attestor kind: what `registry.ts` lists. A new kind is one file (or folder) exporting this plus one line there. */
export interface AttestorPlugin<K extends string = string, S extends z.ZodTypeAny = z.ZodTypeAny> {
  /** The kind, as in configuration (`attestors[].kind`) and policy (`match.attestor`). */
  readonly kind: K;
  /** One-line summary for docs and `--help`. */
  readonly summary: string;
  /** The configuration schema of one instance: an object whose `kind` is the literal `kind`. */
  readonly schema: S;
  /** Token types the kind accepts, for docs (the instances say which they route). */
  readonly tokenTypes: readonly string[];
  /** Claims its identities carry, for lint; undefined = any claim the issuer puts in (oidc). */
  readonly claims?: readonly string[];
  /** Lint hints for rules that pin only an account or project. */
  readonly lint?: AttestorLintHints;
  /** Build one instance from its validated configuration; throws ConfigError. */
  create(config: z.output<S>, deps: AttestorDeps): Attestor;
  /** The configuration with its relative file paths made absolute (`abs`), for kinds that read files. */
  resolvePaths?(config: z.output<S>, abs: (path: string) => string): z.output<S>;
}

/** Declare a plugin with its schema's types checked against its factory. */
export function defineAttestor<K extends string, S extends z.ZodTypeAny>(plugin: AttestorPlugin<K, S>): AttestorPlugin<K, S> {
  return plugin;
}
