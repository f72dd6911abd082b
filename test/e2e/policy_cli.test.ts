/** Scenario: the offline policy commands of the real `stint` program, as CI runs them on a pull request. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStint } from '../support/programs.js';

const dir = mkdtempSync(join(tmpdir(), 'stint-policy-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const overbroad = `version: 1
rules:
  - name: any-repo
    match:
      attestor: github-actions
      issuer: https://token.actions.githubusercontent.com
      claims:
        repository: { glob: "*/deployer" }
    allow:
      - kind: stint-jwt
        audiences: [https://api.example.com]
        ttl: { default: 10m, max: 2h }
`;

describe('stint policy lint', () => {
  it('prints file:line:column, severity and code, and exits 1 on errors', async () => {
    const p = file('overbroad.yaml', overbroad);
    const res = await runStint(['policy', 'lint', p, '--max-ttl', '1h']);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`${p}:3:11: warning POL001 ci-unpinned-id:`);
    expect(res.stdout).toMatch(new RegExp(`${p}:8:\\d+: error POL002 ci-any-owner:`));
    expect(res.stdout).toMatch(new RegExp(`${p}:12:\\d+: error POL004 ttl-above-cap:`));
    // Any branch or workflow of the repository may obtain it: POL010 warns too.
    expect(res.stdout).toContain(`${p}:3:11: warning POL010 ci-any-branch:`);
    expect(res.stdout).toContain('2 error(s), 2 warning(s)');
  });

  it('warnings alone pass, unless --strict', async () => {
    const p = file('warn.yaml', overbroad.replace('{ glob: "*/deployer" }', 'acme/deployer').replace('max: 2h', 'max: 1h'));
    expect((await runStint(['policy', 'lint', p])).code).toBe(0);
    expect((await runStint(['policy', 'lint', p, '--strict'])).code).toBe(1);
    const json = await runStint(['policy', 'lint', p, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ code: 'POL001', severity: 'warning', line: 3 }), expect.objectContaining({ code: 'POL010', severity: 'warning', line: 3 })]);
  });

  it('the shipped examples lint clean', async () => {
    const res = await runStint(['policy', 'lint', 'examples/policy.dev.yaml', 'examples/policy.github.yaml', '--strict']);
    expect(res.code, res.stdout).toBe(0);
  });
});

describe('stint policy test', () => {
  it('passes the shipped examples with their cases', async () => {
    const res = await runStint(['policy', 'test', 'examples/policy.github.yaml', 'examples/cases.github.yaml']);
    expect(res.code, res.stdout).toBe(0);
    expect(res.stdout).toMatch(/6\/6 passed/);
  });

  it('fails, naming the case, its line and what differed', async () => {
    const cases = file('cases.yaml', `cases:
  - name: look-alike must be denied
    identity: { kind: github-actions, issuer: https://token.actions.githubusercontent.com, claims: { repository: acme/deployer } }
    request: { kind: stint-jwt, audience: https://api.example.com }
    expect: { decision: deny }
`);
    const res = await runStint(['policy', 'test', file('p.yaml', overbroad), cases]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`FAIL ${cases}:2 look-alike must be denied`);
    expect(res.stdout).toContain('decision: expected deny, got allow (RULE_MATCHED)');
  });

  it('refuses an invalid policy with its exit code', async () => {
    const res = await runStint(['policy', 'test', file('bad.yaml', overbroad.replace('    allow:', '    condition: "claims.a +"\n    allow:')), 'examples/cases.dev.yaml']);
    expect(res.code).toBe(78);
    expect(res.stderr).toMatch(/ERR_POLICY_INVALID: rules\[0\]\.condition: rule "any-repo": condition does not compile at character 11: Unexpected token: EOF at .*bad\.yaml:9:16/);
  });
});

describe('stint policy explain --policy --input', () => {
  it('explains a denial for an identity given on the command line', async () => {
    const input = file('who.yaml', `identity: { kind: github-actions, issuer: https://token.actions.githubusercontent.com, claims: { repository: acme/other } }
request: { kind: stint-jwt, audience: https://api.example.com }
`);
    const res = await runStint(['policy', 'explain', '--policy', file('p2.yaml', overbroad), '--input', input]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/deny \(NO_RULE_MATCHED\)/);
    expect(res.stdout).toContain('failed claims.repository: expected glob "*/deployer", got acme/other');
  });
});
