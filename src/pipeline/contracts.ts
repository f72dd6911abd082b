/** The narrow views the pipeline needs of the attestation, policy and credential layers. */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import type { CredentialProvider } from '../credentials/provider.js';
import type { PolicyEngine } from '../policy/decision.js';

/** Verifies subject tokens of every configured issuer. */
export interface IdentityVerifier {
  attest(subjectToken: string): Promise<WorkloadIdentity>;
  ready(): boolean;
  /** Per-attestor setting: may callers see the nearest rule and failed conditions of a denial? */
  explainDenials?(identity: WorkloadIdentity): boolean;
  close(): void;
}

/** Looks up credential providers by kind. */
export interface ProviderLookup {
  get(kind: string): CredentialProvider;
  has(kind: string): boolean;
  kinds(): string[];
}

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
