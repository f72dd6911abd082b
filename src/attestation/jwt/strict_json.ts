/**
 * A strict JSON parser (RFC 8259) for untrusted token segments. Unlike JSON.parse it refuses
 * duplicate member names at any depth (parsers disagree on which one wins), caps nesting depth,
 * and refuses numbers that overflow to Infinity. On success the value equals JSON.parse's.
 */

/** Why a text was refused by {@link parseStrictJson}. */
export type StrictJsonFailure = 'syntax' | 'too_deep' | 'duplicate_member' | 'number_range';

/** Thrown by {@link parseStrictJson}; `member` names the duplicated member when there is one. */
export class StrictJsonError extends Error {
  readonly reason: StrictJsonFailure;
  readonly member: string | undefined;
  constructor(reason: StrictJsonFailure, member?: string) {
    super(`strict JSON: ${reason}`);
    this.name = 'StrictJsonError';
    this.reason = reason;
    this.member = member;
  }
}

/** Default nesting cap: objects and arrays deeper than this are refused. */
export const DEFAULT_MAX_DEPTH = 32;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// A string without escapes or control characters: the common case, matched natively.
// eslint-disable-next-line no-control-regex -- control characters are exactly what it excludes
const PLAIN_STRING = /"([^"\\\u0000-\u001f]*)"/y;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Parse `text` as JSON, refusing duplicate member names and nesting beyond `maxDepth`. */
export function parseStrictJson(text: string, maxDepth: number = DEFAULT_MAX_DEPTH): unknown {
  let pos = 0;

  const fail = (reason: StrictJsonFailure, member?: string): never => {
    throw new StrictJsonError(reason, member);
  };

  const skipWhitespace = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else return;
    }
  };

  const parseString = (): string => {
    // Called with text[pos] === '"'.
    PLAIN_STRING.lastIndex = pos;
    const plain = PLAIN_STRING.exec(text);
    if (plain) {
      pos = PLAIN_STRING.lastIndex;
      return plain[1] as string;
    }
    pos++;
    let out = '';
    let start = pos;
    for (;;) {
      if (pos >= text.length) return fail('syntax');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(start, pos);
        pos++;
        return out;
      }
      if (c < 0x20) return fail('syntax');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(start, pos);
      const e = text[pos + 1];
      if (e === undefined) return fail('syntax');
      if (e === 'u') {
        const hex = text.slice(pos + 2, pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) return fail('syntax');
        out += String.fromCharCode(parseInt(hex, 16));
        pos += 6;
      } else {
        const decoded = ESCAPES[e];
        if (decoded === undefined) return fail('syntax');
        out += decoded;
        pos += 2;
      }
      start = pos;
    }
  };

  const parseValue = (depth: number): unknown => {
    skipWhitespace();
    const c = text[pos];
    switch (c) {
      case '{': {
        if (depth >= maxDepth) return fail('too_deep');
        pos++;
        const obj: Record<string, unknown> = {};
        const seen = new Set<string>();
        skipWhitespace();
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        for (;;) {
          skipWhitespace();
          if (text[pos] !== '"') return fail('syntax');
          const key = parseString();
          if (seen.has(key)) return fail('duplicate_member', key);
          seen.add(key);
          skipWhitespace();
          if (text[pos] !== ':') return fail('syntax');
          pos++;
          const value = parseValue(depth + 1);
          if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
          else obj[key] = value;
          skipWhitespace();
          const sep = text[pos];
          pos++;
          if (sep === '}') return obj;
          if (sep !== ',') return fail('syntax');
        }
      }
      case '[': {
        if (depth >= maxDepth) return fail('too_deep');
        pos++;
        const arr: unknown[] = [];
        skipWhitespace();
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        for (;;) {
          arr.push(parseValue(depth + 1));
          skipWhitespace();
          const sep = text[pos];
          pos++;
          if (sep === ']') return arr;
          if (sep !== ',') return fail('syntax');
        }
      }
      case '"':
        return parseString();
      case 't':
        return literal('true', true);
      case 'f':
        return literal('false', false);
      case 'n':
        return literal('null', null);
      default: {
        NUMBER.lastIndex = pos;
        const m = NUMBER.exec(text);
        if (!m) return fail('syntax');
        pos += m[0].length;
        const n = Number(m[0]);
        if (!Number.isFinite(n)) return fail('number_range');
        return n;
      }
    }
  };

  const literal = <T>(word: string, value: T): T => {
    if (!text.startsWith(word, pos)) return fail('syntax');
    pos += word.length;
    return value;
  };

  const value = parseValue(0);
  skipWhitespace();
  if (pos !== text.length) fail('syntax');
  return value;
}
