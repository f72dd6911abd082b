/**
 * The renewal rule, written once: a credential is renewed two thirds of the way through its
 * lifetime. Providers and the renewal endpoint announce `renew_after` with it; Stint's clients fall
 * back on it when an answer carries none. Dependency-free (the service and the sidecar import it).
 */

/**
 * When to renew a credential valid from `start` until `expiresAt` (both in one unit: epoch seconds
 * on the service, epoch milliseconds in the clients): two thirds of the way there, rounded down to
 * a whole unit.
 */
export function renewAfterOf(start: number, expiresAt: number): number {
  return start + Math.floor(((expiresAt - start) * 2) / 3);
}
