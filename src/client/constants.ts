/**
 * The RFC 8693 words written once for Stint's clients, its HTTP transport, its attestors and its
 * providers: the grant type of a token exchange and the IETF-registered token types.
 * Dependency-free (the sidecar bundle, the GitHub Action and the service import it alike).
 */

/** A JWT (RFC 8693 §3). */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** An OpenID Connect ID token (RFC 8693 §3). */
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
/** An OAuth access token (RFC 8693 §3). */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** RFC 8693 §2.1 `grant_type` of a token exchange (POST /token). */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
