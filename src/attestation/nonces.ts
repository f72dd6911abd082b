/**
 * One-time server nonces for proofs that embed a nonce of Stint's (the Azure IMDS attested
 * document), kept in the Store's trust-on-first-use bindings so every replica agrees: issuing binds
 * `nonce/<kind>:<nonce>` to `issued:<expiry>` until the expiry; consuming checks that binding holds
 * (a probe that creates nothing lasting) and then binds `nonce-used/<kind>:<nonce>` once — the
 * Store's upsert lets exactly one replica win, so a nonce is accepted at most once anywhere.
 */
import { randomInt } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { AttestationBindings, AttestationNonces } from './attestor.js';
import { AZURE_NONCE_KIND } from './azure/azure.js';

/** Longest nonce lifetime any caller may ask for. */
export const MAX_NONCE_TTL_SECONDS = 600;
/** A nonce: 10 decimal digits (what Azure IMDS accepts in `nonce=`). */
export const NONCE_PATTERN = /^[0-9]{10}$/;

const ISSUED = 'issued:';

/** Nonces on top of the Store's attestation bindings; `random` is injectable for tests. */
export function createStoreNonces(bindings: AttestationBindings, clock: Clock, random: () => string = tenDigits): AttestationNonces {
  return {
    async issue(kind, ttlSeconds) {
      const ttl = Math.min(Math.max(1, Math.floor(ttlSeconds)), MAX_NONCE_TTL_SECONDS);
      for (let attempt = 0; attempt < 5; attempt++) {
        const nonce = random();
        const now = clock.now();
        const expiresAt = now + ttl * 1000;
        const r = await bindings.bindAttestation({ kind: 'nonce', key: `${kind}:${nonce}`, binding: `${ISSUED}${expiresAt}`, now, expiresAt });
        if (r.firstUse) return nonce;
      }
      throw new Error('could not draw an unused nonce');
    },
    async consume(kind, nonce) {
      if (!NONCE_PATTERN.test(nonce)) return false;
      const key = `${kind}:${nonce}`;
      const now = clock.now();
      // Probe: an unexpired binding is returned as is; otherwise this writes a binding that is
      // already expired (expiresAt = now), which nothing ever honours.
      const held = await bindings.bindAttestation({ kind: 'nonce', key, binding: 'probe', now, expiresAt: now });
      if (held.firstUse || !held.binding.startsWith(ISSUED)) return false;
      const expiresAt = Number(held.binding.slice(ISSUED.length));
      if (!(expiresAt > now)) return false;
      const used = await bindings.bindAttestation({ kind: 'nonce-used', key, binding: 'used', now, expiresAt });
      return used.firstUse;
    },
  };
}

function tenDigits(): string {
  return String(randomInt(0, 10_000_000_000)).padStart(10, '0');
}

/** The nonce kinds the configured attestors take proofs for, each with its nonce TTL in seconds (`POST /attestation/nonce`). */
export function nonceKindsOf(configs: readonly { readonly kind: string; readonly attestedDocument?: { readonly nonceTtl: number } | undefined }[]): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const c of configs) if (c.kind === 'azure' && c.attestedDocument) kinds.set(AZURE_NONCE_KIND, Math.min(kinds.get(AZURE_NONCE_KIND) ?? Infinity, c.attestedDocument.nonceTtl));
  return kinds;
}
