/**
 * Policy regular expressions: JavaScript syntax with the `u` flag, always anchored. A pattern
 * must start with `^` and end with an unescaped `$`; it is compiled as `^(?:pattern)$`, so a
 * top-level alternation such as `^a|b$` cannot leak out of the anchors. Inline modifiers such
 * as `(?i:...)` are refused: claims are compared byte-exact, never case-folded.
 */

/** Longest accepted pattern, in characters. */
export const MAX_REGEX_LENGTH = 1024;

/** Why a pattern is not acceptable, or null when it compiles and is anchored. */
export function regexProblem(source: string): string | null {
  if (source.length > MAX_REGEX_LENGTH) return `regex is longer than ${MAX_REGEX_LENGTH} characters`;
  if (!source.startsWith('^') || !endsWithUnescapedDollar(source)) {
    return 'regex must be anchored: start with "^" and end with "$"';
  }
  if (hasInlineModifier(source)) return 'inline modifiers such as (?i:...) are not allowed: claims are compared byte-exact';
  try {
    new RegExp(source, 'u');
  } catch (e) {
    return `invalid regex: ${(e as Error).message}`;
  }
  return null;
}

/** Compile an accepted pattern (see regexProblem) once, wrapped in its own anchors. */
export function compileRegex(source: string): RegExp {
  return new RegExp(`^(?:${source})$`, 'u');
}

/** True when the pattern ends with a `$` that is not escaped. */
export function endsWithUnescapedDollar(source: string): boolean {
  if (!source.endsWith('$')) return false;
  let backslashes = 0;
  for (let i = source.length - 2; i >= 0 && source[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}

/** True when the pattern contains a group starting `(?` followed by a flag letter, outside classes. */
function hasInlineModifier(source: string): boolean {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '(' && source[i + 1] === '?' && /^[a-zA-Z-]$/.test(source[i + 2] ?? '')) {
      return true;
    }
  }
  return false;
}
