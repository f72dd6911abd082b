/** examples/policy.azure.yaml: the Azure (azure) example policy passes its cases (examples/cases.azure.yaml) and lints clean. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCases, runCases } from '../../src/policy/cases.js';
import { lintPolicy } from '../../src/policy/lint.js';
import { loadPolicyFile } from '../../src/policy/index.js';

const examples = resolve(import.meta.dirname, '../../examples');
const read = (f: string): string => readFileSync(resolve(examples, f), 'utf8');

describe('examples/policy.azure.yaml with examples/cases.azure.yaml', () => {
  const compiled = loadPolicyFile(resolve(examples, 'policy.azure.yaml'), { maxTtlSeconds: 3600 });
  const results = runCases(compiled, parseCases(read('cases.azure.yaml'), 'cases.azure.yaml'));
  it.each(results.map((r) => [r.name, r] as const))('%s', (_name, r) => {
    expect(r.problems).toEqual([]);
  });
  it('compiles and lints clean', () => {
    expect(compiled.warnings).toEqual([]);
    expect(lintPolicy(read('policy.azure.yaml'), { filename: 'policy.azure.yaml', maxTtlSeconds: 3600 })).toEqual([]);
  });
});
