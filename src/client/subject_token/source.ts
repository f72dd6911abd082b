/**
 * The sidecar's subject token seam: a source obtains a fresh proof of the workload's identity
 * before every exchange, renewal and revocation — a projected token re-read from its file, or, on a
 * virtual machine, a proof fetched from the cloud's metadata service. Each source is one module
 * under this folder, loaded lazily by index.ts (the long-running process loads only its own).
 */

/** A proof ready to present to Stint: RFC 8693 `subject_token_type` and `subject_token`. */
export interface SubjectProof {
  readonly type: string;
  readonly value: string;
}

/** Obtains a fresh proof each time it is asked. */
export interface SubjectTokenSource {
  /** Short name for logs (`file`, `aws-iid`, ...). */
  readonly name: string;
  /** A fresh proof; throws StintError (ERR_INVALID_REQUEST when misconfigured, ERR_UNAVAILABLE when retryable). */
  read(): Promise<SubjectProof>;
}

/** What a source may need besides its configuration. */
export interface SourceContext {
  /** A fresh server nonce from Stint for an attestor kind (proofs that embed a nonce of Stint's). */
  nonce(kind: string): Promise<string>;
  /** Time source, epoch milliseconds. */
  now(): number;
}
