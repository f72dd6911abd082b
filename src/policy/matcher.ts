/**
 * Matchers: the normalized forms a policy uses to compare a value (a claim, the identity, an
 * audience, a target) and their compiled form. A compiled matcher is plain data of one shape,
 * tested by one function, so that a decision over many rules stays monomorphic and cheap.
 */
import { planGlob, runGlob, type GlobPlan } from './glob.js';
import { compileRegex } from './regex.js';

/** A string pattern: exact (byte-exact), glob or anchored regex. */
export type PatternSpec = { readonly exact: string } | { readonly glob: string } | { readonly regex: string };

/** A claim matcher: a pattern, an exact boolean, or one of a list of exact strings. */
export type MatcherSpec = PatternSpec | { readonly exact: boolean } | { readonly oneOf: readonly string[] };

const NO_GLOB: GlobPlan = { op: 'any', str: '' };
const NO_RE = /$^/;

/** A compiled matcher. */
export interface CompiledMatcher {
  /** 0 exact string, 1 exact boolean, 2 one of, 3 glob, 4 regex. */
  readonly op: 0 | 1 | 2 | 3 | 4;
  readonly str: string;
  readonly bool: boolean;
  readonly set: ReadonlySet<string>;
  readonly glob: GlobPlan;
  readonly re: RegExp;
  /** Human-readable form for explainable denials, e.g. `glob "demo-*"`. */
  readonly describe: string;
  /** Relative cost of a test (0 exact or set lookup, 1 glob, 2 regex): cheap ones run first. */
  readonly cost: number;
  /** When set, the matcher can only match a value whose comparable string is one of these. */
  readonly values: readonly string[] | undefined;
  /** When set (non-empty), the matcher can only match a value starting with this literal prefix. */
  readonly prefix: string | undefined;
}

const EMPTY_SET: ReadonlySet<string> = new Set();

/** Compile a validated matcher. */
export function compileMatcher(spec: MatcherSpec): CompiledMatcher {
  const base = { op: 0 as CompiledMatcher['op'], str: '', bool: false, set: EMPTY_SET, glob: NO_GLOB, re: NO_RE, describe: '', cost: 0, values: undefined as readonly string[] | undefined, prefix: undefined as string | undefined };
  if ('exact' in spec) {
    if (typeof spec.exact === 'boolean') return { ...base, op: 1, bool: spec.exact, describe: String(spec.exact) };
    return { ...base, op: 0, str: spec.exact, describe: JSON.stringify(spec.exact), values: [spec.exact] };
  }
  if ('oneOf' in spec) return { ...base, op: 2, set: new Set(spec.oneOf), describe: `one of ${JSON.stringify(spec.oneOf)}`, values: spec.oneOf };
  if ('glob' in spec) {
    const glob = planGlob(spec.glob);
    return { ...base, op: 3, glob, describe: `glob ${JSON.stringify(spec.glob)}`, cost: 1, values: glob.op === 'equal' ? [glob.str] : undefined, prefix: globPrefix(spec.glob) };
  }
  return { ...base, op: 4, re: compileRegex(spec.regex), describe: `regex ${JSON.stringify(spec.regex)}`, cost: 2 };
}

/** The literal text before a glob's first wildcard (`\` escapes unescaped), or undefined when empty. */
export function globPrefix(glob: string): string | undefined {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' || c === '?') break;
    if (c === '\\') {
      i++;
      out += glob[i] ?? '';
    } else {
      out += c;
    }
  }
  return out.length > 0 ? out : undefined;
}

/**
 * True when the value matches; never throws, whatever the value. Strings compare as they are,
 * safe integers by their canonical decimal form; booleans only match `{ exact: true|false }`;
 * anything else (fractions, null, arrays, objects, missing) never matches.
 */
export function matches(m: CompiledMatcher, v: unknown): boolean {
  if (m.op === 1) return v === m.bool;
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) s = String(v);
  else return false;
  switch (m.op) {
    case 0: return s === m.str;
    case 2: return m.set.has(s);
    case 3: return runGlob(m.glob, s);
    default: return m.re.test(s);
  }
}

/** Compile a list of patterns into one test: true when any pattern matches the string. */
export function compilePatternList(specs: readonly PatternSpec[]): (value: string) => boolean {
  const exact = new Set<string>();
  const others: CompiledMatcher[] = [];
  for (const spec of specs) {
    if ('exact' in spec) exact.add(spec.exact);
    else others.push(compileMatcher(spec));
  }
  return (v) => {
    if (exact.has(v)) return true;
    for (const m of others) if (matches(m, v)) return true;
    return false;
  };
}
