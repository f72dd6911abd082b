/**
 * Compiling a policy: parse, validate, precompile. The result decides exchanges with no
 * parsing, compiling or I/O per call.
 */
import type { WorkloadIdentity } from '../attestation/attestor.js';
import { ConfigError } from '../errors.js';
import { sha256Hex } from '../fingerprint.js';
import type { CredentialRequest, Decision, DecideOptions, PolicyEngine, RequestContext } from './decision.js';
import { evaluate } from './evaluate.js';
import { indexRules, type RuleIndex } from './rule_index.js';
import type { MatcherSpec, PatternSpec } from './matcher.js';
import { compileRule } from './rule.js';
import { policySchema, type PolicySpec } from './schema.js';
import { formatPath, locateIssues, parseSource, policyError, type PolicyProblem, type PolicyDocument } from './source.js';

/** Options of compilePolicy. */
export interface CompileOptions {
  /** File name for error messages. */
  readonly filename?: string;
  /** Global cap on any granted TTL, in seconds (config `credentials.maxTtl`). */
  readonly maxTtlSeconds: number;
}

/** One allow entry as the Admin API shows it; TTLs are effective seconds (within the global cap). */
export interface PolicyAllowInfo {
  readonly kind: string;
  readonly audiences?: readonly PatternSpec[];
  readonly targets?: readonly PatternSpec[];
  readonly scopes?: readonly string[];
  readonly ttl: { readonly default: number; readonly max: number };
  readonly passClaims: readonly string[];
  readonly options: Readonly<Record<string, unknown>>;
}

/** One rule as the Admin API shows it (plain JSON data, frozen). */
export interface PolicyRuleInfo {
  readonly name: string;
  readonly description?: string;
  /** Position in the rules list (0-based) and line of the rule in the file. */
  readonly index: number;
  readonly line: number;
  readonly match: {
    readonly attestor: string;
    readonly attestorName?: string;
    readonly issuer: string;
    readonly identity?: PatternSpec;
    readonly claims: Readonly<Record<string, MatcherSpec>>;
  };
  readonly allowLegacyTokens: boolean;
  /** The CEL condition, if any. */
  readonly condition?: string;
  /** `shadow` rules are only part of the candidate policy (see CompiledPolicy.candidate). */
  readonly mode: 'enforce' | 'shadow';
  /** Effective behaviour above the maximum TTL (rule override or policy default). */
  readonly ttlOverMax: 'cap' | 'deny';
  readonly allow: readonly PolicyAllowInfo[];
}

/** A compiled policy: the PolicyEngine the pipeline uses, plus what the Admin API shows. */
export class CompiledPolicy implements PolicyEngine {
  /** Rule names in order. */
  readonly ruleNames: readonly string[];
  /** SHA-256 (hex) of the policy source. */
  readonly digest: string;
  /** The rules, normalized, for "show the loaded policy". */
  readonly rules: readonly PolicyRuleInfo[];
  /** Every credential kind some rule allows (check against the provider registry at startup). */
  readonly credentialKinds: readonly string[];
  /** Non-fatal findings, e.g. a rule TTL above the global cap (it is capped). */
  readonly warnings: readonly PolicyProblem[];
  /** The file it was loaded from, if any. */
  readonly filename: string | undefined;
  /** The global TTL cap it was compiled with, in seconds. */
  readonly maxTtlSeconds: number;
  /**
   * When the file marks rules `mode: shadow`: the candidate policy made of every rule (enforced
   * and shadow, in file order), evaluated beside this one on live traffic and never enforced.
   */
  readonly candidate: CompiledPolicy | undefined;
  readonly #index: RuleIndex;

  /** Use compilePolicy or loadPolicyFile. */
  constructor(init: { index: RuleIndex; digest: string; rules: readonly PolicyRuleInfo[]; warnings: readonly PolicyProblem[]; filename: string | undefined; maxTtlSeconds: number; candidate?: CompiledPolicy }) {
    this.#index = init.index;
    this.candidate = init.candidate;
    this.digest = init.digest;
    this.rules = init.rules;
    this.ruleNames = Object.freeze(init.rules.filter((r) => r.mode === 'enforce').map((r) => r.name));
    this.credentialKinds = Object.freeze([...new Set(init.rules.flatMap((r) => r.allow.map((a) => a.kind)))]);
    this.warnings = init.warnings;
    this.filename = init.filename;
    this.maxTtlSeconds = init.maxTtlSeconds;
  }

  /** Decide one exchange: pure, never throws; `now` (epoch seconds) and `context` feed CEL conditions. */
  decide(identity: WorkloadIdentity, requests: readonly CredentialRequest[], now: number, context?: RequestContext, options?: DecideOptions): Decision {
    try {
      return evaluate(this.#index, identity, requests, now, context, options?.explain !== false);
    } catch {
      // Unreachable for well-formed input; a malformed identity must still yield a reasoned denial.
      return { outcome: 'deny', rule: null, reason: 'NO_RULE_MATCHED', message: 'no rule matched (malformed identity or request)' };
    }
  }
}

/** Parse, validate and compile a policy source; throws ConfigError ERR_POLICY_INVALID with path, line and column. */
export function compilePolicy(source: string, opts: CompileOptions): CompiledPolicy {
  const maxTtl = opts.maxTtlSeconds;
  if (!Number.isSafeInteger(maxTtl) || maxTtl < 1) {
    throw new ConfigError('ERR_CONFIG_INVALID', 'credentials.maxTtl', `global TTL cap must be a positive number of seconds, got ${String(maxTtl)}`);
  }
  const parsed = parseSource(source);
  if (!parsed.source) throw policyError(parsed.problems, opts.filename);
  const result = policySchema.safeParse(parsed.source.data);
  if (!result.success) throw policyError(locateIssues(parsed.source, result.error.issues), opts.filename);
  const spec = deepFreeze(result.data);
  const warnings = ttlWarnings(spec, parsed.source, maxTtl);
  const compiled = spec.rules.map((rule, i) => compileRule(rule, i, spec.defaults.ttlOverMax, maxTtl));
  const rules = deepFreeze(spec.rules.map((rule, i) => ruleInfo(spec, i, parsed.source as PolicyDocument, maxTtl, rule)));
  const digest = sha256Hex(source);
  const hasShadow = spec.rules.some((r) => r.mode === 'shadow');
  const candidate = hasShadow
    ? new CompiledPolicy({ index: indexRules(compiled), digest: `${digest}+shadow`, rules: rules.map((r) => ({ ...r, mode: 'enforce' as const })), warnings: Object.freeze(warnings), filename: opts.filename, maxTtlSeconds: maxTtl })
    : undefined;
  return new CompiledPolicy({
    index: indexRules(compiled.filter((_, i) => spec.rules[i]?.mode !== 'shadow')),
    digest,
    rules,
    warnings: Object.freeze(warnings),
    filename: opts.filename,
    maxTtlSeconds: maxTtl,
    ...(candidate ? { candidate } : {}),
  });
}

function ruleInfo(spec: PolicySpec, index: number, source: PolicyDocument, maxTtl: number, rule: PolicySpec['rules'][number]): PolicyRuleInfo {
  return {
    name: rule.name,
    ...(rule.description !== undefined ? { description: rule.description } : {}),
    index,
    line: source.locate(['rules', index]).line,
    match: rule.match,
    allowLegacyTokens: rule.allowLegacyTokens,
    ...(rule.condition !== undefined ? { condition: rule.condition } : {}),
    mode: rule.mode,
    ttlOverMax: rule.ttlOverMax ?? spec.defaults.ttlOverMax,
    allow: rule.allow.map((a) => {
      const max = Math.min(a.ttl.max, maxTtl);
      return { ...a, ttl: { default: Math.min(a.ttl.default, max), max } };
    }),
  };
}

function ttlWarnings(spec: PolicySpec, source: PolicyDocument, maxTtl: number): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  spec.rules.forEach((rule, i) => {
    rule.allow.forEach((a, j) => {
      if (a.ttl.max > maxTtl) {
        const path = ['rules', i, 'allow', j, 'ttl', 'max'];
        out.push({ path: formatPath(path), ...source.locate(path), message: `maximum TTL ${a.ttl.max}s is above the service cap ${maxTtl}s; ${maxTtl}s applies` });
      }
    });
  });
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
