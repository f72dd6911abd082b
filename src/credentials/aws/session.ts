/**
 * What an AWS STS session carries besides the role: its name, source identity, session tags
 * and inline session policy, each built from the grant and made to fit AWS's constraints
 * (RoleSessionName and SourceIdentity `[\w+=,.@-]{2,64}`; tag keys 1-128 and values 0-256
 * characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; at most 50 tags; a policy of at most 2,048
 * characters).
 */
import { sha256Hex } from '../../fingerprint.js';
import { ConfigError } from '../../errors.js';
import { claimRefProblem, pointerSegments, readClaim, readPointer } from '../../identity/claims.js';
import type { GrantDraft } from '../provider.js';

/** The session tag that names the grant, so CloudTrail entries map back to it. */
export const GRANT_TAG = 'stint-grant';

/** Web identity token claim carrying session tags (AWS reads it for AssumeRoleWithWebIdentity). */
export const TAGS_CLAIM = 'https://aws.amazon.com/tags';

/** Web identity token claim carrying the source identity. */
export const SOURCE_IDENTITY_CLAIM = 'https://aws.amazon.com/source_identity';

const MAX_NAME = 64;
const MAX_TAGS = 50;
const MAX_TAG_KEY = 128;
const MAX_TAG_VALUE = 256;
const MAX_POLICY = 2048;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u;
const NOT_TAG_CHAR = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu;
const OPTION_KEYS = new Set(['sessionTags', 'sessionPolicy']);

/** One session tag. */
export interface SessionTag {
  readonly Key: string;
  readonly Value: string;
}

/** A rule's aws-sts options, validated. */
export interface AwsSessionOptions {
  /** Tag key → claim reference (a top-level claim name, or a JSON Pointer starting with `/`). */
  readonly sessionTags: readonly (readonly [tagKey: string, claimRef: string])[];
  /** The inline session policy, minified JSON. */
  readonly sessionPolicy?: string;
}

/**
 * The RoleSessionName (and SourceIdentity) for an identity: the identity without its URI scheme,
 * characters outside `[\w+=,.@-]` replaced by `-`, then `-` and the first 8 hex digits of the
 * identity's SHA-256, at most 64 characters (a long identity keeps its most specific end).
 * Deterministic, and distinct for identities that sanitize alike.
 */
export function sessionName(identity: string): string {
  const hash = sha256Hex(identity).slice(0, 8);
  const room = MAX_NAME - hash.length - 1;
  let body = identity
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/[^\w+=,.@-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (body.length > room) body = body.slice(body.length - room).replace(/^-+/, '');
  return body ? `${body}-${hash}` : `stint-${hash}`;
}

/** A claim value made into a session tag value: disallowed characters become `_`, at most 256 characters. */
export function tagValue(value: string): string {
  return Array.from(value.replace(NOT_TAG_CHAR, '_')).slice(0, MAX_TAG_VALUE).join('');
}

/** The tag value of a claim: strings as they are, safe integers and booleans as text; anything else has none. */
function claimText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

const parsed = new WeakMap<object, AwsSessionOptions>();

/**
 * Validate a rule's `options` for aws-sts (`sessionTags`, `sessionPolicy`); a mistake is an
 * ERR_POLICY_INVALID naming the rule and the option. Parsed once per rule entry.
 */
export function sessionOptions(options: Readonly<Record<string, unknown>>, rule: string): AwsSessionOptions {
  const hit = parsed.get(options);
  if (hit) return hit;
  const path = (key: string): string => `rules[${rule}].allow[aws-sts].options${key ? `.${key}` : ''}`;
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new ConfigError('ERR_POLICY_INVALID', path(key), `unknown aws-sts option (known: ${[...OPTION_KEYS].join(', ')})`);
  }
  const tags: [string, string][] = [];
  const rawTags = options.sessionTags;
  if (rawTags !== undefined) {
    if (typeof rawTags !== 'object' || rawTags === null || Array.isArray(rawTags)) {
      throw new ConfigError('ERR_POLICY_INVALID', path('sessionTags'), 'must map session tag keys to claim names');
    }
    const seen = new Set<string>([GRANT_TAG]);
    for (const [key, claim] of Object.entries(rawTags as Record<string, unknown>)) {
      const at = path(`sessionTags.${key}`);
      if (key.length > MAX_TAG_KEY || !TAG_KEY.test(key)) throw new ConfigError('ERR_POLICY_INVALID', at, 'a session tag key is 1-128 characters of letters, digits, spaces and _.:/=+-@');
      if (/^aws:/i.test(key)) throw new ConfigError('ERR_POLICY_INVALID', at, 'session tag keys must not start with aws:');
      if (seen.has(key.toLowerCase())) {
        throw new ConfigError('ERR_POLICY_INVALID', at, key.toLowerCase() === GRANT_TAG ? `${GRANT_TAG} is set by Stint` : 'session tag keys are case-insensitive in AWS: this key repeats another');
      }
      seen.add(key.toLowerCase());
      if (typeof claim !== 'string') throw new ConfigError('ERR_POLICY_INVALID', at, 'must name a claim');
      const problem = claimRefProblem(claim);
      if (problem) throw new ConfigError('ERR_POLICY_INVALID', at, problem);
      tags.push([key, claim]);
    }
    if (tags.length > MAX_TAGS - 1) throw new ConfigError('ERR_POLICY_INVALID', path('sessionTags'), `at most ${MAX_TAGS - 1} session tags (AWS allows ${MAX_TAGS}, one is ${GRANT_TAG})`);
  }
  let sessionPolicy: string | undefined;
  const rawPolicy = options.sessionPolicy;
  if (rawPolicy !== undefined) {
    let doc: unknown = rawPolicy;
    if (typeof rawPolicy === 'string') {
      try {
        doc = JSON.parse(rawPolicy);
      } catch {
        throw new ConfigError('ERR_POLICY_INVALID', path('sessionPolicy'), 'is not valid JSON');
      }
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('Statement' in doc)) {
      throw new ConfigError('ERR_POLICY_INVALID', path('sessionPolicy'), 'must be an IAM policy document (an object with Statement), as JSON text or a mapping');
    }
    sessionPolicy = JSON.stringify(doc);
    if (sessionPolicy.length > MAX_POLICY) throw new ConfigError('ERR_POLICY_INVALID', path('sessionPolicy'), `is ${sessionPolicy.length} characters minified; AWS allows ${MAX_POLICY}`);
  }
  const result: AwsSessionOptions = { sessionTags: tags, ...(sessionPolicy !== undefined ? { sessionPolicy } : {}) };
  parsed.set(options, result);
  return result;
}

/**
 * The session tags of a grant: `stint-grant` = the grant id, then each configured tag whose claim
 * the identity has (an absent claim, or one that is not a string, integer or boolean, is left out).
 */
export function sessionTags(grant: GrantDraft, options: AwsSessionOptions): SessionTag[] {
  const tags: SessionTag[] = [{ Key: GRANT_TAG, Value: tagValue(grant.id) }];
  for (const [key, ref] of options.sessionTags) {
    const segments = pointerSegments(ref);
    const text = claimText(segments ? readPointer(grant.identity.claims, segments) : readClaim(grant.identity.claims, ref));
    if (text !== undefined) tags.push({ Key: key, Value: tagValue(text) });
  }
  return tags;
}

/** The claims that carry session tags and the source identity in a web identity token. */
export function webIdentityClaims(tags: readonly SessionTag[], sourceIdentity: string): Record<string, unknown> {
  const principalTags: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const t of tags) principalTags[t.Key] = [t.Value];
  return { [TAGS_CLAIM]: { principal_tags: principalTags }, [SOURCE_IDENTITY_CLAIM]: sourceIdentity };
}
