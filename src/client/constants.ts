/**
 * The RFC 8693 words written once for Stint's clients and its HTTP transport: the grant type of a
 * token exchange and the subject token type of a JWT. Dependency-free (the sidecar bundle, the
 * GitHub Action and the service import it alike).
 */
export { JWT_TOKEN_TYPE } from '../attestation/token_types.js';

/** RFC 8693 §2.1 `grant_type` of a token exchange (POST /token). */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
