/**
 * Policy globs: `*` matches any run of characters except `/`, `**` any run including `/`, `?`
 * exactly one character (code point) except `/`, and `\` escapes the next character. Everything
 * else is literal and compared code unit for code unit: no case folding, no normalization, no
 * character classes or braces.
 */

const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/;

/** Why a glob is invalid, or null when it is valid. */
export function globProblem(glob: string): string | null {
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\') {
      if (i === glob.length - 1) return 'a glob may not end with a lone "\\"';
      i++;
    } else if (c === '*' && glob[i + 1] === '*' && glob[i + 2] === '*') {
      return '"***" is ambiguous: use "*" (within a path segment) or "**" (across "/")';
    }
  }
  return null;
}

/** How a glob is tested: a plain string operation on `str`, or the RegExp form. */
export type GlobPlan =
  | { readonly op: 'equal' | 'prefix' | 'prefix-any' | 'suffix' | 'suffix-any' | 'no-slash' | 'any'; readonly str: string }
  | { readonly op: 'regex'; readonly re: RegExp };

/**
 * Plan a valid glob. Common shapes (a literal, `prefix*`, `prefix**`, `*suffix`, `**suffix`,
 * `*`, `**`) become plain string operations; the rest the anchored RegExp. Both give the same
 * answers (literals with surrogates always take the RegExp path, which reads code points).
 */
export function planGlob(glob: string): GlobPlan {
  return fastPath(tokenize(glob)) ?? { op: 'regex', re: globToRegExp(glob) };
}

/** Run a glob plan on a string. */
export function runGlob(plan: GlobPlan, s: string): boolean {
  switch (plan.op) {
    case 'equal': return s === plan.str;
    case 'prefix': return s.startsWith(plan.str) && s.indexOf('/', plan.str.length) === -1;
    case 'prefix-any': return s.startsWith(plan.str);
    case 'suffix': {
      const cut = s.length - plan.str.length;
      if (cut < 0 || !s.endsWith(plan.str)) return false;
      const slash = s.indexOf('/');
      return slash === -1 || slash >= cut;
    }
    case 'suffix-any': return s.endsWith(plan.str);
    case 'no-slash': return s.indexOf('/') === -1;
    case 'any': return true;
    case 'regex': return plan.re.test(s);
  }
}

/** Compile a valid glob to a test. */
export function compileGlob(glob: string): (value: string) => boolean {
  const plan = planGlob(glob);
  return (s) => runGlob(plan, s);
}

type Token = { readonly wild: '*' | '**' | '?' } | { readonly lit: string };

function fastPath(tokens: readonly Token[]): GlobPlan | undefined {
  for (const t of tokens) {
    if ('wild' in t ? t.wild === '?' : /[\uD800-\uDFFF]/.test(t.lit)) return undefined;
  }
  const [a, b] = tokens;
  if (tokens.length === 0) return { op: 'equal', str: '' };
  if (tokens.length === 1 && a) {
    if ('lit' in a) return { op: 'equal', str: a.lit };
    return { op: a.wild === '**' ? 'any' : 'no-slash', str: '' };
  }
  if (tokens.length !== 2 || !a || !b) return undefined;
  if ('lit' in a && 'wild' in b) return { op: b.wild === '**' ? 'prefix-any' : 'prefix', str: a.lit };
  if ('wild' in a && 'lit' in b) return { op: a.wild === '**' ? 'suffix-any' : 'suffix', str: b.lit };
  return undefined;
}

/** Split a valid glob into unescaped literal runs and wildcards. */
function tokenize(glob: string): Token[] {
  const out: Token[] = [];
  let lit = '';
  const flush = (): void => {
    if (lit) out.push({ lit });
    lit = '';
  };
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '\\') {
      lit += glob[++i] ?? '';
    } else if (c === '*' && glob[i + 1] === '*') {
      flush();
      out.push({ wild: '**' });
      i++;
    } else if (c === '*' || c === '?') {
      flush();
      out.push({ wild: c });
    } else {
      lit += c;
    }
  }
  flush();
  return out;
}

/** Compile a valid glob to an anchored RegExp (the caller checked it with globProblem). */
export function globToRegExp(glob: string): RegExp {
  let out = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '\\') {
      const next = glob[++i] ?? '';
      out += escapeChar(next);
    } else if (c === '*') {
      if (glob[i + 1] === '*') {
        out += '[\\s\\S]*';
        i++;
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else {
      out += escapeChar(c);
    }
  }
  return new RegExp(`${out}$`, 'u');
}

function escapeChar(c: string): string {
  return REGEX_SYNTAX.test(c) ? `\\${c}` : c;
}
