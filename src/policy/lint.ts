/**
 * `stint policy lint`: findings beyond validity, each with a stable code, a severity, and the
 * file, line and column it is about. Errors fail the command; warnings only with --strict.
 */
import type { AttestorLintHints, AttestorPlugin } from '../attestation/attestor.js';
import { ATTESTORS } from '../attestation/registry.js';
import { ConfigError } from '../errors.js';
import { compilePolicy } from './compile.js';
import type { MatcherSpec, PatternSpec } from './matcher.js';
import { endsWithUnescapedDollar } from './regex.js';
import { policySchema, type AllowSpec, type RuleSpec } from './schema.js';
import { formatPath, parseSource, type PolicyDocument } from './source.js';

/** Lint codes: stable, never reused. */
export const LINT_CODES = {
  POL000: { name: 'policy-invalid', severity: 'error', summary: 'the policy does not validate' },
  POL001: { name: 'ci-unpinned-id', severity: 'warning', summary: 'a GitHub Actions rule pins no numeric repository_id or repository_owner_id' },
  POL002: { name: 'ci-any-owner', severity: 'error', summary: 'a GitHub Actions rule matches subjects across owners (wildcard owner, or no subject condition at all)' },
  POL003: { name: 'unrestricted-allow', severity: 'warning', summary: 'an allow entry restricts neither audience nor target' },
  POL004: { name: 'ttl-above-cap', severity: 'error', summary: 'a maximum TTL above the configured cap (credentials.maxTtl)' },
  POL005: { name: 'unreachable-rule', severity: 'error', summary: 'a rule that can never match: an earlier rule allows everything it allows' },
  POL006: { name: 'unknown-claim', severity: 'warning', summary: 'a claim the attestor kind never produces' },
  POL007: { name: 'regex-unanchored', severity: 'error', summary: 'a regex that is not anchored with ^ and $' },
  POL008: { name: 'regex-catastrophic', severity: 'error', summary: 'a regex with nested unbounded quantifiers (catastrophic backtracking)' },
  POL010: { name: 'ci-any-branch', severity: 'warning', summary: 'a GitHub Actions rule pins the repository but neither ref, environment nor the workflow (job_workflow_ref): any branch and any workflow of the repository can obtain the credential' },
  POL009: { name: 'cloud-scope-only', severity: 'warning', summary: 'a cloud attestor rule pins only an account, project or region: every workload in it matches' },
} as const;

/** A lint code. */
export type LintCode = keyof typeof LINT_CODES;

/** One finding. */
export interface LintFinding {
  readonly code: LintCode;
  readonly name: string;
  readonly severity: 'error' | 'warning';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The rule it is about, if any. */
  readonly rule: string | null;
  readonly path: string;
  readonly message: string;
}

/** Options of lintPolicy. */
export interface LintOptions {
  readonly filename?: string;
  /** The service's global TTL cap (credentials.maxTtl), in seconds. */
  readonly maxTtlSeconds: number;
}

/**
 * Claims each attestor kind yields, from the attestor registry (undefined: any, not checked, as for
 * oidc). An entry `prefix.*` stands for every claim named `prefix.<something>` (aws-iid `tags.*`).
 */
export const KNOWN_CLAIMS: Readonly<Record<string, ReadonlySet<string> | undefined>> = Object.fromEntries(
  ATTESTORS.map((p) => [p.kind, p.claims ? new Set<string>(p.claims) : undefined]),
);

/** Lint hints of each kind that has them (scope claims vs workload claims), from the registry. */
const LINT_HINTS: Readonly<Record<string, AttestorLintHints | undefined>> = Object.fromEntries(
  (ATTESTORS as readonly AttestorPlugin[]).map((p) => [p.kind, p.lint]),
);

/** True when `name` is in `set`, directly or through a `prefix.*` entry. */
function claimListed(set: ReadonlySet<string> | readonly string[], name: string): boolean {
  const list = [...set];
  if (list.includes(name)) return true;
  return list.some((e) => e.endsWith('.*') && name.startsWith(e.slice(0, -1)) && name.length > e.length - 1);
}

const GITHUB_SUBJECT_CLAIMS = ['sub', 'repository', 'repository_id', 'repository_owner', 'repository_owner_id', 'job_workflow_ref', 'workflow_ref'];

/** Lint a policy source. Never throws for bad input: an invalid policy is finding POL000. */
export function lintPolicy(text: string, opts: LintOptions): LintFinding[] {
  const file = opts.filename ?? '<policy>';
  const out: LintFinding[] = [];
  const add = (code: LintCode, at: { line: number; column: number }, path: string, rule: string | null, message: string): void => {
    out.push({ code, name: LINT_CODES[code].name, severity: LINT_CODES[code].severity, file, line: at.line, column: at.column, rule, path, message });
  };
  const parsed = parseSource(text);
  if (!parsed.source) {
    for (const p of parsed.problems) add('POL000', p, p.path, null, p.message);
    return sorted(out);
  }
  const source = parsed.source;
  const regexPaths = lintRegexes(source, add);
  try {
    compilePolicy(text, { filename: file, maxTtlSeconds: Math.max(opts.maxTtlSeconds, 1) });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const problems = ((e.details as { problems?: { path: string; line: number; column: number; message: string }[] }).problems ?? []);
    for (const p of problems) if (!regexPaths.has(p.path)) add('POL000', p, p.path, null, p.message);
    if (problems.length === 0) add('POL000', { line: 0, column: 0 }, e.path, null, e.message);
    return sorted(out);
  }
  const spec = policySchema.parse(source.data);
  spec.rules.forEach((rule, i) => lintRule(rule, i, spec.rules, source, opts.maxTtlSeconds, spec.defaults.ttlOverMax, add));
  return sorted(out);
}

type Add = (code: LintCode, at: { line: number; column: number }, path: string, rule: string | null, message: string) => void;

function sorted(findings: LintFinding[]): LintFinding[] {
  return findings.sort((a, b) => a.line - b.line || a.column - b.column || a.code.localeCompare(b.code));
}

/** Every `regex:` in the raw document, checked for anchors and nested quantifiers; returns their paths. */
function lintRegexes(source: PolicyDocument, add: Add): Set<string> {
  const paths = new Set<string>();
  const visit = (v: unknown, path: (string | number)[]): void => {
    if (Array.isArray(v)) return v.forEach((x, i) => visit(x, [...path, i]));
    if (typeof v !== 'object' || v === null) return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'regex' && typeof x === 'string') {
        const p = [...path, k];
        const rule = ruleNameAt(source.data, path);
        if (!x.startsWith('^') || !endsWithUnescapedDollar(x)) {
          add('POL007', source.locate(p), formatPath(p), rule, `regex ${JSON.stringify(x)} must start with ^ and end with $`);
          paths.add(formatPath(p));
        }
        const nested = catastrophic(x);
        if (nested) {
          add('POL008', source.locate(p), formatPath(p), rule, `regex ${JSON.stringify(x)} nests unbounded quantifiers (${nested}): it can backtrack exponentially`);
          paths.add(formatPath(p));
        }
      } else {
        visit(x, [...path, k]);
      }
    }
  };
  visit(source.data, []);
  return paths;
}

function ruleNameAt(data: unknown, path: readonly (string | number)[]): string | null {
  if (path[0] !== 'rules' || typeof path[1] !== 'number') return null;
  const rules = (data as { rules?: unknown[] }).rules;
  const name = (rules?.[path[1]] as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : null;
}

/**
 * A group holding an unbounded quantifier that is itself repeated without bound, such as
 * `(a+)+`, `(.*)*`, `(\w+\s?)*` or `(?:x*){2,}`: the text of the group, else null.
 */
export function catastrophic(re: string): string | null {
  const stack: { start: number; unbounded: boolean }[] = [];
  let inClass = false;
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push({ start: i, unbounded: false });
    else if (c === ')') {
      const group = stack.pop();
      if (!group) continue;
      const q = unboundedQuantifierAt(re, i + 1);
      if (group.unbounded && q) return re.slice(group.start, i + 1 + q);
      const top = stack[stack.length - 1];
      if (top && (group.unbounded || q)) top.unbounded = true;
    } else if (unboundedQuantifierAt(re, i)) {
      const top = stack[stack.length - 1];
      if (top) top.unbounded = true;
    }
  }
  return null;
}

/** Length of an unbounded quantifier (`*`, `+`, `{n,}`) starting at i, else 0. */
function unboundedQuantifierAt(re: string, i: number): number {
  const c = re[i];
  if (c === '*' || c === '+') return 1;
  if (c === '{') {
    const m = /^\{\d+,\}/.exec(re.slice(i));
    return m ? m[0].length : 0;
  }
  return 0;
}

function lintRule(rule: RuleSpec, i: number, rules: readonly RuleSpec[], source: PolicyDocument, maxTtl: number, defaultOverMax: 'cap' | 'deny', add: Add): void {
  const at = (...p: (string | number)[]): { line: number; column: number } => source.locate(['rules', i, ...p]);
  const path = (...p: (string | number)[]): string => formatPath(['rules', i, ...p]);
  const claims = rule.match.claims;
  if (rule.match.attestor === 'github-actions') {
    const pinned = ['repository_id', 'repository_owner_id'].some((k) => isExactish(claims[k]));
    if (!pinned) add('POL001', at('name'), path('match'), rule.name, `rule "${rule.name}" pins neither repository_id nor repository_owner_id: a deleted or renamed repository or owner can be re-registered by anyone`);
    const subjectClaims = GITHUB_SUBJECT_CLAIMS.filter((k) => claims[k] !== undefined);
    if (subjectClaims.length === 0 && rule.match.identity === undefined) {
      add('POL002', at('name'), path('match'), rule.name, `rule "${rule.name}" has no subject condition: it admits every repository on GitHub`);
    } else if (!isExactish(claims.repository_owner_id) && !isExactish(claims.repository_id)) {
      for (const k of ['sub', 'repository', 'repository_owner', 'job_workflow_ref', 'workflow_ref']) {
        const m = claims[k];
        if (m && ownerWildcard(k, m)) add('POL002', at('match', 'claims', k), path('match', 'claims', k), rule.name, `rule "${rule.name}" matches ${k} with a wildcard owner: any GitHub owner can match`);
      }
      if (rule.match.identity && ownerWildcard('identity', rule.match.identity)) add('POL002', at('match', 'identity'), path('match', 'identity'), rule.name, `rule "${rule.name}" matches the identity with a wildcard owner`);
    }
  }
  if (rule.match.attestor === 'github-actions') lintAnyBranch(rule, claims, at, path, add);
  lintCloudScope(rule, claims, at, path, add);
  rule.allow.forEach((a, j) => {
    if (unrestricted(a.audiences) && unrestricted(a.targets)) {
      add('POL003', at('allow', j), path('allow', j), rule.name, `rule "${rule.name}" allows ${a.kind} for any audience and target`);
    }
    if (a.ttl.max > maxTtl) add('POL004', at('allow', j, 'ttl', 'max'), path('allow', j, 'ttl', 'max'), rule.name, `maximum TTL ${a.ttl.max}s of rule "${rule.name}" is above the cap ${maxTtl}s`);
  });
  const shadowing = rules.slice(0, i).find((earlier) => covers(earlier, rule, defaultOverMax));
  if (shadowing) add('POL005', at('name'), path('name'), rule.name, `rule "${rule.name}" can never match: the earlier rule "${shadowing.name}" applies to every identity it does and allows everything it allows`);
  const known = KNOWN_CLAIMS[rule.match.attestor];
  if (known) {
    for (const ref of Object.keys(claims)) {
      const top = ref.startsWith('/') ? (ref.slice(1).split('/')[0] ?? '').replace(/~1/g, '/').replace(/~0/g, '~') : ref;
      if (!claimListed(known, top)) add('POL006', at('match', 'claims', ref), path('match', 'claims', ref), rule.name, `${rule.match.attestor} tokens never carry the claim ${JSON.stringify(ref)}: the condition can never hold`);
    }
    if (rule.condition) {
      for (const m of rule.condition.matchAll(/\bclaims\.([A-Za-z_][\w]*)|\bclaims\[\s*"([^"]+)"\s*\]/g)) {
        const name = m[1] ?? m[2] ?? '';
        if (!claimListed(known, name)) add('POL006', at('condition'), path('condition'), rule.name, `${rule.match.attestor} tokens never carry the claim ${JSON.stringify(name)} used in the condition`);
      }
    }
  }
}

/**
 * POL009: a rule of a kind with lint hints (cloud instance and role attestors) that pins no
 * workload claim, in `claims`, `identity` or its condition, admits every instance, role or service
 * account of the accounts or projects it names (or of every one, when it names none).
 */
function lintCloudScope(rule: RuleSpec, claims: Readonly<Record<string, MatcherSpec>>, at: (...p: (string | number)[]) => { line: number; column: number }, path: (...p: (string | number)[]) => string, add: Add): void {
  const hints = LINT_HINTS[rule.match.attestor];
  if (!hints || rule.match.identity !== undefined) return;
  const names = Object.keys(claims).map((ref) => (ref.startsWith('/') ? (ref.slice(1).split('/')[0] ?? '').replace(/~1/g, '/').replace(/~0/g, '~') : ref));
  const inCondition = rule.condition ? [...rule.condition.matchAll(/\bclaims\.([A-Za-z_][\w]*)|\bclaims\[\s*"([^"]+)"\s*\]/g)].map((m) => m[1] ?? m[2] ?? '') : [];
  if ([...names, ...inCondition].some((n) => claimListed(hints.workloadClaims, n))) return;
  const scope = names.filter((n) => claimListed(hints.scopeClaims, n));
  const pins = scope.length > 0 ? `pins only ${scope.join(', ')}` : 'pins no workload';
  add('POL009', at('name'), path('match'), rule.name, `${rule.match.attestor} rule "${rule.name}" ${pins}: every workload there matches; pin one of ${hints.workloadClaims.join(', ')}`);
}

function isExactish(m: MatcherSpec | undefined): boolean {
  if (!m) return false;
  if ('exact' in m) return typeof m.exact === 'string';
  return 'oneOf' in m;
}

/** True when the owner part of a GitHub subject-like matcher is a wildcard. */
function ownerWildcard(claim: string, m: MatcherSpec): boolean {
  if ('exact' in m || 'oneOf' in m) return false;
  let p = 'glob' in m ? m.glob : m.regex.replace(/^\^/, '');
  if (claim === 'sub') p = p.replace(/^repo:/, '');
  if (claim === 'identity') return false;
  const owner = claim === 'repository_owner' ? p : (p.split('/')[0] ?? p);
  return 'glob' in m ? /(?<!\\)[*?]/.test(owner) : /[.*+?[\]()|\\]/.test(owner);
}

function unrestricted(patterns: readonly PatternSpec[] | undefined): boolean {
  if (!patterns) return true;
  return patterns.some((p) => ('glob' in p && /^\*{1,2}$/.test(p.glob)) || ('regex' in p && /^\^\.[*+]\$$/.test(p.regex)));
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** True when `earlier` applies whenever `later` does and allows everything `later` allows. */
function covers(earlier: RuleSpec, later: RuleSpec, defaultOverMax: 'cap' | 'deny'): boolean {
  if (earlier.mode !== 'enforce' || later.mode !== 'enforce') return false;
  if (earlier.match.attestor !== later.match.attestor || earlier.match.issuer !== later.match.issuer) return false;
  if (earlier.condition !== undefined) return false;
  if (earlier.match.attestorName !== undefined && earlier.match.attestorName !== later.match.attestorName) return false;
  if (earlier.match.identity !== undefined && !same(earlier.match.identity, later.match.identity)) return false;
  if (later.allowLegacyTokens && !earlier.allowLegacyTokens) return false;
  for (const [ref, m] of Object.entries(earlier.match.claims)) if (!same(m, later.match.claims[ref])) return false;
  const earlierOverMax = earlier.ttlOverMax ?? defaultOverMax;
  return later.allow.every((l) => earlier.allow.some((e) => allowCovers(e, l, earlierOverMax)));
}

function allowCovers(e: AllowSpec, l: AllowSpec, overMax: 'cap' | 'deny'): boolean {
  if (e.kind !== l.kind) return false;
  if (!patternsCover(e.audiences, l.audiences) || !patternsCover(e.targets, l.targets)) return false;
  if (l.scopes && !l.scopes.every((s) => e.scopes?.includes(s))) return false;
  return overMax !== 'deny' || e.ttl.max >= l.ttl.max;
}

function patternsCover(e: readonly PatternSpec[] | undefined, l: readonly PatternSpec[] | undefined): boolean {
  if (!l) return !e;
  if (!e) return false;
  const have = new Set(e.map((p) => JSON.stringify(p)));
  return l.every((p) => have.has(JSON.stringify(p)));
}

/**
 * POL010: a GitHub Actions rule that names the repository but pins neither the ref, the
 * environment nor the workflow (job_workflow_ref): any branch and any workflow of the repository,
 * `pull_request_target` runs included, obtains the credential. A `sub` naming `:ref:` or
 * `:environment:`, or a condition reading one of those claims, counts as pinned.
 */
function lintAnyBranch(rule: RuleSpec, claims: RuleSpec['match']['claims'], at: (...p: (string | number)[]) => { line: number; column: number }, path: (...p: (string | number)[]) => string, add: Add): void {
  const named = (k: string): boolean => claims[k] !== undefined;
  const pinsRepository = ['repository', 'repository_id', 'sub'].some(named) || rule.match.identity !== undefined;
  if (!pinsRepository) return;
  const subPinsRun = [claims.sub, rule.match.identity].some((m) => m !== undefined && /:(ref|environment):/.test(JSON.stringify(m)));
  const conditionPinsRun = /\bclaims\.(ref|environment|job_workflow_ref)\b|claims\[\s*"(ref|environment|job_workflow_ref)"\s*\]/.test(rule.condition ?? '');
  if (['ref', 'environment', 'job_workflow_ref'].some(named) || subPinsRun || conditionPinsRun) return;
  add('POL010', at('name'), path('match'), rule.name, `rule "${rule.name}" pins the repository but neither ref, environment nor job_workflow_ref: any branch and any workflow of it (pull_request_target runs included) can obtain the credential`);
}
