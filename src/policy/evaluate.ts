/**
 * Deciding one exchange against compiled rules: first applicable rule that allows every
 * requested credential wins; otherwise the nearest rule and the specific reason are named.
 */
import type { ClaimValue, WorkloadIdentity } from '../attestation/attestor.js';
import { comparableString, describeValue } from './claims.js';
import { matches } from './matcher.js';
import { conditionHoldsFor, conditionScope, type ConditionScope } from './condition.js';
import type { CredentialRequest, Decision, DecisionReason, FailedCondition, GrantedCredential, RequestContext } from './decision.js';
import { conditionHolds, readCondition, type CompiledAllow, type CompiledCondition, type CompiledRule } from './rule.js';
import { byPrefixOf, type RuleIndex } from './rule_index.js';

/** A denial reason found while checking one rule. */
interface Denial {
  readonly rule: string;
  readonly reason: Exclude<DecisionReason, 'RULE_MATCHED' | 'NO_RULE_MATCHED' | 'NO_CREDENTIALS_REQUESTED'>;
  readonly message: string;
  readonly failed?: readonly FailedCondition[];
}

/** How far a request got through an allow entry's checks: the furthest failure is reported. */
const RANK: Readonly<Record<Denial['reason'], number>> = {
  KIND_NOT_ALLOWED: 0,
  LEGACY_TOKEN_NOT_ALLOWED: 0,
  CONDITION_NOT_MET: 0,
  AUDIENCE_REQUIRED: 1,
  AUDIENCE_NOT_ALLOWED: 1,
  TARGET_REQUIRED: 2,
  TARGET_NOT_ALLOWED: 2,
  SCOPE_NOT_ALLOWED: 3,
  TTL_ABOVE_MAX: 4,
};

const EMPTY: readonly never[] = Object.freeze([] as never[]);
const hasOwn = Object.prototype.hasOwnProperty;

/** Most rules scored when looking for the nearest rule of a NO_RULE_MATCHED denial. */
export const NEAREST_SCAN_LIMIT = 64;

/** Decide one exchange. Never throws for any identity or request shape. */
export function evaluate(index: RuleIndex, identity: WorkloadIdentity, requests: readonly CredentialRequest[], now = 0, context?: RequestContext, explain = true): Decision {
  if (!Array.isArray(requests) || requests.length === 0) {
    return { outcome: 'deny', rule: null, reason: 'NO_CREDENTIALS_REQUESTED', message: 'no credentials were requested' };
  }
  const bucket = typeof identity.attestor === 'string' && typeof identity.issuer === 'string'
    ? index.byAttestorIssuer.get(identity.attestor)?.get(identity.issuer)
    : undefined;
  if (!bucket) return explain ? noRuleMatched(candidatesOf(index, identity), identity) : UNEXPLAINED;
  // Candidates in policy order: a merge of the rules pinning the identity's value and the rest.
  let a: readonly CompiledRule[] = bucket.rules;
  let b: readonly CompiledRule[] = EMPTY;
  if (bucket.split) {
    const key = comparableString(readCondition(bucket.split.reader, identity));
    a = (key === undefined ? undefined : bucket.split.byValue.get(key)) ?? EMPTY;
    b = bucket.split.rest;
  } else if (bucket.prefixSplit) {
    a = byPrefixOf(bucket.prefixSplit, comparableString(readCondition(bucket.prefixSplit.reader, identity)));
    b = bucket.prefixSplit.rest;
  }
  let nearest: Denial | undefined;
  let scope: ConditionScope | undefined;
  let i = 0;
  let j = 0;
  for (;;) {
    let rule: CompiledRule;
    if (i < a.length) {
      rule = a[i] as CompiledRule;
      if (j < b.length && (b[j] as CompiledRule).index < rule.index) rule = b[j++] as CompiledRule;
      else i++;
    } else if (j < b.length) {
      rule = b[j++] as CompiledRule;
    } else {
      break;
    }
    if (!bodyHolds(rule, identity)) continue;
    if (identity.legacy && !rule.allowLegacyTokens) {
      nearest ??= { rule: rule.name, reason: 'LEGACY_TOKEN_NOT_ALLOWED', message: `rule "${rule.name}" matches but does not accept legacy Kubernetes tokens (allowLegacyTokens is false)` };
      continue;
    }
    if (rule.condition) {
      scope ??= conditionScope(identity, context, now);
      const failedOn = requests.find((r) => !conditionHoldsFor(rule.condition as NonNullable<CompiledRule['condition']>, scope as ConditionScope, r));
      if (failedOn !== undefined) {
        nearest ??= {
          rule: rule.name,
          reason: 'CONDITION_NOT_MET',
          message: `rule "${rule.name}" matches but its condition is false for ${quote(failedOn.kind)}`,
          failed: [{ field: 'condition', expected: rule.condition.source, actual: 'false' }],
        };
        continue;
      }
    }
    const result = authorize(rule, identity, requests);
    if (Array.isArray(result)) return { outcome: 'allow', rule: rule.name, reason: 'RULE_MATCHED', credentials: result };
    nearest ??= result as Denial;
  }
  if (nearest) return { outcome: 'deny', rule: nearest.rule, reason: nearest.reason, message: nearest.message, ...(nearest.failed ? { failed: nearest.failed } : {}) };
  if (!explain) return UNEXPLAINED;
  return noRuleMatched(a.length + b.length > 0 ? merged(a, b, NEAREST_SCAN_LIMIT) : bucket.rules, identity);
}

const UNEXPLAINED: Decision = Object.freeze({ outcome: 'deny', rule: null, reason: 'NO_RULE_MATCHED', message: 'no rule matched' });

/** Rules to look for the nearest one in when no bucket exists: same attestor kind, else all. */
function candidatesOf(index: RuleIndex, identity: WorkloadIdentity): readonly CompiledRule[] {
  return (typeof identity.attestor === 'string' ? index.byAttestor.get(identity.attestor) : undefined) ?? index.all;
}

/** The first `limit` rules of two index-ordered lists, merged in policy order. */
function merged(a: readonly CompiledRule[], b: readonly CompiledRule[], limit: number): CompiledRule[] {
  const out: CompiledRule[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    const ra = a[i];
    const rb = b[j];
    if (ra !== undefined && (rb === undefined || ra.index < rb.index)) {
      out.push(ra);
      i++;
    } else {
      out.push(rb as CompiledRule);
      j++;
    }
  }
  return out;
}

function bodyHolds(rule: CompiledRule, identity: WorkloadIdentity): boolean {
  const body = rule.body;
  for (let k = 0; k < body.length; k++) if (!conditionHolds(body[k] as CompiledCondition, identity)) return false;
  return true;
}

/** Every request allowed by this rule (granted list), or the first denial. */
function authorize(rule: CompiledRule, identity: WorkloadIdentity, requests: readonly CredentialRequest[]): GrantedCredential[] | Denial {
  const granted: GrantedCredential[] = [];
  for (const request of requests) {
    const entries = typeof request === 'object' && request !== null ? rule.allowByKind.get(request.kind) : undefined;
    if (!entries) {
      const kind = typeof request === 'object' && request !== null ? request.kind : undefined;
      return { rule: rule.name, reason: 'KIND_NOT_ALLOWED', message: `rule "${rule.name}" does not allow credential kind ${quote(kind)} (allows ${rule.kinds})` };
    }
    let best: Denial | undefined;
    let grant: GrantedCredential | undefined;
    for (const entry of entries) {
      const r = check(rule.name, entry, request, identity);
      if ('ttlSeconds' in r) {
        grant = r;
        break;
      }
      if (!best || RANK[r.reason] > RANK[best.reason]) best = r;
    }
    if (!grant) return best as Denial;
    granted.push(grant);
  }
  return granted;
}

function check(rule: string, entry: CompiledAllow, request: CredentialRequest, identity: WorkloadIdentity): GrantedCredential | Denial {
  const kind = entry.kind;
  const audience = present(request.audience);
  const target = present(request.target);
  const denied = checkPinned('audience', audience, entry.audience, rule, kind) ?? checkPinned('target', target, entry.target, rule, kind);
  if (denied) return denied;
  const requestedScopes = request.scopes;
  let scopes: readonly string[] = EMPTY;
  if (requestedScopes !== undefined && requestedScopes !== null) {
    if (!Array.isArray(requestedScopes)) return { rule, reason: 'SCOPE_NOT_ALLOWED', message: 'scopes must be a list' };
    for (const s of requestedScopes as readonly unknown[]) {
      if (typeof s !== 'string' || !entry.scopes?.has(s)) return { rule, reason: 'SCOPE_NOT_ALLOWED', message: `rule "${rule}" does not allow scope ${quote(s)} for ${kind}` };
    }
    if (requestedScopes.length > 0) scopes = Object.freeze(requestedScopes.slice());
  }
  const asked = request.ttlSeconds;
  const requested = typeof asked === 'number' && asked >= 1 && Number.isFinite(asked) ? Math.floor(asked) : 0;
  let ttlSeconds = requested === 0 ? entry.defaultTtl : requested;
  let ttlCapped = false;
  if (ttlSeconds > entry.maxTtl) {
    if (entry.ttlOverMax === 'deny') return { rule, reason: 'TTL_ABOVE_MAX', message: `requested TTL ${requested}s is above the maximum ${entry.maxTtl}s of rule "${rule}" for ${kind}` };
    ttlSeconds = entry.maxTtl;
    ttlCapped = true;
  }
  const granted: GrantedCredential = {
    request,
    kind,
    scopes,
    ttlSeconds,
    ttlCapped,
    passClaims: passClaims(entry.passClaims, identity.claims),
    options: entry.options,
    ...(audience !== undefined ? { audience: audience as string } : {}),
    ...(target !== undefined ? { target: target as string } : {}),
  };
  return granted;
}

/** The denial reasons and wording of a request field an allow entry pins (audience, target). */
const PINNED = {
  audience: { notAllowed: 'AUDIENCE_NOT_ALLOWED', required: 'AUDIENCE_REQUIRED', a: 'an audience' },
  target: { notAllowed: 'TARGET_NOT_ALLOWED', required: 'TARGET_REQUIRED', a: 'a target' },
} as const;

/**
 * Check a requested audience or target against the entry's test: a value needs a test that
 * accepts it, and an entry with a test requires a value. Undefined when the request passes.
 */
function checkPinned(field: keyof typeof PINNED, value: unknown, test: ((v: string) => boolean) | undefined, rule: string, kind: string): Denial | undefined {
  const p = PINNED[field];
  if (value === undefined) return test ? { rule, reason: p.required, message: `${kind} requires ${p.a}` } : undefined;
  if (!test) return { rule, reason: p.notAllowed, message: `rule "${rule}" allows ${kind} with no ${field}, got ${quote(value)}` };
  if (typeof value !== 'string' || !test(value)) return { rule, reason: p.notAllowed, message: `rule "${rule}" does not allow ${field} ${quote(value)} for ${kind}` };
  return undefined;
}

function present(v: unknown): unknown {
  return v === undefined || v === null || v === '' ? undefined : v;
}

function passClaims(names: readonly string[], claims: Readonly<Record<string, ClaimValue>>): Readonly<Record<string, ClaimValue>> {
  if (names.length === 0 || typeof claims !== 'object' || claims === null) return EMPTY_CLAIMS;
  const out: Record<string, ClaimValue> = {};
  for (const name of names) {
    if (hasOwn.call(claims, name)) out[name] = claims[name] as ClaimValue;
  }
  return out;
}

const EMPTY_CLAIMS: Readonly<Record<string, ClaimValue>> = Object.freeze({});

/**
 * The NO_RULE_MATCHED denial, with the failed conditions of the nearest rule: the one with most
 * conditions satisfied (first in order on a tie) among at most NEAREST_SCAN_LIMIT candidates, so
 * that a denial costs no more than a bounded number of rule evaluations. Candidates are the
 * rules the index kept for the identity (same attestor kind and issuer, and the identity's value
 * of the split field or no pin on it), else all rules of that attestor kind and issuer, else of
 * that attestor kind, else all rules.
 */
function noRuleMatched(rules: readonly CompiledRule[], identity: WorkloadIdentity): Decision {
  const limit = Math.min(rules.length, NEAREST_SCAN_LIMIT);
  let bestRule: CompiledRule | undefined;
  let bestScore = -1;
  for (let k = 0; k < limit; k++) {
    const rule = rules[k] as CompiledRule;
    const scoring = rule.scoring;
    // A rule can only become the nearest by beating bestScore: stop once it cannot.
    let misses = scoring.length - bestScore - 1;
    if (misses < 0) continue;
    let score = 0;
    for (let n = 0; n < scoring.length; n++) {
      if (conditionHolds(scoring[n] as CompiledCondition, identity)) score++;
      else if (--misses < 0) break;
    }
    if (score > bestScore) {
      bestScore = score;
      bestRule = rule;
    }
  }
  if (!bestRule) return { outcome: 'deny', rule: null, reason: 'NO_RULE_MATCHED', message: 'no rule matched: the policy has no rules', failed: EMPTY };
  const failed: FailedCondition[] = [];
  for (const c of bestRule.conditions) {
    const value = readCondition(c, identity);
    if (!matches(c.matcher, value)) failed.push({ field: c.field, expected: c.expected, actual: describeValue(value) });
  }
  if (identity.legacy && !bestRule.allowLegacyTokens) failed.push({ field: 'legacy', expected: 'allowLegacyTokens: true', actual: 'legacy token' });
  return {
    outcome: 'deny',
    rule: null,
    reason: 'NO_RULE_MATCHED',
    message: `no rule matched; nearest rule "${bestRule.name}" failed on ${failed.map((f) => f.field).join(', ')}`,
    nearestRule: bestRule.name,
    failed,
  };
}

function quote(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v);
  return describeValue(v);
}
