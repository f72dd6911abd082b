/**
 * The rules as Prometheus reads them: `promtool check rules` accepts the plain rule file, and
 * `promtool test rules` runs the unit tests in which every alert fires on one input and stays
 * quiet on another. promtool comes from Debian's prometheus package (npm's pretest installs it):
 * a missing promtool fails here, it is never skipped.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALERT_CASES } from '../../monitoring/src/rule_tests.js';
import { alerts } from '../../monitoring/src/rules.js';
import { ROOT } from '../support/programs.js';

const DIR = join(ROOT, 'monitoring/prometheus');

function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: DIR, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const err = e as { code?: string; stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new Error('promtool is not installed: run scripts/ensure-prometheus.sh (npm test does)');
    throw new Error(`promtool ${args.join(' ')} failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

describe('Prometheus rules', () => {
  it('promtool check rules accepts the rule file (syntax, templates, no duplicate series)', () => {
    expect(promtool('check', 'rules', 'stint.rules.yml')).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('every alert has a unit test that fires it and one that keeps it quiet', () => {
    for (const a of alerts()) {
      const cases = ALERT_CASES.filter((c) => c.alert === a.alert);
      expect(cases.some((c) => c.fires !== null), `${a.alert} fires somewhere`).toBe(true);
      expect(cases.some((c) => c.fires === null), `${a.alert} stays quiet somewhere`).toBe(true);
    }
  });

  it('every alert is a page or a ticket and links its runbook in docs/runbooks/', () => {
    const runbooks = new Set(readdirSync(join(ROOT, 'docs/runbooks')));
    for (const a of alerts()) {
      expect(['page', 'ticket']).toContain(a.labels.severity);
      expect(a.annotations.runbook_url.endsWith(`/${a.alert}.md`)).toBe(true);
      expect(runbooks.has(`${a.alert}.md`), `docs/runbooks/${a.alert}.md`).toBe(true);
    }
  });

  it('promtool test rules passes every unit test', () => {
    expect(promtool('test', 'rules', 'stint.rules.test.yml')).toMatch(/SUCCESS/);
  }, 180_000);
});
