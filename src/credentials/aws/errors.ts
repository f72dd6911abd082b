/**
 * AWS STS failures as Stint errors. STS answers errors as `<ErrorResponse><Error><Code>`; the SDK
 * surfaces the code as `Code` (modeled ones also as a class name such as
 * `InvalidIdentityTokenException`) with `$fault` and the HTTP status in `$metadata`.
 * Refusals become ERR_UPSTREAM_DENIED naming STS's code; throttling, 5xx and network failures
 * ERR_UPSTREAM_UNAVAILABLE with a retry hint; a reply the SDK could not read
 * ERR_UPSTREAM_BAD_RESPONSE. Messages never carry the request's token or the reply's secrets:
 * the SDK error is not kept as `cause` (it holds the raw response).
 */
import { StintError, UpstreamError } from '../../errors.js';
import { classifyHttpStatus, isNetworkError } from '../../upstream/classify.js';
import { safeUpstreamMessage } from '../../upstream/safe_message.js';

/** The credential kind, for errors and metrics. */
export const AWS_STS_KIND = 'aws-sts';

/** STS refusals: the request will not succeed as made. */
const DENIED = new Set([
  'AccessDenied',
  'InvalidIdentityToken',
  'IDPRejectedClaim',
  'ExpiredToken',
  'ExpiredTokenException',
  'MalformedPolicyDocument',
  'PackedPolicyTooLarge',
  'RegionDisabledException',
  'ValidationError',
  'InvalidParameterValue',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
]);

/** Throttling: retry after a pause. */
const THROTTLED = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);

/** Transient failures of STS or of its call to Stint's OIDC discovery. */
const TRANSIENT = new Set(['IDPCommunicationError', 'InternalFailure', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException']);

const THROTTLE_RETRY_SECONDS = 10;
const TRANSIENT_RETRY_SECONDS = 5;

/** What an AWS SDK error carries, read defensively (anything may be thrown). */
export interface SdkErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly Code?: unknown;
  readonly message?: unknown;
  readonly $fault?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** How one AWS service's errors read: its name in messages, its error code, its refusals. */
export interface AwsServiceErrors {
  /** `STS`, `IAM`. */
  readonly service: string;
  /** The service's error code from the SDK error (sanitised: word characters, dots and dashes, ≤ 64). */
  readonly codeOf: (e: SdkErrorShape, status: number | undefined) => string;
  /** Codes that are refusals whatever the status. */
  readonly denied: ReadonlySet<string>;
  /** Status assumed for a service error without one. */
  readonly statusWhenUnknown: number;
  /** The message when the SDK has no credentials (its text may name where it looked). */
  readonly noCredentials: (e: SdkErrorShape) => string;
}

/** Classify anything an AWS SDK call threw, as `service` reads its errors. */
export function classifyAwsSdkError(err: unknown, service: AwsServiceErrors): StintError {
  if (err instanceof StintError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const name = service.service;
  if (e.$fault === 'client' || e.$fault === 'server') {
    const code = service.codeOf(e, status);
    const message = `${AWS_STS_KIND}: ${name} answered ${code}${status ? ` (HTTP ${status})` : ''}: ${safeMessage(e.message)}`;
    if (THROTTLED.has(code)) return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', AWS_STS_KIND, code, message, { retryAfterSeconds: THROTTLE_RETRY_SECONDS });
    if (TRANSIENT.has(code) || e.$fault === 'server' || (status !== undefined && status >= 500)) {
      return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', AWS_STS_KIND, code, message, { retryAfterSeconds: TRANSIENT_RETRY_SECONDS });
    }
    if (service.denied.has(code)) return new UpstreamError('ERR_UPSTREAM_DENIED', AWS_STS_KIND, code, message);
    return classifyHttpStatus(AWS_STS_KIND, status ?? service.statusWhenUnknown, code, message);
  }
  if (e.name === 'CredentialsProviderError') {
    return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', AWS_STS_KIND, 'NoCredentials', `${AWS_STS_KIND}: ${service.noCredentials(e)}`, { retryAfterSeconds: 30 });
  }
  if (isNetworkError(err)) {
    const code = sanitizeCode(typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'NetworkError');
    return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', AWS_STS_KIND, code, `${AWS_STS_KIND}: ${name} unreachable (${code})`, { retryAfterSeconds: TRANSIENT_RETRY_SECONDS });
  }
  if (status !== undefined) {
    // The SDK received an answer it could not read (it attaches $metadata to deserialization errors).
    return new UpstreamError('ERR_UPSTREAM_BAD_RESPONSE', AWS_STS_KIND, 'MalformedResponse', `${AWS_STS_KIND}: ${name} answered HTTP ${status} with a body that is not an ${name} response`);
  }
  return new StintError('ERR_INTERNAL', `${AWS_STS_KIND}: ${name} call failed`, {}, { cause: err });
}

/** An upstream error code as it may appear in messages and details. */
export function sanitizeCode(code: string): string {
  return code.replace(/[^\w.-]/g, '').slice(0, 64) || 'Unknown';
}

const STS_ERRORS: AwsServiceErrors = {
  service: 'STS',
  codeOf: stsCode,
  denied: DENIED,
  statusWhenUnknown: 0,
  noCredentials: (e) => `no AWS credentials for assume-role mode (${safeMessage(e.message)})`,
};

/** Classify anything the STS call threw. */
export function classifyStsError(err: unknown): StintError {
  return classifyAwsSdkError(err, STS_ERRORS);
}

/** The STS error code: the wire code when the SDK kept it, else the modeled exception's name as STS spells the code. */
function stsCode(e: SdkErrorShape, status: number | undefined): string {
  let code: string;
  if (typeof e.Code === 'string' && e.Code) code = e.Code;
  else if (typeof e.name === 'string' && e.name && e.name !== 'Unknown') code = MODELED_NAMES[e.name] ?? e.name;
  else code = `HTTP${status ?? 0}`;
  return code.replace(/[^\w.-]/g, '').slice(0, 64) || 'Unknown';
}

/** SDK exception class names whose STS wire code differs. */
const MODELED_NAMES: Readonly<Record<string, string>> = {
  InvalidIdentityTokenException: 'InvalidIdentityToken',
  IDPRejectedClaimException: 'IDPRejectedClaim',
  IDPCommunicationErrorException: 'IDPCommunicationError',
  MalformedPolicyDocumentException: 'MalformedPolicyDocument',
  PackedPolicyTooLargeException: 'PackedPolicyTooLarge',
};

/** STS's message fit for Stint's errors. */
function safeMessage(message: unknown): string {
  return safeUpstreamMessage(message) || 'no message';
}
