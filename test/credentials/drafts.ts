/** Grant drafts for credential provider tests. */
import { randomUUID } from 'node:crypto';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import type { GrantDraft } from '../../src/credentials/provider.js';
import type { GrantedCredential } from '../../src/grants/granted.js';

/** Stint's issuer URL in tests. */
export const ISSUER = 'https://stint.test';

/** A verified workload identity. */
export const IDENTITY: WorkloadIdentity = {
  attestor: 'kubernetes',
  attestorName: 'kubernetes',
  issuer: 'https://kubernetes.default.svc',
  subject: 'system:serviceaccount:default:app',
  id: 'spiffe://stint.local/ns/default/sa/app',
  claims: {},
  expiresAt: 0,
};

/** Options of draftFor. */
export interface DraftOptions {
  issuedAt: number;
  ttl: number;
  audience?: string | undefined;
  passClaims?: Record<string, unknown>;
  scopes?: string[];
  identity?: WorkloadIdentity;
  id?: string;
}

/** A stint-jwt grant draft. */
export function draftFor(o: DraftOptions): GrantDraft {
  const audience = 'audience' in o ? o.audience : 'https://api.example.com';
  const granted: GrantedCredential = {
    request: { kind: 'stint-jwt', ...(audience !== undefined ? { audience } : {}), ttlSeconds: o.ttl },
    kind: 'stint-jwt',
    ...(audience !== undefined ? { audience } : {}),
    scopes: o.scopes ?? [],
    ttlSeconds: o.ttl,
    ttlCapped: false,
    passClaims: o.passClaims ?? {},
    options: {},
  };
  return {
    id: o.id ?? randomUUID(),
    identity: o.identity ?? IDENTITY,
    rule: 'app-reads',
    granted,
    issuedAt: o.issuedAt,
    expiresAt: o.issuedAt + o.ttl,
  };
}
