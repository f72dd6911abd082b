/** examples/policy.aws.yaml: the AWS (aws-iid, aws-iam) example policy passes its cases (examples/cases.aws.yaml) and lints clean. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCases, runCases } from '../../src/policy/cases.js';
import { lintPolicy } from '../../src/policy/lint.js';
import { loadPolicyFile } from '../../src/policy/index.js';

const examples = resolve(import.meta.dirname, '../../examples');
const read = (f: string): string => readFileSync(resolve(examples, f), 'utf8');

describe('examples/policy.aws.yaml with examples/cases.aws.yaml', () => {
  const compiled = loadPolicyFile(resolve(examples, 'policy.aws.yaml'), { maxTtlSeconds: 3600 });
  const results = runCases(compiled, parseCases(read('cases.aws.yaml'), 'cases.aws.yaml'));
  it.each(results.map((r) => [r.name, r] as const))('%s', (_name, r) => {
    expect(r.problems).toEqual([]);
  });
  it('compiles and lints clean', () => {
    expect(compiled.warnings).toEqual([]);
    expect(lintPolicy(read('policy.aws.yaml'), { filename: 'policy.aws.yaml', maxTtlSeconds: 3600 })).toEqual([]);
  });
});
