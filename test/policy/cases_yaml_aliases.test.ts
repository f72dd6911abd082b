// A cases file is outside input too (`stint policy test`): an unresolved alias or an alias bomb is a
// located ERR_CONFIG_INVALID, never a bare ReferenceError out of the parser.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parseCases } from '../../src/policy/cases.js';

function refusal(text: string): ConfigError {
  try {
    parseCases(text, 'cases.yaml');
  } catch (e) {
    return e as ConfigError;
  }
  throw new Error('parseCases accepted the file');
}

describe('parseCases with YAML aliases', () => {
  it('refuses an alias to an anchor that does not exist with ERR_CONFIG_INVALID naming the file', () => {
    const e = refusal('cases: *x\n');
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain('cases.yaml');
  });

  it('refuses an alias bomb (more than 100 alias expansions) with ERR_CONFIG_INVALID', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    const e = refusal(`${bomb.join('\n')}\ncases: []\n`);
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toMatch(/alias/i);
  });

  it('still reads a file whose aliases are few and resolved', () => {
    const cases = parseCases(`cases:
  - name: one
    identity: &id { kind: kubernetes, issuer: https://k8s.example, claims: { namespace: a } }
    request: { kind: stint-jwt, audience: aud }
    expect: { decision: deny }
  - name: two
    identity: *id
    request: { kind: stint-jwt, audience: other }
    expect: { decision: deny }
`);
    expect(cases).toHaveLength(2);
    expect(cases[1]?.identity.issuer).toBe('https://k8s.example');
  });
});
