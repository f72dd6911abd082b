/**
 * Kept only while src/transport/http/nonce.ts (in progress elsewhere) imports readBody from here:
 * the body reader lives in src/http/body.ts. Remove once that import points there.
 */
export { readBody, type BodyLimits } from '../../http/body.js';
