/** The narrow views the pipeline needs of the attestation, policy and credential layers. */
import type { SubjectToken, WorkloadIdentity } from '../attestation/attestor.js';
import type { Auditor } from '../audit/auditor.js';
import type { Clock } from '../clock.js';
import type { ProviderRegistry } from '../credentials/registry.js';
import type { Limits } from '../limits/rate_limiter.js';
import type { PolicyEngine } from '../policy/decision.js';
import type { StintMetrics } from '../telemetry/metrics.js';

/** A subject token as presented, with its SHA-256 (hex) when the caller already computed it. */
export interface PresentedToken extends SubjectToken {
  readonly sha256?: string;
}

/** Verifies subject tokens of every configured attestor, routed by token type. */
export interface IdentityVerifier {
  attest(token: PresentedToken): Promise<WorkloadIdentity>;
  /** True when some attestor takes subject tokens of `type` (else: unsupported_token_type). */
  accepts(type: string): boolean;
  ready(): boolean;
  /** Per-attestor setting: may callers see the nearest rule and failed conditions of a denial? */
  explainDenials?(identity: WorkloadIdentity): boolean;
  close(): void;
}

/** The pipeline's view of the provider registry (the one interface: credentials/registry.ts ProviderRegistry). */
export type ProviderLookup = Pick<ProviderRegistry, 'get' | 'has' | 'kinds'>;

/** One consistent view of the policies: the enforced one and, when configured, the shadow candidate. */
export interface PolicySnapshot {
  readonly enforced: PolicyEngine;
  readonly shadow?: PolicyEngine;
}

/** Holds the current policy snapshot; each request reads it once. */
export interface PolicySource {
  current(): PolicyEngine;
  /** Enforced and shadow policy together (a reload swaps both at once). */
  snapshot?(): PolicySnapshot;
}

/** What every pipeline service that decides and issues (an exchange, a renewal) is built from. */
export interface PipelineDeps {
  readonly policy: PolicySource;
  readonly providers: ProviderLookup;
  readonly auditor: Auditor;
  readonly metrics: StintMetrics;
  readonly clock: Clock;
  /** Hard cap on any credential TTL, in seconds. */
  readonly maxTtlSeconds: number;
  /** Rate limits per source, identity and upstream budget (a renewal spends the identity's and the upstream's like an exchange); absent = none. */
  readonly limits?: Limits;
}
