/**
 * Subject token types (RFC 8693 §3 `subject_token_type`) Stint routes on. The JWT types are
 * IETF-registered; the proofs that are not JWTs carry Stint's own URIs (docs: src/attestation/README.md).
 */

import { ID_TOKEN_TYPE, JWT_TOKEN_TYPE } from '../client/constants.js';

// A JWT is routed to the JWT attestor configured for its `iss`, an ID token likewise; an access token
// is accepted where it is a JWT (Microsoft Entra managed identity tokens). Written once in src/client/constants.ts.
export { ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, JWT_TOKEN_TYPE } from '../client/constants.js';
/** An EC2 instance identity document with one of its IMDS signatures (JSON envelope, aws-iid kind). */
export const AWS_IID_TOKEN_TYPE = 'urn:stint:params:oauth:token-type:aws-iid';
/** A signed sts:GetCallerIdentity request (JSON envelope, aws-iam kind). */
export const AWS_IAM_TOKEN_TYPE = 'urn:stint:params:oauth:token-type:aws-iam';
/** A GCE instance identity token (a JWT from Google, gcp-instance kind only). */
export const GCP_INSTANCE_TOKEN_TYPE = 'urn:stint:params:oauth:token-type:gcp-instance';
/** A Microsoft Entra managed identity token (a JWT, azure kind only). */
export const AZURE_MSI_TOKEN_TYPE = 'urn:stint:params:oauth:token-type:azure-msi';
/** An Azure IMDS attested document (JSON envelope with the PKCS#7 signature, azure kind). */
export const AZURE_IMDS_TOKEN_TYPE = 'urn:stint:params:oauth:token-type:azure-imds';

/** The types any JWT attestor accepts besides its kind's own. */
export const GENERIC_JWT_TOKEN_TYPES: readonly string[] = [JWT_TOKEN_TYPE, ID_TOKEN_TYPE];
