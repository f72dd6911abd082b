/**
 * A recorded grant as a credential provider sees it when revoking, reaping or renewing, and the
 * one function that makes it from a stored Grant. Beside Grant, below the providers, the reaper
 * and the pipeline, which all use it.
 */
import type { Grant } from '../store/store.js';

/** What a provider knows of a recorded grant when revoking, reaping or renewing it. */
export interface GrantRef {
  readonly id: string;
  readonly kind: string;
  readonly identity: string;
  readonly target: string | null;
  readonly audience: string | null;
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly revocationHandle: string | null;
}

/** The provider's view of a recorded grant. */
export function grantRef(g: Grant): GrantRef {
  return { id: g.id, kind: g.kind, identity: g.identity, target: g.target, audience: g.audience, expiresAt: g.expiresAt, revocationHandle: g.revocationHandle };
}
