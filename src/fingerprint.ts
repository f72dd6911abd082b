import { hash } from 'node:crypto';

/** Short SHA-256 fingerprint of a secret value: safe for logs, audit and errors. */
export function fingerprint(value: string | Uint8Array): string {
  return fingerprintOfHex(sha256Hex(value));
}

/** The fingerprint of a value whose hex SHA-256 is already known (hash once, use twice). */
export function fingerprintOfHex(hex: string): string {
  return `sha256:${hex.slice(0, 16)}`;
}

/** Full hex SHA-256 of a value, used as a cache or lookup key. */
export function sha256Hex(value: string | Uint8Array): string {
  // The one-shot hash: half the cost of createHash().update().digest() for a token-sized input.
  return hash('sha256', value, 'hex');
}
