/**
 * The `google.compute_engine` claim of a GCE instance identity token (format=full), checked and
 * lifted to top-level claims for policy. Every part that goes into the identity URI is validated
 * against Google's own naming rules, so none can inject a path segment.
 */
import { TokenError } from '../../errors.js';
import type { ClaimValue } from '../attestor.js';

/** The VM's claims, as the token carried them. */
export interface ComputeEngineClaims {
  readonly project_id: string;
  readonly project_number: number | string;
  readonly zone: string;
  readonly instance_id: string;
  readonly instance_name: string;
  readonly instance_creation_timestamp: number;
  readonly license_id?: ClaimValue;
}

// Project ids: 6-30 lowercase letters, digits, hyphens (older "domain:project" ids allowed).
const PROJECT_ID = /^(?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const ZONE = /^[a-z]+(?:-[a-z0-9]+)+$/;
const DIGITS = /^[1-9][0-9]{0,19}$/;
const INSTANCE_NAME = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** Extract and check `google.compute_engine`; throws ERR_TOKEN_CLAIM_INVALID naming the claim. */
export function computeEngineClaims(claims: Readonly<Record<string, ClaimValue>>, fingerprint: string): ComputeEngineClaims {
  const bad = (claim: string, reason: string, message: string): never => {
    throw new TokenError('ERR_TOKEN_CLAIM_INVALID', message, { claim, reason, fingerprint });
  };
  const google = claims['google'];
  const ce = isObject(google) ? google['compute_engine'] : undefined;
  if (!isObject(ce)) {
    return bad('google.compute_engine', 'missing', 'the token carries no google.compute_engine claim: request it from the metadata server with format=full');
  }
  const str = (key: string, re: RegExp): string => {
    const v = ce[key];
    if (typeof v !== 'string' || !re.test(v)) bad(`google.compute_engine.${key}`, v === undefined ? 'missing' : 'invalid', `google.compute_engine.${key} is missing or malformed`);
    return v as string;
  };
  const projectNumber = ce['project_number'];
  if (!((typeof projectNumber === 'number' && Number.isSafeInteger(projectNumber) && projectNumber > 0) || (typeof projectNumber === 'string' && DIGITS.test(projectNumber)))) {
    bad('google.compute_engine.project_number', projectNumber === undefined ? 'missing' : 'invalid', 'google.compute_engine.project_number is missing or malformed');
  }
  const created = ce['instance_creation_timestamp'];
  if (typeof created !== 'number' || !Number.isSafeInteger(created)) {
    bad('google.compute_engine.instance_creation_timestamp', created === undefined ? 'missing' : 'invalid', 'google.compute_engine.instance_creation_timestamp is missing or malformed');
  }
  const licenses = isObject(google) ? google['license_id'] : undefined;
  return {
    project_id: str('project_id', PROJECT_ID),
    project_number: projectNumber as number | string,
    zone: str('zone', ZONE),
    instance_id: str('instance_id', DIGITS),
    instance_name: str('instance_name', INSTANCE_NAME),
    instance_creation_timestamp: created as number,
    ...(licenses !== undefined ? { license_id: licenses } : {}),
  };
}

function isObject(v: unknown): v is Record<string, ClaimValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
