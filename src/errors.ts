/**
 * Stint's error taxonomy. Every failure that crosses a module boundary is a StintError with a
 * stable `code`; callers branch on the code, never on the message. The mapping of each code to
 * a gRPC status, an OAuth 2.0 error (RFC 6749 §5.2 / RFC 8693 §2.2.2), an HTTP status and a CLI
 * exit code lives in ERROR_TABLE below and nowhere else.
 *
 * Messages never contain a token, a secret or a credential: at most a fingerprint.
 */

/** gRPC status codes used by Stint (numeric values from grpc/status.h). */
export const GrpcStatus = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** How one error code surfaces on each interface. */
export interface ErrorMapping {
  readonly grpc: GrpcStatusCode;
  readonly oauth: string;
  readonly http: number;
  readonly exit: number;
}

const badToken: ErrorMapping = { grpc: GrpcStatus.UNAUTHENTICATED, oauth: 'invalid_request', http: 400, exit: 3 };

/** The single table mapping every stable code to its transport representations. */
export const ERROR_TABLE = {
  ERR_INVALID_REQUEST: { grpc: GrpcStatus.INVALID_ARGUMENT, oauth: 'invalid_request', http: 400, exit: 2 },
  ERR_UNSUPPORTED_TOKEN_TYPE: { grpc: GrpcStatus.INVALID_ARGUMENT, oauth: 'unsupported_token_type', http: 400, exit: 2 },
  ERR_TOKEN_TOO_LARGE: { grpc: GrpcStatus.INVALID_ARGUMENT, oauth: 'invalid_request', http: 400, exit: 3 },
  ERR_TOKEN_MALFORMED: badToken,
  ERR_TOKEN_DUPLICATE_MEMBER: badToken,
  ERR_TOKEN_ALG_NOT_ALLOWED: badToken,
  ERR_TOKEN_HEADER_FORBIDDEN: badToken,
  ERR_TOKEN_CRIT_UNSUPPORTED: badToken,
  ERR_TOKEN_KEY_NOT_FOUND: badToken,
  ERR_TOKEN_SIGNATURE_INVALID: badToken,
  ERR_TOKEN_EXPIRED: badToken,
  ERR_TOKEN_NOT_YET_VALID: badToken,
  ERR_TOKEN_LIFETIME_TOO_LONG: badToken,
  ERR_TOKEN_CLAIM_INVALID: badToken,
  ERR_TOKEN_AUDIENCE_INVALID: badToken,
  ERR_TOKEN_ISSUER_UNKNOWN: badToken,
  ERR_TOKEN_LEGACY_REJECTED: badToken,
  /** The Kubernetes API server (TokenReview) no longer accepts a token that verified locally: its pod or ServiceAccount is gone. */
  ERR_TOKEN_REVIEW_REJECTED: badToken,
  /** A static proof (an EC2 instance identity document) presented again past its replay rule: another client nonce than the one its instance is bound to. */
  ERR_TOKEN_REPLAYED: badToken,
  ERR_ISSUER_UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, oauth: 'temporarily_unavailable', http: 503, exit: 69 },
  ERR_POLICY_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, oauth: 'unauthorized_client', http: 400, exit: 4 },
  ERR_TARGET_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, oauth: 'invalid_target', http: 400, exit: 4 },
  ERR_ADMIN_UNAUTHENTICATED: { grpc: GrpcStatus.UNAUTHENTICATED, oauth: 'invalid_client', http: 401, exit: 5 },
  ERR_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, oauth: 'invalid_request', http: 404, exit: 6 },
  ERR_CONFIG_INVALID: { grpc: GrpcStatus.FAILED_PRECONDITION, oauth: 'server_error', http: 500, exit: 78 },
  ERR_POLICY_INVALID: { grpc: GrpcStatus.FAILED_PRECONDITION, oauth: 'server_error', http: 500, exit: 78 },
  ERR_UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, oauth: 'temporarily_unavailable', http: 503, exit: 69 },
  ERR_UPSTREAM_UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, oauth: 'temporarily_unavailable', http: 503, exit: 69 },
  ERR_UPSTREAM_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, oauth: 'invalid_target', http: 400, exit: 4 },
  ERR_UPSTREAM_BAD_RESPONSE: { grpc: GrpcStatus.UNAVAILABLE, oauth: 'temporarily_unavailable', http: 502, exit: 69 },
  ERR_INTERNAL: { grpc: GrpcStatus.INTERNAL, oauth: 'server_error', http: 500, exit: 70 },
  ERR_RATE_LIMITED: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, oauth: 'temporarily_unavailable', http: 429, exit: 75 },
  /** The verified identity is quarantined by an operator (`stint revoke --identity`): no exchange or renewal until it ends or is lifted. */
  ERR_IDENTITY_QUARANTINED: { grpc: GrpcStatus.PERMISSION_DENIED, oauth: 'invalid_grant', http: 400, exit: 4 },
} as const satisfies Record<string, ErrorMapping>;

/** A stable Stint error code. */
export type ErrorCode = keyof typeof ERROR_TABLE;

/** Base class of every Stint error. */
export class StintError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /**
   * Optional structured details safe to show to the caller (never secrets). `details.reason`,
   * when present, names the check that failed as a stable lower snake_case sub-code of `code`
   * (`too_old`, `sts_unavailable`, `unknown_database`: /^[a-z][a-z0-9_]*$/, kept by the
   * stint/error-reason lint rule, eslint/error_reason.js). A policy decision's reason code
   * (`NO_RULE_MATCHED`, `TARGET_NOT_ALLOWED`: UPPER_CASE) is another field of the policy and
   * audit contract, which PolicyDeniedError carries as its own `reason`.
   */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StintError';
    this.code = code;
    this.details = details;
  }

  /** The transport mapping for this error. */
  get mapping(): ErrorMapping {
    return ERROR_TABLE[this.code];
  }
}

/** A subject token failed verification; `reason` says which check. */
export class TokenError extends StintError {
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
    this.name = 'TokenError';
  }
}

/** Policy refused the request; carries the rule (or null) and the reason code of the decision. */
export class PolicyDeniedError extends StintError {
  readonly rule: string | null;
  readonly reason: string;
  constructor(code: 'ERR_POLICY_DENIED' | 'ERR_TARGET_DENIED', message: string, rule: string | null, reason: string, details: Record<string, unknown> = {}) {
    super(code, message, { ...details, rule, reason });
    this.name = 'PolicyDeniedError';
    this.rule = rule;
    this.reason = reason;
  }
}

/** A configuration or policy file failed validation; `path` is the key path at fault. */
export class ConfigError extends StintError {
  readonly path: string;
  constructor(code: 'ERR_CONFIG_INVALID' | 'ERR_POLICY_INVALID', path: string, message: string, details: Record<string, unknown> = {}) {
    super(code, `${path ? `${path}: ` : ''}${message}`, { ...details, path });
    this.name = 'ConfigError';
    this.path = path;
  }
}

/**
 * The admission webhook refused to inject `stint-sidecar` into a pod: an annotation (named by
 * `annotation`, or null when the pod itself is at fault) is invalid. The pod is denied with this
 * message rather than started without the credentials it asked for.
 */
export class InjectionRefusedError extends StintError {
  readonly annotation: string | null;
  constructor(message: string, annotation: string | null) {
    super('ERR_INVALID_REQUEST', message, { reason: 'injection_refused', ...(annotation ? { field: annotation } : {}) });
    this.name = 'InjectionRefusedError';
    this.annotation = annotation;
  }
}

/**
 * An upstream system (AWS STS, GCP, Vault, Kubernetes, PostgreSQL) failed or refused. `provider`
 * is the credential kind, `upstreamCode` the upstream's own error code (e.g. `AccessDenied`),
 * `retryAfterSeconds` a hint for transient failures. Never carries upstream secrets.
 */
export class UpstreamError extends StintError {
  readonly provider: string;
  readonly upstreamCode: string;
  constructor(
    code: 'ERR_UPSTREAM_UNAVAILABLE' | 'ERR_UPSTREAM_DENIED' | 'ERR_UPSTREAM_BAD_RESPONSE',
    provider: string,
    upstreamCode: string,
    message: string,
    extra: { retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(code, message, { provider, upstreamCode, reason: upstreamCode, ...(extra.retryAfterSeconds !== undefined ? { retryAfterSeconds: extra.retryAfterSeconds } : {}) }, { cause: extra.cause });
    this.name = 'UpstreamError';
    this.provider = provider;
    this.upstreamCode = upstreamCode;
  }
}

/** Wrap anything thrown into a StintError without leaking its message if it is not ours. */
export function toStintError(err: unknown): StintError {
  if (err instanceof StintError) return err;
  return new StintError('ERR_INTERNAL', 'internal error', {}, { cause: err });
}

/**
 * The error a client of Stint's HTTP endpoints (`/token`, `/renew`, `/revoke`: the CLI, the
 * sidecar) raises for an error answer, an RFC 6749 §5.2 body carrying Stint's `stint_code`: that
 * code when it is one of ours, else by status (5xx or none: unavailable; otherwise an invalid
 * request). The message names the HTTP status and OAuth error, Stint's description, the reason
 * code and, when the issuer explains denials, the nearest rule.
 */
export function errorFromOAuthBody(status: number, body: Readonly<Record<string, unknown>> | null): StintError {
  const b = body ?? {};
  // Without Stint's code (a proxy answered): 429 is rate limited, 5xx or no answer unavailable, the rest a bad request.
  const code: ErrorCode =
    typeof b.stint_code === 'string' && b.stint_code in ERROR_TABLE ? (b.stint_code as ErrorCode) : status === 429 ? 'ERR_RATE_LIMITED' : status >= 500 || status === 0 ? 'ERR_UNAVAILABLE' : 'ERR_INVALID_REQUEST';
  const oauthError = typeof b.error === 'string' ? b.error : undefined;
  const reason = typeof b.reason === 'string' ? b.reason : (oauthError ?? `http_${status}`);
  const extra = [typeof b.reason === 'string' && `reason ${b.reason}`, typeof b.rule === 'string' && `nearest rule ${b.rule}`].filter(Boolean).join(', ');
  const description = typeof b.error_description === 'string' ? b.error_description.slice(0, 300) : 'no description';
  return new StintError(code, `Stint refused (HTTP ${status}${oauthError ? ` ${oauthError}` : ''}): ${description}${extra ? ` (${extra})` : ''}`, { reason, status, ...(oauthError ? { oauthError } : {}) });
}

/** True when the code names a transient condition worth retrying. */
export function isRetryableCode(code: ErrorCode): boolean {
  const grpc: GrpcStatusCode = ERROR_TABLE[code].grpc;
  return grpc === GrpcStatus.UNAVAILABLE || grpc === GrpcStatus.RESOURCE_EXHAUSTED;
}
