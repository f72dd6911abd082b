/**
 * The attestor shell both AWS kinds share (a signed STS request, an instance identity document):
 * one token type routed directly, no keys to load, a size cap checked before any parsing, the
 * proof's fingerprint for every error, and the identity stamped with the configured attestor.
 * Each kind adds only its verification.
 */
import { StintError } from '../../errors.js';
import { fingerprint } from '../../fingerprint.js';
import type { Attestor, WorkloadIdentity } from '../attestor.js';

/** The configuration fields every document attestor has. */
export interface DocumentAttestorConfig {
  readonly kind: string;
  readonly name?: string | undefined;
  /** Largest accepted proof in bytes (UTF-8). */
  readonly maxTokenBytes: number;
}

/** What a kind's verification yields: the identity without the attestor's kind and name. */
export type AttestedProof = Omit<WorkloadIdentity, 'attestor' | 'attestorName'>;

/** The parts of a document attestor that differ by kind. */
export interface DocumentAttestorParts {
  /** The one token type routed to it. */
  readonly tokenType: string;
  /** The proof as messages name it ("the signed request"). */
  readonly what: string;
  /** Verify a proof within the size cap; `fp` is its fingerprint. */
  verify(value: string, fp: string): Promise<AttestedProof>;
  /** Release what the kind holds (timers, connections). */
  close?(): void;
}

/** Build a document attestor from its configuration and its kind's verification. */
export function createDocumentAttestor(config: DocumentAttestorConfig, p: DocumentAttestorParts): Attestor {
  const name = config.name ?? config.kind;
  return {
    kind: config.kind,
    name,
    tokenTypes: [p.tokenType],
    ready: () => true,
    ...(p.close ? { close: () => p.close!() } : {}),
    async attest(token): Promise<WorkloadIdentity> {
      if (Buffer.byteLength(token.value, 'utf8') > config.maxTokenBytes) {
        throw new StintError('ERR_TOKEN_TOO_LARGE', `${p.what} is larger than ${config.maxTokenBytes} bytes`, { reason: 'too_large' });
      }
      return { attestor: config.kind, attestorName: name, ...(await p.verify(token.value, fingerprint(token.value))) };
    },
  };
}
