/**
 * Compiled rules: every condition, pattern and set built once at load, so a decision only runs
 * precompiled tests over the identity and the requests.
 */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import { pointerSegments, propertyKey, readClaim, readPointer } from '../identity/claims.js';
import { compileCondition, isConditionProblem, type CompiledExpression } from './condition.js';
import { compileMatcher, compilePatternList, matches, type CompiledMatcher, type MatcherSpec } from './matcher.js';
import type { AllowSpec, RuleSpec } from './schema.js';
import { formatPath } from './source.js';

/** Where a condition reads its value: attestor, issuer, attestorName, identity id, a claim, a nested claim. */
export type ConditionSource = 0 | 1 | 2 | 3 | 4 | 5;

/** One match condition of a rule (plain data of one shape; see readCondition and conditionHolds). */
export interface CompiledCondition {
  /** What is read: `attestor`, `issuer`, `attestorName`, `identity` or `claims.<name>`. */
  readonly field: string;
  /** The expected value or pattern, human-readable. */
  readonly expected: string;
  readonly source: ConditionSource;
  /** The top-level claim name (source 4). */
  readonly name: string;
  /** JSON Pointer segments (source 5). */
  readonly pointer: readonly string[];
  readonly matcher: CompiledMatcher;
  /**
   * When set, the condition can only hold if the value's comparable string (see
   * comparableString) is one of these: the rule index uses it to skip rules without testing.
   */
  readonly values: readonly string[] | undefined;
  /** When set, the condition can only hold if the value's comparable string starts with this. */
  readonly prefix: string | undefined;
  /** Relative cost of the test; a rule tests its cheap conditions first. */
  readonly cost: number;
}

/** The value a condition looks at. */
export function readCondition(c: CompiledCondition, identity: WorkloadIdentity): unknown {
  switch (c.source) {
    case 0: return identity.attestor;
    case 1: return identity.issuer;
    case 2: return identity.attestorName;
    case 3: return identity.id;
    case 4: return readClaim(identity.claims, c.name);
    default: return readPointer(identity.claims, c.pointer);
  }
}

/** True when the condition holds for the identity. */
export function conditionHolds(c: CompiledCondition, identity: WorkloadIdentity): boolean {
  return matches(c.matcher, readCondition(c, identity));
}

/** One compiled allow entry. */
export interface CompiledAllow {
  readonly kind: string;
  /** Audience test; undefined when the entry takes no audience. */
  readonly audience: ((value: string) => boolean) | undefined;
  /** Target test; undefined when the entry takes no target. */
  readonly target: ((value: string) => boolean) | undefined;
  /** Allowed scopes; undefined when no scope may be requested. */
  readonly scopes: ReadonlySet<string> | undefined;
  /** Effective default and maximum TTL in seconds (already within the global cap). */
  readonly defaultTtl: number;
  readonly maxTtl: number;
  readonly ttlOverMax: 'cap' | 'deny';
  readonly passClaims: readonly string[];
  readonly options: Readonly<Record<string, unknown>>;
}

/** One compiled rule. */
export interface CompiledRule {
  readonly name: string;
  readonly index: number;
  readonly attestor: string;
  readonly issuer: string;
  /** Every condition in declared order, attestor and issuer first (for explaining denials). */
  readonly conditions: readonly CompiledCondition[];
  /** The same conditions, cheapest first (for scoring the nearest rule). */
  readonly scoring: readonly CompiledCondition[];
  /** Conditions beyond attestor and issuer (which the index already guarantees), cheapest first. */
  readonly body: readonly CompiledCondition[];
  readonly allowLegacyTokens: boolean;
  /** The CEL condition, compiled; undefined when the rule has none. */
  readonly condition: CompiledExpression | undefined;
  readonly allowByKind: ReadonlyMap<string, readonly CompiledAllow[]>;
  /** Allowed kinds, for messages. */
  readonly kinds: string;
}

/** Compile one validated rule; TTLs are clamped to `maxTtlSeconds`. */
export function compileRule(spec: RuleSpec, index: number, defaultOverMax: 'cap' | 'deny', maxTtlSeconds: number): CompiledRule {
  const head: CompiledCondition[] = [
    condition('attestor', 0, { exact: spec.match.attestor }),
    condition('issuer', 1, { exact: spec.match.issuer }),
  ];
  const body: CompiledCondition[] = [];
  if (spec.match.attestorName !== undefined) body.push(condition('attestorName', 2, { exact: spec.match.attestorName }));
  if (spec.match.identity !== undefined) body.push(condition('identity', 3, spec.match.identity));
  for (const [ref, matcher] of Object.entries(spec.match.claims)) {
    const pointer = pointerSegments(ref);
    body.push(condition(formatPath(['claims', ref]), pointer ? 5 : 4, matcher, propertyKey(ref), pointer));
  }
  const overMax = spec.ttlOverMax ?? defaultOverMax;
  const allowByKind = new Map<string, CompiledAllow[]>();
  for (const entry of spec.allow) {
    const list = allowByKind.get(entry.kind) ?? [];
    list.push(compileAllow(entry, overMax, maxTtlSeconds));
    allowByKind.set(entry.kind, list);
  }
  return {
    name: spec.name,
    index,
    attestor: spec.match.attestor,
    issuer: spec.match.issuer,
    conditions: [...head, ...body],
    scoring: [...head, ...body].sort((x, y) => x.cost - y.cost),
    body: [...body].sort((x, y) => x.cost - y.cost),
    allowLegacyTokens: spec.allowLegacyTokens,
    condition: compiledCondition(spec),
    allowByKind,
    kinds: [...allowByKind.keys()].join(', '),
  };
}

function compileAllow(entry: AllowSpec, ttlOverMax: 'cap' | 'deny', maxTtlSeconds: number): CompiledAllow {
  const maxTtl = Math.min(entry.ttl.max, maxTtlSeconds);
  return {
    kind: entry.kind,
    audience: entry.audiences ? compilePatternList(entry.audiences) : undefined,
    target: entry.targets ? compilePatternList(entry.targets) : undefined,
    scopes: entry.scopes ? new Set(entry.scopes) : undefined,
    defaultTtl: Math.min(entry.ttl.default, maxTtl),
    maxTtl,
    ttlOverMax,
    passClaims: entry.passClaims,
    options: entry.options,
  };
}

function condition(field: string, source: ConditionSource, spec: MatcherSpec, name = '', pointer: readonly string[] = []): CompiledCondition {
  const matcher = compileMatcher(spec);
  return { field, expected: matcher.describe, source, name, pointer, matcher, values: matcher.values, prefix: matcher.prefix, cost: matcher.cost };
}

function compiledCondition(spec: RuleSpec): CompiledExpression | undefined {
  if (spec.condition === undefined) return undefined;
  const c = compileCondition(spec.condition);
  // The schema refused expressions that do not compile; this only guards direct callers.
  if (isConditionProblem(c)) throw new Error(`rule "${spec.name}": condition does not compile: ${c.message}`);
  return c;
}
