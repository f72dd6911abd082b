/**
 * Checks a subject token must pass before anything decodes or verifies it: size, compact JWS
 * shape, canonical base64url, strict JSON (no duplicate members, bounded depth) and the header
 * rules (no embedded or remote keys, no `crit`, no `b64`, algorithm allowlist).
 */
import { TokenError } from '../../errors.js';
import { fingerprint } from '../../fingerprint.js';
import { decodeBase64urlStrict } from './base64url.js';
import { ASYMMETRIC_ALGORITHMS, KEY_CARRYING_HEADERS, MAX_KID_LENGTH, OTHER_FORBIDDEN_HEADERS } from './header_rules.js';
import { isPlausibleSignatureLength } from './signature_length.js';
import { DEFAULT_MAX_DEPTH, parseStrictJson, StrictJsonError } from './strict_json.js';

/** Options of {@link precheckToken}. */
export interface PrecheckOptions {
  /** Largest accepted token in bytes, checked before any decoding. */
  readonly maxTokenBytes: number;
  /** Algorithms accepted for this issuer (asymmetric only; `none` and HS* are always refused). */
  readonly algorithms: readonly string[];
  /** Nesting cap of the header and payload JSON (default 32). */
  readonly maxDepth?: number;
}

/** The decoded, not yet verified, parts of a token that passed the precheck. */
export interface PrecheckedToken {
  /** The protected header. */
  readonly header: Readonly<Record<string, unknown>>;
  /** The claims set, unverified. */
  readonly payload: Readonly<Record<string, unknown>>;
  /** The header `alg`, one of the allowed algorithms. */
  readonly alg: string;
  /** The header `kid`, an opaque lookup key, when present. */
  readonly kid: string | undefined;
  /** The unverified `iss` when it is a string. */
  readonly issuer: string | undefined;
  /** Fingerprint of the token, safe for logs and errors. */
  readonly fingerprint: string;
  /** The three base64url segments as the token carries them; the signing input is `header.payload`. */
  readonly segments: readonly [header: string, payload: string, signature: string];
  /** The signature bytes, decoded once here (canonical base64url, a length `alg` can produce). */
  readonly signature: Buffer;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const PRINTABLE_ALG = /^[A-Za-z0-9+_-]{1,32}$/;

/** Run every pre-decoding check on `token`; throws TokenError with a stable code. */
export function precheckToken(token: unknown, options: PrecheckOptions): PrecheckedToken {
  if (typeof token !== 'string' || token.length === 0) {
    throw new TokenError('ERR_TOKEN_MALFORMED', 'subject token must be a non-empty string', { reason: 'empty' });
  }
  if (token.length > options.maxTokenBytes || Buffer.byteLength(token, 'utf8') > options.maxTokenBytes) {
    throw new TokenError('ERR_TOKEN_TOO_LARGE', `subject token exceeds ${options.maxTokenBytes} bytes`, {
      reason: 'too_large',
      maxTokenBytes: options.maxTokenBytes,
    });
  }
  // Hashing costs more than the rest of the precheck; done only when needed.
  let fpCache: string | undefined;
  const fp = (): string => (fpCache ??= fingerprint(token));
  const malformed = (reason: string, message: string): TokenError =>
    new TokenError('ERR_TOKEN_MALFORMED', message, { reason, fingerprint: fp() });

  if (token.startsWith('{')) throw malformed('json_serialization', 'only the JWS compact serialization is accepted');
  const segments = token.split('.');
  if (segments.length === 5) throw malformed('jwe', 'encrypted tokens (JWE) are not accepted');
  if (segments.length !== 3) throw malformed('not_compact_jws', 'subject token is not a compact JWS (three segments)');
  const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string];

  const header = decodeJsonSegment(headerSegment, 'header', options, fp);
  checkHeader(header, options, fp);
  const alg = header['alg'] as string;
  const kid = header['kid'] as string | undefined;

  const payload = decodeJsonSegment(payloadSegment, 'payload', options, fp);

  if (signatureSegment.length === 0) throw malformed('signature_missing', 'subject token has no signature');
  const signature = decodeBase64urlStrict(signatureSegment);
  if (signature === null) throw malformed('signature_encoding', 'signature is not canonical base64url');
  if (!isPlausibleSignatureLength(alg, signature.length)) {
    throw malformed('signature_length', `signature length does not fit ${alg}`);
  }
  const iss = payload['iss'];
  return {
    header,
    payload,
    alg,
    kid,
    issuer: typeof iss === 'string' ? iss : undefined,
    get fingerprint() {
      return fp();
    },
    segments: [headerSegment, payloadSegment, signatureSegment],
    signature,
  };
}

function decodeJsonSegment(segment: string, part: 'header' | 'payload', options: PrecheckOptions, fp: () => string): Record<string, unknown> {
  const malformed = (reason: string, message: string): TokenError =>
    new TokenError('ERR_TOKEN_MALFORMED', message, { reason, part, fingerprint: fp() });
  if (segment.length === 0) throw malformed(`${part}_missing`, `token ${part} is empty`);
  const bytes = decodeBase64urlStrict(segment);
  if (bytes === null) throw malformed(`${part}_encoding`, `token ${part} is not canonical base64url`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw malformed(`${part}_encoding`, `token ${part} is not UTF-8`);
  }
  let value: unknown;
  try {
    value = parseStrictJson(text, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  } catch (err) {
    if (!(err instanceof StrictJsonError)) throw err;
    if (err.reason === 'duplicate_member') {
      const details: Record<string, unknown> = { reason: 'duplicate_member', part, fingerprint: fp() };
      if (err.member !== undefined && err.member.length <= 64) details['member'] = err.member;
      throw new TokenError('ERR_TOKEN_DUPLICATE_MEMBER', `token ${part} repeats a member name`, details);
    }
    if (err.reason === 'too_deep') throw malformed(`${part}_too_deep`, `token ${part} nests too deeply`);
    throw malformed(`${part}_json`, `token ${part} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`${part}_not_object`, `token ${part} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function checkHeader(header: Record<string, unknown>, options: PrecheckOptions, fp: () => string): void {
  for (const name of KEY_CARRYING_HEADERS) {
    if (Object.hasOwn(header, name)) {
      throw new TokenError('ERR_TOKEN_HEADER_FORBIDDEN', `header "${name}" is refused: keys come only from the issuer's configured key set`, {
        reason: 'embedded_key',
        header: name,
        fingerprint: fp(),
      });
    }
  }
  for (const name of OTHER_FORBIDDEN_HEADERS) {
    if (Object.hasOwn(header, name)) {
      throw new TokenError('ERR_TOKEN_HEADER_FORBIDDEN', `header "${name}" is refused`, { reason: 'forbidden_header', header: name, fingerprint: fp() });
    }
  }
  if (Object.hasOwn(header, 'crit')) {
    throw new TokenError('ERR_TOKEN_CRIT_UNSUPPORTED', 'header "crit" is refused: no JWS extension is supported', { reason: 'crit', fingerprint: fp() });
  }

  const alg = header['alg'];
  if (typeof alg !== 'string' || alg.length === 0) {
    throw new TokenError('ERR_TOKEN_ALG_NOT_ALLOWED', 'header "alg" is missing', { reason: 'alg_missing', fingerprint: fp() });
  }
  if (!ASYMMETRIC_ALGORITHMS.has(alg) || !options.algorithms.includes(alg)) {
    const reason = alg.toLowerCase() === 'none' ? 'alg_none' : /^HS/i.test(alg) ? 'alg_symmetric' : 'alg_not_in_allowlist';
    throw new TokenError('ERR_TOKEN_ALG_NOT_ALLOWED', 'header "alg" is not allowed for this issuer', {
      reason,
      alg: PRINTABLE_ALG.test(alg) ? alg : '(unprintable)',
      fingerprint: fp(),
    });
  }

  if (Object.hasOwn(header, 'kid')) {
    const kid = header['kid'];
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) {
      throw new TokenError('ERR_TOKEN_MALFORMED', 'header "kid" must be a non-empty string', { reason: 'kid_invalid', fingerprint: fp() });
    }
  }
}

/**
 * Re-apply one issuer's limits to a token that already passed {@link precheckToken} with looser
 * ones (the router's: the largest size cap and the union of algorithms). Everything else in the
 * precheck does not depend on the options and is not repeated.
 */
export function applyIssuerLimits(token: string, prechecked: PrecheckedToken, options: PrecheckOptions): PrecheckedToken {
  // A prechecked token is ASCII (three base64url segments), so its length is its size in bytes.
  if (token.length > options.maxTokenBytes) {
    throw new TokenError('ERR_TOKEN_TOO_LARGE', `subject token exceeds ${options.maxTokenBytes} bytes`, {
      reason: 'too_large',
      maxTokenBytes: options.maxTokenBytes,
    });
  }
  if (!options.algorithms.includes(prechecked.alg)) {
    throw new TokenError('ERR_TOKEN_ALG_NOT_ALLOWED', 'header "alg" is not allowed for this issuer', {
      reason: 'alg_not_in_allowlist',
      alg: prechecked.alg,
      fingerprint: prechecked.fingerprint,
    });
  }
  return prechecked;
}
