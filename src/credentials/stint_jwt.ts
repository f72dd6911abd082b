/**
 * The `stint-jwt` credential provider: a JWT signed by Stint's current key, verifiable by anyone
 * holding Stint's JWKS (AWS, GCP, Vault, any jose verifier). Signing calls node:crypto directly:
 * the header segment and signing options are built once per key, so an issuance costs one JSON
 * encoding and one signature.
 */
import { sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import type { Clock } from '../clock.js';
import { epochSeconds } from '../clock.js';
import { ConfigError, StintError } from '../errors.js';
import type { SigningKey } from '../keys/keyring.js';
import { renewAfterOf, type CredentialProvider, type GrantDraft, type IssuedCredential, type RevokeResult } from './provider.js';

/** The credential kind named in policy rules and requests. */
export const STINT_JWT_KIND = 'stint-jwt';

/** RFC 8693 token type of a Stint JWT. */
export { JWT_TOKEN_TYPE } from '../client/constants.js';
import { JWT_TOKEN_TYPE } from '../client/constants.js';

/** Claims Stint sets itself; granted passClaims never override them. */
export const REGISTERED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'sub', 'aud', 'iat', 'nbf', 'exp', 'jti', 'scope']);

/** What the provider needs of the keyring. */
export interface StintJwtSigner {
  signer(): SigningKey;
  /** Tokens must not outlive the publication of the key that signed them. */
  readonly maxTokenTtlSeconds: number;
}

/** Options of createStintJwtProvider. */
export interface StintJwtProviderOptions {
  /** Stint's issuer URL: the `iss` of every token. */
  readonly issuer: string;
  readonly keyring: StintJwtSigner;
  readonly clock: Clock;
  /** Longest TTL this provider issues (at most the keyring's maxTokenTtlSeconds). */
  readonly maxTtlSeconds: number;
  /** The JOSE header `typ` (RFC 8725 §3.11 explicit typing); default {@link STINT_JWT_TYP}. */
  readonly typ?: string;
}

/** The `typ` of Stint JWTs: verifiers can require it and so never take another JWT for one (RFC 8725 §3.11). */
export const STINT_JWT_TYP = 'stint+jwt';

/** Per-key signing state, built once per kid. */
interface KeySigning {
  readonly kid: string;
  /** base64url(header) + '.' */
  readonly headerPrefix: string;
  /** Digest for crypto.sign (null for Ed25519). */
  readonly digest: 'sha256' | null;
  /** Key (with dsaEncoding for ECDSA) as crypto.sign takes it. */
  readonly key: KeyObject | SignKeyObjectInput;
}

const REVOKE_RESULT: RevokeResult = {
  effective: false,
  note: 'Stint JWTs stay valid until expiry for verifiers that do not call introspection; introspection reports them inactive',
};

const NO_FIELDS: Readonly<Record<string, string>> = Object.freeze({});
const NO_SECRET_FIELDS: readonly string[] = Object.freeze([]);

/** Build the per-key signing state. */
function keySigning(key: SigningKey, typ: string): KeySigning {
  const header = JSON.stringify({ alg: key.alg, kid: key.kid, typ });
  const headerPrefix = `${Buffer.from(header).toString('base64url')}.`;
  switch (key.alg) {
    case 'ES256':
      return { kid: key.kid, headerPrefix, digest: 'sha256', key: { key: key.privateKey, dsaEncoding: 'ieee-p1363' } };
    case 'EdDSA':
      return { kid: key.kid, headerPrefix, digest: null, key: key.privateKey };
    case 'RS256':
      return { kid: key.kid, headerPrefix, digest: 'sha256', key: key.privateKey };
  }
}

/** The claims set of one token: registered claims first, then the passed-through ones. */
function claimsOf(issuer: string, draft: GrantDraft, audience: string): Record<string, unknown> {
  // A null-prototype object makes a `__proto__` pass claim an ordinary member, not a prototype.
  const claims: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  claims.iss = issuer;
  claims.sub = draft.identity.id;
  claims.aud = audience;
  claims.iat = draft.issuedAt;
  claims.nbf = draft.issuedAt;
  claims.exp = draft.expiresAt;
  claims.jti = draft.id;
  const scopes = draft.granted.scopes;
  if (scopes.length > 0) claims.scope = scopes.join(' ');
  const pass = draft.granted.passClaims;
  for (const name of Object.keys(pass)) {
    if (!REGISTERED_CLAIMS.has(name)) claims[name] = pass[name];
  }
  return claims;
}

/** Create the `stint-jwt` provider. */
export function createStintJwtProvider(options: StintJwtProviderOptions): CredentialProvider {
  const { issuer, keyring, clock, maxTtlSeconds } = options;
  const typ = options.typ ?? STINT_JWT_TYP;
  if (!Number.isInteger(maxTtlSeconds) || maxTtlSeconds <= 0) {
    throw new ConfigError('ERR_CONFIG_INVALID', 'credentials.maxTtl', 'stint-jwt maxTtlSeconds must be a positive whole number');
  }
  if (maxTtlSeconds > keyring.maxTokenTtlSeconds) {
    throw new ConfigError('ERR_CONFIG_INVALID', 'credentials.maxTtl', `stint-jwt maxTtlSeconds (${maxTtlSeconds}) exceeds the keyring's maxTokenTtlSeconds (${keyring.maxTokenTtlSeconds})`);
  }
  let cached: KeySigning | null = null;

  return {
    kind: STINT_JWT_KIND,
    maxTtlSeconds,
    requires: 'audience',
    reapOnExpiry: false,

    async issue(draft: GrantDraft): Promise<IssuedCredential> {
      const audience = draft.granted.audience;
      if (!audience) throw new StintError('ERR_INVALID_REQUEST', 'a stint-jwt credential requires an audience', { kind: STINT_JWT_KIND, field: 'audience' });
      const ttl = draft.expiresAt - draft.issuedAt;
      if (!(ttl > 0 && ttl <= maxTtlSeconds) || !Number.isInteger(draft.issuedAt) || !Number.isInteger(draft.expiresAt)) {
        throw new StintError('ERR_INVALID_REQUEST', `stint-jwt TTL must be between 1 and ${maxTtlSeconds} seconds`, { kind: STINT_JWT_KIND, ttlSeconds: ttl, maxTtlSeconds });
      }
      if (draft.expiresAt <= epochSeconds(clock)) {
        throw new StintError('ERR_INVALID_REQUEST', 'stint-jwt grant already expired', { kind: STINT_JWT_KIND });
      }
      const key = keyring.signer();
      if (cached?.kid !== key.kid) cached = keySigning(key, typ);
      const signing = cached;
      const payload = Buffer.from(JSON.stringify(claimsOf(issuer, draft, audience))).toString('base64url');
      const input = signing.headerPrefix + payload;
      const signature = sign(signing.digest, Buffer.from(input), signing.key).toString('base64url');
      return {
        kind: STINT_JWT_KIND,
        token: `${input}.${signature}`,
        tokenType: JWT_TOKEN_TYPE,
        fields: NO_FIELDS,
        secretFields: NO_SECRET_FIELDS,
        expiresAt: draft.expiresAt,
        renewAfter: renewAfterOf(draft.issuedAt, draft.issuedAt + ttl),
      };
    },

    async revoke(): Promise<RevokeResult> {
      return REVOKE_RESULT;
    },
  };
}
