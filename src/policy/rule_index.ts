/**
 * The lookup index of compiled rules, built once per policy load: by attestor kind, then issuer
 * (byte-exact), and within a bucket split by a field many rules pin exactly, or by the literal
 * prefix of globs. Evaluation (evaluate.ts) reads it; nothing here decides anything.
 */
import type { CompiledCondition, CompiledRule } from './rule.js';

const EMPTY: readonly never[] = Object.freeze([] as never[]);

/**
 * The rules of one attestor kind and issuer, in policy order. When several of them pin the same
 * field to exact values (typically `claims.namespace`), they are also split by that value, so a
 * decision only tests the rules that pin the identity's value plus those that do not pin it.
 */
export interface RuleBucket {
  readonly rules: readonly CompiledRule[];
  readonly split?: {
    readonly field: string;
    /** A condition on the split field, to read the identity's value with. */
    readonly reader: CompiledCondition;
    readonly byValue: ReadonlyMap<string, readonly CompiledRule[]>;
    readonly rest: readonly CompiledRule[];
  };
  /**
   * When no field is pinned exactly often enough but one is matched by globs with a literal
   * prefix (`ns-12-*`): the rules by that prefix, the distinct prefix lengths, and the rest.
   */
  readonly prefixSplit?: {
    readonly field: string;
    readonly reader: CompiledCondition;
    readonly byPrefix: ReadonlyMap<string, readonly CompiledRule[]>;
    readonly lengths: readonly number[];
    readonly rest: readonly CompiledRule[];
  };
}

/** Rules grouped for lookup: attestor kind, then issuer (byte-exact), in policy order. */
export interface RuleIndex {
  readonly all: readonly CompiledRule[];
  readonly byAttestor: ReadonlyMap<string, readonly CompiledRule[]>;
  readonly byAttestorIssuer: ReadonlyMap<string, ReadonlyMap<string, RuleBucket>>;
}

/** Smallest number of rules pinning one field for a bucket to be split by it. */
const MIN_SPLIT = 4;

/** Build the lookup index of compiled rules. */
export function indexRules(rules: readonly CompiledRule[]): RuleIndex {
  const byAttestor = new Map<string, CompiledRule[]>();
  const grouped = new Map<string, Map<string, CompiledRule[]>>();
  for (const rule of rules) {
    push(byAttestor, rule.attestor, rule);
    let issuers = grouped.get(rule.attestor);
    if (!issuers) grouped.set(rule.attestor, (issuers = new Map()));
    push(issuers, rule.issuer, rule);
  }
  const byAttestorIssuer = new Map<string, Map<string, RuleBucket>>();
  for (const [attestor, issuers] of grouped) {
    const buckets = new Map<string, RuleBucket>();
    for (const [issuer, list] of issuers) buckets.set(issuer, bucketOf(list));
    byAttestorIssuer.set(attestor, buckets);
  }
  return { all: rules, byAttestor, byAttestorIssuer };
}

/** The field most rules have a `usable` condition on, if at least MIN_SPLIT do (the first such field on a tie). */
function splitField(rules: readonly CompiledRule[], usable: (c: CompiledCondition) => boolean): string | undefined {
  const counts = new Map<string, number>();
  for (const rule of rules) for (const c of rule.body) if (usable(c)) counts.set(c.field, (counts.get(c.field) ?? 0) + 1);
  let field: string | undefined;
  let best = MIN_SPLIT - 1;
  for (const [f, n] of counts) {
    if (n > best) {
      best = n;
      field = f;
    }
  }
  return field;
}

function bucketOf(rules: readonly CompiledRule[]): RuleBucket {
  const field = splitField(rules, (c) => c.values !== undefined);
  if (field === undefined) return prefixBucketOf(rules);
  const byValue = new Map<string, CompiledRule[]>();
  const rest: CompiledRule[] = [];
  let reader: CompiledCondition | undefined;
  for (const rule of rules) {
    const c = rule.body.find((x) => x.field === field && x.values);
    if (!c?.values) {
      rest.push(rule);
      continue;
    }
    reader ??= c;
    for (const v of new Set(c.values)) push(byValue, v, rule);
  }
  return { rules, split: { field, reader: reader as CompiledCondition, byValue, rest } };
}

function prefixBucketOf(rules: readonly CompiledRule[]): RuleBucket {
  const field = splitField(rules, (c) => c.prefix !== undefined);
  if (field === undefined) return { rules };
  const byPrefix = new Map<string, CompiledRule[]>();
  const rest: CompiledRule[] = [];
  const lengths = new Set<number>();
  let reader: CompiledCondition | undefined;
  for (const rule of rules) {
    // The longest prefix among the rule's conditions on the field: all of them must hold.
    let c: CompiledCondition | undefined;
    for (const x of rule.body) if (x.field === field && x.prefix !== undefined && (!c || x.prefix.length > (c.prefix as string).length)) c = x;
    if (!c?.prefix) {
      rest.push(rule);
      continue;
    }
    reader ??= c;
    lengths.add(c.prefix.length);
    push(byPrefix, c.prefix, rule);
  }
  return { rules, prefixSplit: { field, reader: reader as CompiledCondition, byPrefix, lengths: [...lengths].sort((x, y) => x - y), rest } };
}

/** The rules whose literal prefix the value starts with, in policy order. */
export function byPrefixOf(split: NonNullable<RuleBucket['prefixSplit']>, value: string | undefined): readonly CompiledRule[] {
  if (value === undefined) return EMPTY;
  let found: readonly CompiledRule[] | undefined;
  let more: CompiledRule[] | undefined;
  for (const n of split.lengths) {
    if (n > value.length) break;
    const list = split.byPrefix.get(value.slice(0, n));
    if (!list) continue;
    if (!found) found = list;
    else (more ??= [...found]).push(...list);
  }
  if (more) return more.sort((x, y) => x.index - y.index);
  return found ?? EMPTY;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
