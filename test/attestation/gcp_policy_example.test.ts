/** examples/policy.gcp.yaml: the GCP (gcp-instance) example policy passes its cases (examples/cases.gcp.yaml) and lints clean. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCases, runCases } from '../../src/policy/cases.js';
import { lintPolicy } from '../../src/policy/lint.js';
import { loadPolicyFile } from '../../src/policy/index.js';

const examples = resolve(import.meta.dirname, '../../examples');
const read = (f: string): string => readFileSync(resolve(examples, f), 'utf8');

describe('examples/policy.gcp.yaml with examples/cases.gcp.yaml', () => {
  const compiled = loadPolicyFile(resolve(examples, 'policy.gcp.yaml'), { maxTtlSeconds: 3600 });
  const results = runCases(compiled, parseCases(read('cases.gcp.yaml'), 'cases.gcp.yaml'));
  it.each(results.map((r) => [r.name, r] as const))('%s', (_name, r) => {
    expect(r.problems).toEqual([]);
  });
  it('compiles and lints clean', () => {
    expect(compiled.warnings).toEqual([]);
    expect(lintPolicy(read('policy.gcp.yaml'), { filename: 'policy.gcp.yaml', maxTtlSeconds: 3600 })).toEqual([]);
  });
});
