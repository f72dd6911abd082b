/**
 * The Grant recorded for a credential a provider has just issued: one shape for every issuance
 * (an exchange, a break-glass release), with a fingerprint of the credential, never the credential.
 */
import { fingerprint } from '../fingerprint.js';
import type { Grant } from '../store/store.js';

/** What a new grant is made of: the draft the provider issued from, and what it issued. */
export interface IssuedFrom {
  readonly draft: {
    readonly id: string;
    readonly identity: { readonly id: string; readonly attestorName: string; readonly issuer: string };
    readonly rule: string;
    readonly granted: { readonly kind: string; readonly audience?: string; readonly target?: string };
    /** Epoch seconds. */
    readonly issuedAt: number;
  };
  readonly credential: { readonly token: string; readonly expiresAt: number; readonly revocationHandle?: string | null };
}

/** The active grant of a freshly issued credential. */
export function activeGrant({ draft, credential }: IssuedFrom): Grant {
  return {
    id: draft.id,
    identity: draft.identity.id,
    attestor: draft.identity.attestorName,
    issuer: draft.identity.issuer,
    rule: draft.rule,
    kind: draft.granted.kind,
    audience: draft.granted.audience ?? null,
    target: draft.granted.target ?? null,
    issuedAt: draft.issuedAt,
    expiresAt: credential.expiresAt,
    state: 'active',
    revokedAt: null,
    revokedReason: null,
    revocationHandle: credential.revocationHandle ?? null,
    credentialFingerprint: fingerprint(credential.token),
    cleanup: 'none',
    cleanupAttempts: 0,
    cleanupNextAt: null,
    cleanupError: null,
  };
}
