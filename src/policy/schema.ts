/**
 * The policy file schema (version 1). Validation is strict: unknown keys, unanchored regexes,
 * duplicate rule names and impossible TTLs are errors. Matchers are normalized to explicit
 * forms (`{ exact }`, `{ glob }`, `{ regex }`, `{ oneOf }`) so compiled rules and the Admin
 * API's view of the policy never depend on YAML scalar typing.
 */
import { z } from 'zod';
import { parseDuration } from '../duration.js';
import { claimRefProblem } from '../identity/claims.js';
import { compileCondition, isConditionProblem } from './condition.js';
import { globProblem } from './glob.js';
import type { MatcherSpec, PatternSpec } from './matcher.js';
import { regexProblem } from './regex.js';
import { ATTESTOR_KIND_NAMES } from '../attestation/registry.js';

/** Attestor kinds a rule may name: the attestor registry's list. */
export const RULE_ATTESTOR_KINDS = ATTESTOR_KIND_NAMES;

/** Credential kinds that always carry an audience: their allow entries must list audiences. */
export const AUDIENCE_KINDS: ReadonlySet<string> = new Set(['stint-jwt']);

/** JWT registered claims a rule may not pass through: the issuer sets them itself. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

const RULE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const KIND_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MATCHER_KEYS = 'exact, glob, regex or oneOf';

type Ctx = z.RefinementCtx;

function issue(ctx: Ctx, path: (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', message, path });
}

/** A scalar to compare as a string: strings as they are, integers in canonical decimal form. */
function scalarString(v: unknown, ctx: Ctx, path: (string | number)[]): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return String(v);
    issue(ctx, path, 'only integers up to 2^53-1 compare as numbers; quote the value as a string');
    return undefined;
  }
  issue(ctx, path, `expected a string or an integer, got ${typeName(v)}`);
  return undefined;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isMapping(v)) return 'a mapping';
  if (typeof v === 'object') return `a YAML-tagged ${(v as object).constructor?.name ?? 'object'}`;
  return `a ${typeof v}`;
}

/** A plain YAML mapping (not a list, not a tagged value such as !!binary or !!set). */
function isMapping(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The pattern forms of a matcher: what a pattern must be, and the check of its syntax. */
const PATTERN_FORMS = {
  glob: { nonEmpty: true, problem: globProblem },
  regex: { nonEmpty: false, problem: regexProblem },
} as const;

/** A glob or regex matcher: a string (a glob's non-empty) whose syntax its form accepts. */
function parsePattern(form: keyof typeof PATTERN_FORMS, value: unknown, ctx: Ctx, path: (string | number)[]): MatcherSpec | undefined {
  const { nonEmpty, problem } = PATTERN_FORMS[form];
  if (typeof value !== 'string' || (nonEmpty && value.length === 0)) {
    issue(ctx, path, `${form} must be a ${nonEmpty ? 'non-empty ' : ''}string`);
    return undefined;
  }
  const found = problem(value);
  if (found) {
    issue(ctx, path, found);
    return undefined;
  }
  return form === 'glob' ? { glob: value } : { regex: value };
}

function parseMatcher(v: unknown, ctx: Ctx, allowClaimForms: boolean, base: (string | number)[] = []): MatcherSpec | undefined {
  const at = (...rest: (string | number)[]): (string | number)[] => [...base, ...rest];
  const forms = allowClaimForms ? MATCHER_KEYS : 'exact, glob or regex';
  if (typeof v === 'boolean') {
    if (allowClaimForms) return { exact: v };
    issue(ctx, at(), 'expected a string pattern, got a boolean');
    return undefined;
  }
  if (!isMapping(v)) {
    if (typeof v === 'string' || typeof v === 'number') {
      const s = scalarString(v, ctx, at());
      return s === undefined ? undefined : { exact: s };
    }
    issue(ctx, at(), `expected a string, an integer or a mapping with one of ${forms}, got ${typeName(v)}`);
    return undefined;
  }
  const keys = Object.keys(v);
  if (keys.length !== 1) {
    issue(ctx, at(), `a matcher has exactly one of ${forms}, got ${keys.length === 0 ? 'none' : keys.join(', ')}`);
    return undefined;
  }
  const key = keys[0] as string;
  const value = v[key];
  switch (key) {
    case 'exact': {
      if (typeof value === 'boolean' && allowClaimForms) return { exact: value };
      const s = scalarString(value, ctx, at('exact'));
      return s === undefined ? undefined : { exact: s };
    }
    case 'glob':
    case 'regex':
      return parsePattern(key, value, ctx, at(key));
    case 'oneOf': {
      if (!allowClaimForms) break;
      if (!Array.isArray(value) || value.length === 0) {
        issue(ctx, at('oneOf'), 'oneOf must be a non-empty list');
        return undefined;
      }
      const out: string[] = [];
      value.forEach((item, i) => {
        const s = scalarString(item, ctx, at('oneOf', i));
        if (s !== undefined) out.push(s);
      });
      return out.length === value.length ? { oneOf: out } : undefined;
    }
  }
  ctx.addIssue({ code: 'custom', message: `unknown matcher "${key}" (expected ${forms})`, path: at(key), params: { atKey: true } });
  return undefined;
}

/**
 * Claim conditions: claim reference to matcher. Parsed by hand (not z.record) so that no key,
 * not even `__proto__`, can be dropped silently and loosen a rule.
 */
export const claimsSchema = z.unknown().transform((v, ctx): Record<string, MatcherSpec> => {
  if (!isMapping(v)) {
    issue(ctx, [], `claims must be a mapping of claim name to matcher, got ${typeName(v)}`);
    return z.NEVER;
  }
  const out: Record<string, MatcherSpec> = {};
  let ok = true;
  for (const ref of Object.keys(v)) {
    const problem = claimRefProblem(ref);
    if (problem) {
      issue(ctx, [ref], problem);
      ok = false;
      continue;
    }
    const spec = parseMatcher(v[ref], ctx, true, [ref]);
    if (spec === undefined) ok = false;
    else Object.defineProperty(out, ref, { value: spec, enumerable: true, writable: true, configurable: true });
  }
  return ok ? out : z.NEVER;
});

/** A string pattern: `value`, `{ exact }`, `{ glob }` or `{ regex }`. */
export const patternSchema = z.unknown().transform((v, ctx): PatternSpec => (parseMatcher(v, ctx, false) as PatternSpec | undefined) ?? (z.NEVER as never));

/** A positive duration (`15m`, `1h`, or seconds), parsed to whole seconds. */
export const ttlDurationSchema = z.union([z.string(), z.number()]).transform((v, ctx): number => {
  try {
    const seconds = parseDuration(v);
    if (seconds >= 1) return seconds;
    ctx.addIssue({ code: 'custom', message: 'duration must be at least 1s' });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
  return z.NEVER;
});

const ttlOverMaxSchema = z.enum(['cap', 'deny']);

const claimNameSchema = z.string().min(1)
  .refine((s) => !s.startsWith('/') && s !== '__proto__', { message: 'passClaims names top-level claims only' })
  .refine((s) => !RESERVED_CLAIMS.has(s), { message: 'a registered JWT claim (iss, sub, aud, exp, nbf, iat, jti) cannot be passed through' });

/** One allow entry: a credential kind and what it may be issued for. */
export const allowSchema = z.strictObject({
  kind: z.string().regex(KIND_NAME, 'kind must match [a-z0-9][a-z0-9-]*'),
  audiences: z.array(patternSchema).min(1).optional(),
  targets: z.array(patternSchema).min(1).optional(),
  scopes: z.array(z.string().min(1)).min(1).optional(),
  ttl: z.strictObject({ default: ttlDurationSchema, max: ttlDurationSchema }),
  passClaims: z.array(claimNameSchema).default([]),
  options: z.record(z.string(), z.unknown()).default({}),
}).superRefine((entry, ctx) => {
  if (entry.ttl.default > entry.ttl.max) issue(ctx, ['ttl', 'default'], `default TTL (${entry.ttl.default}s) is above the maximum (${entry.ttl.max}s)`);
  if (AUDIENCE_KINDS.has(entry.kind) && !entry.audiences) issue(ctx, ['audiences'], `kind ${entry.kind} requires audiences: it is always issued for an audience`);
});

/** What a rule matches on. */
export const matchSchema = z.strictObject({
  attestor: z.enum(RULE_ATTESTOR_KINDS),
  attestorName: z.string().min(1).optional(),
  issuer: z.string().min(1),
  identity: patternSchema.optional(),
  claims: claimsSchema.default({}),
});

/** One rule. */
export const ruleSchema = z.strictObject({
  name: z.string().regex(RULE_NAME, 'rule name must match [a-z0-9-]+ (at most 63 characters, no leading or trailing "-")'),
  description: z.string().optional(),
  match: matchSchema,
  allowLegacyTokens: z.boolean().default(false),
  ttlOverMax: ttlOverMaxSchema.optional(),
  /** A CEL expression over claims, identity, request, context and time (see condition.ts). */
  condition: z.string().min(1, 'condition must be a non-empty CEL expression').optional(),
  /** `shadow`: evaluated beside the enforced rules on live traffic, never enforced. */
  mode: z.enum(['enforce', 'shadow']).default('enforce'),
  allow: z.array(allowSchema).min(1, 'a rule needs at least one allow entry'),
}).superRefine((rule, ctx) => {
  if (rule.condition === undefined) return;
  const compiled = compileCondition(rule.condition);
  if (isConditionProblem(compiled)) {
    issue(ctx, ['condition'], `rule "${rule.name}": condition does not compile at character ${compiled.offset + 1}: ${compiled.message}`);
  }
});

/** The whole policy file. */
export const policySchema = z.strictObject({
  version: z.literal(1, { error: 'unsupported policy version (expected 1)' }),
  defaults: z.strictObject({ ttlOverMax: ttlOverMaxSchema.default('cap') }).default({ ttlOverMax: 'cap' }),
  rules: z.array(ruleSchema).superRefine((rules, ctx) => {
    const seen = new Map<string, number>();
    rules.forEach((r, i) => {
      const first = seen.get(r.name);
      if (first !== undefined) issue(ctx, [i, 'name'], `duplicate rule name "${r.name}" (first used by rules[${first}])`);
      else seen.set(r.name, i);
    });
  }),
});

/** A validated policy file. */
export type PolicySpec = z.infer<typeof policySchema>;
/** A validated rule. */
export type RuleSpec = z.infer<typeof ruleSchema>;
/** A validated allow entry. */
export type AllowSpec = z.infer<typeof allowSchema>;
