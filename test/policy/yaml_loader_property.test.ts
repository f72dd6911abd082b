/**
 * Properties of the policy YAML loader (compilePolicy: parse, validate, compile), a parser of
 * outside input: arbitrary text, YAML of arbitrary data, deep nesting, alias bombs and huge
 * scalars either compile or fail with a typed ConfigError (ERR_POLICY_INVALID) located in the
 * source; nothing else is thrown and nothing runs unbounded. Bounded runs, in `npm test`.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { compilePolicy } from '../../src/policy/index.js';

const RUNS = { numRuns: 150, seed: 14 } as const;

const VALID = `version: 1
rules:
  - name: payments
    match:
      attestor: kubernetes
      issuer: https://k8s.example
      claims: { namespace: payments, /kubernetes.io/pod/name: { glob: "api-*" } }
    allow:
      - kind: stint-jwt
        audiences: [https://api.example]
        ttl: { default: 5m, max: 1h }
`;

/** Compile; a failure must be a ConfigError with the policy code and a location. */
function compileOrTypedError(text: string): 'ok' | 'refused' {
  try {
    compilePolicy(text, { filename: 'prop.yaml', maxTtlSeconds: 7200 });
    return 'ok';
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`threw ${(err as Error)?.name}: ${String((err as Error)?.message).slice(0, 200)}`);
    expect(err.code).toBe('ERR_POLICY_INVALID');
    expect(typeof err.details.line).toBe('number');
    return 'refused';
  }
}

/** Text mutations of a valid policy: cut, insert, replace, duplicate a line. */
const mutated = fc
  .tuple(fc.nat(VALID.length), fc.nat(VALID.length), fc.constantFrom('', '&a ', '*a', ':', '- ', '{', '}', '[', '"', "'", '\t', '!!js/function x', '<<: *a', '? ', '|', '>', '%YAML 1.1\n---\n', '---\n', '\u0000', '\uFEFF', '0x10', '1e400', '~'))
  .map(([at, len, insert]) => VALID.slice(0, at) + insert + VALID.slice(at + (len % 8)));

const yamlChars = fc.string({ unit: fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', '&', '*', '!', '"', "'", '#', '|', '>', '?', ',', '1', '\t', '<<') , maxLength: 200 });

describe('policy YAML loader: never throws anything but ERR_POLICY_INVALID', () => {
  it('arbitrary unicode text', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => void compileOrTypedError(text)), RUNS);
  });

  it('text made of YAML punctuation', () => {
    fc.assert(fc.property(yamlChars, (text) => void compileOrTypedError(text)), RUNS);
  });

  it('YAML of arbitrary data, at the root and in place of the rules', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        compileOrTypedError(stringify(value));
        compileOrTypedError(stringify({ version: 1, rules: value }));
        compileOrTypedError(stringify({ version: 1, rules: [{ name: 'r', match: value, allow: value }] }));
      }),
      { numRuns: 60, seed: 14 },
    );
  });

  it('mutations of a valid policy', () => {
    expect(compileOrTypedError(VALID)).toBe('ok');
    fc.assert(fc.property(mutated, (text) => void compileOrTypedError(text)), RUNS);
  });

  it('deep nesting of flow and block collections', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constantFrom(1000, 5000)), fc.constantFrom('flow-seq', 'flow-map', 'block-map', 'block-seq', 'in-claims'), (depth, shape) => {
        let text: string;
        switch (shape) {
          case 'flow-seq':
            text = `${'['.repeat(depth)}${']'.repeat(depth)}`;
            break;
          case 'flow-map':
            text = `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`;
            break;
          case 'block-map':
            text = Array.from({ length: Math.min(depth, 1000) }, (_, i) => `${' '.repeat(i)}a:`).join('\n');
            break;
          case 'block-seq':
            text = `${'- '.repeat(Math.min(depth, 2000))}x`;
            break;
          default:
            text = VALID.replace('claims: {', `claims: { deep: ${'['.repeat(depth)}${']'.repeat(depth)},`);
        }
        compileOrTypedError(text);
      }),
      { numRuns: 15, seed: 14 },
    );
  });

  it('alias bombs and alias cycles are refused, not expanded', () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 12; i++) laughs.push(`${'abcdefghijkl'[i]}: &${'abcdefghijkl'[i]} [${Array(9).fill(`*${'abcdefghijkl'[i - 1]}`).join(',')}]`);
    expect(compileOrTypedError(laughs.join('\n'))).toBe('refused');
    expect(() => compilePolicy(laughs.join('\n'), { filename: 'bomb.yaml', maxTtlSeconds: 7200 })).toThrow(/too many aliases/);
    expect(() => compilePolicy('version: 1\nrules: *nowhere\n', { filename: 'alias.yaml', maxTtlSeconds: 7200 })).toThrow(/cannot resolve the document/);
    // A bomb inside an otherwise valid policy, under a key the schema would read.
    expect(compileOrTypedError(`${laughs.join('\n')}\nversion: 1\nrules: *l\n`)).toBe('refused');
    // A self-referencing alias (a cycle).
    expect(compileOrTypedError('a: &a [*a]\nversion: 1\n')).toBe('refused');
    expect(compileOrTypedError('&a\n- *a\n')).toBe('refused');
    // Merge keys and unknown tags.
    expect(compileOrTypedError(`base: &b { attestor: kubernetes }\n${VALID.replace('    match:\n', '    match:\n      <<: *b\n')}`)).toBe('refused');
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 30 }), fc.integer({ min: 2, max: 30 }), (width, levels) => {
        const lines = [`l0: &l0 [${Array(width).fill('"x"').join(',')}]`];
        for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(',')}]`);
        compileOrTypedError(lines.join('\n'));
      }),
      { numRuns: 40, seed: 14 },
    );
  });

  it('huge scalars, keys and numbers', () => {
    expect(compileOrTypedError(VALID.replace('name: payments', `name: ${'p'.repeat(2_000_000)}`))).toBe('refused');
    compileOrTypedError(VALID.replace('namespace: payments', `${'k'.repeat(100_000)}: payments`));
    expect(compileOrTypedError(VALID.replace('version: 1', `version: ${'9'.repeat(5000)}`))).toBe('refused');
    compileOrTypedError(VALID.replace('https://api.example', `"${'\\u0041'.repeat(100_000)}"`));
    expect(compileOrTypedError(`${VALID}# ${'c'.repeat(1_000_000)}\n`)).toBe('ok');
  });

  it('a valid policy still compiles after all that', () => {
    expect(compileOrTypedError(VALID)).toBe('ok');
  });
});
