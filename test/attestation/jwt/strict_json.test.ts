/** The strict JSON scanner: agrees with JSON.parse, refuses duplicates, depth and overflow. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStrictJson, StrictJsonError } from '../../../src/attestation/jwt/strict_json.js';

const failure = (text: string, maxDepth?: number): StrictJsonError => {
  try {
    parseStrictJson(text, maxDepth);
  } catch (err) {
    if (err instanceof StrictJsonError) return err;
    throw err;
  }
  throw new Error(`accepted ${text}`);
};

describe('parseStrictJson', () => {
  it('agrees with JSON.parse on any JSON without duplicate members', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const text = JSON.stringify(value);
        expect(parseStrictJson(text, 64)).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with JSON.parse on pretty-printed JSON and on escapes', () => {
    const value = { a: [1, -2.5e-3, true, false, null, 'x"\\/\b\f\n\r\t\u0001é😀'], b: { c: {} }, d: [] };
    const text = JSON.stringify(value, null, 2);
    expect(parseStrictJson(text)).toEqual(JSON.parse(text));
    expect(parseStrictJson('"\\u00e9\\ud83d\\ude00"')).toBe('é😀');
  });

  it('refuses whatever JSON.parse refuses', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        let jsonOk = true;
        try {
          JSON.parse(text);
        } catch {
          jsonOk = false;
        }
        if (!jsonOk) expect(() => parseStrictJson(text)).toThrow(StrictJsonError);
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['{"a":1,"a":2}', 'a'],
    ['{"a":1,"\\u0061":2}', 'a'],
    ['{"x":{"a":1,"a":1}}', 'a'],
    ['[{"b":1},{"c":{"d":[{"e":1,"e":1}]}}]', 'e'],
    ['{"__proto__":1,"__proto__":2}', '__proto__'],
    ['{"":1,"":2}', ''],
  ])('refuses duplicate members in %s', (text, member) => {
    expect(failure(text)).toMatchObject({ reason: 'duplicate_member', member });
  });

  it('allows the same name in sibling objects', () => {
    expect(parseStrictJson('[{"a":1},{"a":2}]')).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('keeps __proto__ as an own member, never as the prototype', () => {
    const value = parseStrictJson('{"__proto__":{"admin":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, '__proto__')).toBe(true);
    expect((value as { admin?: unknown }).admin).toBeUndefined();
  });

  it('caps nesting depth', () => {
    expect(parseStrictJson('[[[]]]', 3)).toEqual([[[]]]);
    expect(failure('[[[[]]]]', 3).reason).toBe('too_deep');
    expect(failure('['.repeat(100000) + ']'.repeat(100000)).reason).toBe('too_deep');
  });

  it('refuses numbers that overflow to Infinity', () => {
    expect(failure('{"exp":1e400}').reason).toBe('number_range');
    expect(parseStrictJson('1e308')).toBe(1e308);
  });

  it.each(['', ' ', '{', '{"a"}', '{"a":}', '[1,]', '01', '1.', '.5', '+1', 'tru', 'nul', '"\u0001"', '"\\x"', '"\\u12"', '{"a":1}x', '\uFEFF{}', "{'a':1}", 'NaN', 'Infinity'])(
    'refuses %j',
    (text) => {
      expect(failure(text).reason).toBe('syntax');
    },
  );
});
