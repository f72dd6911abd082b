/**
 * `stint policy lint|test|simulate|shadow-report|explain|reload`: offline policy tooling, and the
 * Admin API views of shadow disagreements and recorded decisions.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { loadConfigFile } from '../../config/load.js';
import { parseDuration } from '../../duration.js';
import { ConfigError, StintError } from '../../errors.js';
import { caseFromObject, caseIdentity, caseRequests, parseCases, runCases } from '../../policy/cases.js';
import { compilePolicy, type CompiledPolicy } from '../../policy/compile.js';
import { explain, explanationText, type Explanation } from '../../policy/explain.js';
import { lintPolicy, type LintFinding } from '../../policy/lint.js';
import type { ShadowReport } from '../../policy/report.js';
import { outcomeChanged, recordedDecision, simulate, type RecordedDecision, type SimulationReport } from '../../policy/simulate.js';
import type { DisagreementKind } from '../../policy/shadow.js';
import { callAdmin, type AdminOptions } from '../admin_client.js';

interface AuditMsg { id: string; time: string; type: string; identity: string; rule: string; outcome: string; reason: string; grant_ids: string[]; request_id: string; data_json: string }

const DEFAULT_MAX_TTL = 3600;

function adminOptions(cmd: Command): Command {
  return cmd
    .option('--admin <addr>', 'admin gRPC address (or $STINT_ADMIN_ADDR)')
    .option('--admin-token-file <file>', 'file with the admin token (or $STINT_ADMIN_TOKEN)')
    .option('--data-dir <dir>', 'dev data folder holding admin.token', '.stint');
}

function capOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'service configuration: its credentials.maxTtl is the TTL cap')
    .option('--max-ttl <duration>', 'the TTL cap (credentials.maxTtl) when no --config is given', '1h');
}

function maxTtlOf(opts: { config?: string; maxTtl?: string }): number {
  if (opts.config) return loadConfigFile(opts.config).credentials.maxTtl;
  return opts.maxTtl ? parseDuration(opts.maxTtl) : DEFAULT_MAX_TTL;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new StintError('ERR_INVALID_REQUEST', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'EIO'})`);
  }
}

function loadPolicy(file: string, maxTtlSeconds: number): CompiledPolicy {
  return compilePolicy(readText(file), { filename: file, maxTtlSeconds });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

const KIND_TITLES: Record<DisagreementKind, string> = {
  newly_allowed: 'newly allowed',
  newly_denied: 'newly denied',
  rule: 'changed rule',
  ttl: 'changed TTL',
  target: 'changed target',
};

/** Register `policy` and its subcommands. */
export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('policy tooling: lint, test, simulate, shadow report, explain');

  capOptions(policy.command('lint').description('report overbroad, unreachable or risky rules, with stable codes').argument('<files...>'))
    .option('--strict', 'warnings fail the command too')
    .option('--json', 'print JSON')
    .action((files: string[], opts: { config?: string; maxTtl?: string; strict?: boolean; json?: boolean }) => {
      const maxTtlSeconds = maxTtlOf(opts);
      const findings: LintFinding[] = files.flatMap((f) => lintPolicy(readText(f), { filename: f, maxTtlSeconds }));
      if (opts.json) out(JSON.stringify(findings, null, 2));
      else for (const f of findings) out(`${f.file}:${f.line}:${f.column}: ${f.severity} ${f.code} ${f.name}: ${f.message}`);
      const errors = findings.filter((f) => f.severity === 'error').length;
      const warnings = findings.length - errors;
      if (!opts.json) out(`${errors} error(s), ${warnings} warning(s)`);
      if (errors > 0 || (opts.strict && warnings > 0)) process.exitCode = 1;
    });

  capOptions(policy.command('test').description('run policy test cases (identity + request -> expected decision, rule, TTL)').argument('<policy>').argument('<cases...>'))
    .option('--json', 'print JSON')
    .action((policyFile: string, caseFiles: string[], opts: { config?: string; maxTtl?: string; json?: boolean }) => {
      const compiled = loadPolicy(policyFile, maxTtlOf(opts));
      let failed = 0;
      let total = 0;
      const results = [];
      for (const file of caseFiles) {
        for (const r of runCases(compiled, parseCases(readText(file), file))) {
          total++;
          if (!r.ok) failed++;
          results.push({ file, name: r.name, line: r.line, ok: r.ok, problems: r.problems });
          if (!opts.json) {
            out(`${r.ok ? 'PASS' : 'FAIL'} ${file}:${r.line} ${r.name}`);
            for (const p of r.problems) out(`     ${p}`);
          }
        }
      }
      if (opts.json) out(JSON.stringify({ total, failed, results }, null, 2));
      else out(`${total - failed}/${total} passed`);
      if (failed > 0) process.exitCode = 1;
    });

  capOptions(adminOptions(policy.command('simulate').description('replay recorded decisions against a draft policy and show what would change')))
    .requiredOption('--policy <file>', 'the draft policy')
    .option('--since <when>', 'replay the service audit from this far back (duration or RFC 3339)', '24h')
    .option('--from <file>', 'replay an audit export (JSON lines, e.g. `stint audit --json`) instead of the service')
    .option('--examples <n>', 'examples shown per kind of change', '5')
    .option('--fail-on-change', 'exit 1 when any decision would be newly allowed or newly denied')
    .option('--json', 'print JSON')
    .action(async (opts: AdminOptions & { config?: string; maxTtl?: string; policy: string; since: string; from?: string; examples: string; failOnChange?: boolean; json?: boolean }) => {
      const draft = loadPolicy(opts.policy, maxTtlOf(opts));
      const records = opts.from ? recordsFromFile(opts.from) : await recordsFromService(opts, opts.since);
      const report = simulate(draft, records, { examples: Number(opts.examples) });
      if (opts.json) out(JSON.stringify({ policy: opts.policy, digest: draft.digest, ...report }, null, 2));
      else out(simulationText(report, opts.policy));
      if (opts.failOnChange && outcomeChanged(report)) process.exitCode = 1;
    });

  adminOptions(policy.command('shadow-report').description('summarize the shadow policy disagreements by kind, rule and identity'))
    .option('--since <when>', 'duration back from now (24h) or RFC 3339 time', '24h')
    .option('--json', 'print JSON')
    .action(async (opts: AdminOptions & { since: string; json?: boolean }) => {
      const res = await callAdmin<{ report_json: string; events: number; enforced_digest: string; shadow_digest: string }>(opts, 'ShadowReport', { since: opts.since, limit: 0 });
      const report = JSON.parse(res.report_json) as ShadowReport;
      if (opts.json) return out(JSON.stringify({ ...report, enforcedDigest: res.enforced_digest, shadowDigest: res.shadow_digest }, null, 2));
      out(`shadow ${res.shadow_digest ? res.shadow_digest.slice(0, 12) : '(none loaded)'} vs enforced ${res.enforced_digest.slice(0, 12)}: ${report.total} disagreement(s) since ${opts.since}`);
      out(table([['KIND', 'COUNT'], ...Object.entries(report.byKind).map(([k, n]) => [KIND_TITLES[k as DisagreementKind], String(n)])]));
      if (report.byRule.length) {
        out('\nby rule:');
        out(table([['KIND', 'ENFORCED RULE', 'SHADOW RULE', 'COUNT', 'EXAMPLE REQUEST'], ...report.byRule.map((r) => [KIND_TITLES[r.kind], r.enforcedRule ?? '-', r.shadowRule ?? '-', String(r.count), r.example])]));
        out('\nby identity:');
        out(table([['IDENTITY', 'COUNT', 'KINDS'], ...report.byIdentity.map((r) => [r.identity, String(r.count), Object.entries(r.kinds).map(([k, n]) => `${k}=${n}`).join(',')])]));
      }
    });

  capOptions(adminOptions(policy.command('explain').description('explain a recorded decision (by request, event or grant id), or a decision for an identity given on the command line').argument('[request-id]')))
    .option('--event <id>', 'the audit event id of the decision')
    .option('--grant <id>', 'a grant id (its exchange.allowed decision)')
    .option('--policy <file>', 'decide offline with this policy (with --input)')
    .option('--input <file>', 'YAML with identity (kind, issuer, claims) and request (kind, audience, target, ttl), as in a test case')
    .option('--json', 'print JSON')
    .action(async (requestId: string | undefined, opts: AdminOptions & { config?: string; maxTtl?: string; event?: string; grant?: string; policy?: string; input?: string; json?: boolean }) => {
      if (opts.policy || opts.input) {
        if (!opts.policy || !opts.input) throw new StintError('ERR_INVALID_REQUEST', 'give both --policy and --input');
        const compiled = loadPolicy(opts.policy, maxTtlOf(opts));
        const c = caseFromObject(parseYaml(readText(opts.input)));
        const decision = explain(compiled.decide(caseIdentity(c), caseRequests(c), Math.floor(Date.now() / 1000), c.context ?? {}));
        return out(opts.json ? JSON.stringify(decision, null, 2) : explanationText(decision));
      }
      const res = await callAdmin<{ event: AuditMsg; recorded_json: string; current_json: string }>(opts, 'ExplainDecision', { request_id: requestId ?? '', event_id: opts.event ?? '', grant_id: opts.grant ?? '' });
      const recorded = JSON.parse(res.recorded_json) as Explanation;
      const current = JSON.parse(res.current_json) as Explanation & { digest: string };
      if (opts.json) return out(JSON.stringify({ event: { ...res.event, data: JSON.parse(res.event.data_json || '{}'), data_json: undefined }, recorded, current }, null, 2));
      out(`request ${res.event.request_id} at ${res.event.time}, identity ${res.event.identity}`);
      out(`recorded: ${explanationText(recorded)}`);
      out(`loaded policy (${current.digest.slice(0, 12)}) now: ${explanationText(current)}`);
    });

  adminOptions(policy.command('reload').description('reload the policy files of the running service now (as SIGHUP does)'))
    .action(async (opts: AdminOptions) => {
      const res = await callAdmin<{ result: string; error: string; digest: string }>(opts, 'ReloadPolicy', {});
      out(`${res.result}${res.error ? `: ${res.error}` : ''} (serving ${res.digest.slice(0, 12)})`);
      if (res.result === 'error') process.exitCode = 1;
    });
}

function recordsFromFile(file: string): RecordedDecision[] {
  const records: RecordedDecision[] = [];
  readText(file).split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      throw new ConfigError('ERR_CONFIG_INVALID', '', `${file}:${i + 1}: not a JSON object`);
    }
    const r = recordedDecision(event);
    if (r) records.push(r);
  });
  return records;
}

async function recordsFromService(opts: AdminOptions, since: string): Promise<RecordedDecision[]> {
  const records: RecordedDecision[] = [];
  for (const type of ['exchange.allowed', 'exchange.denied']) {
    const res = await callAdmin<{ events: AuditMsg[] }>(opts, 'QueryAudit', { since, type, identity: '', grant_id: '', limit: 1000 });
    if (res.events.length >= 1000) process.stderr.write(`stint: only the latest 1000 ${type} events since ${since} are replayed; use --from with an export for more\n`);
    for (const e of res.events) {
      const r = recordedDecision({ id: e.id, type: e.type, time: e.time, identity: e.identity, rule: e.rule, reason: e.reason, requestId: e.request_id, data_json: e.data_json });
      if (r) records.push(r);
    }
  }
  return records;
}

function simulationText(report: SimulationReport, file: string): string {
  const lines = [`replayed ${report.total} recorded decision(s) against ${file}`];
  lines.push(table([['CHANGE', 'COUNT'], ['unchanged', String(report.unchanged)], ...Object.entries(report.counts).map(([k, n]) => [KIND_TITLES[k as DisagreementKind], String(n)])]));
  for (const [kind, examples] of Object.entries(report.examples)) {
    if (examples.length === 0) continue;
    lines.push('', `${KIND_TITLES[kind as DisagreementKind]} (examples):`);
    for (const x of examples) {
      const req = x.request.map((r) => `${r.kind} ${r.audience ?? r.target ?? ''}`.trim()).join(', ');
      const fmt = (d: typeof x.recorded): string => `${d.outcome} ${d.rule ?? '-'}${d.outcome === 'allow' ? ` ${d.credentials.map((c) => `${c.ttlSeconds}s${c.target ? ` ${c.target}` : ''}`).join(',')}` : ` (${d.reason})`}`;
      lines.push(`  ${x.requestId}  ${x.identity}  [${req}]  ${fmt(x.recorded)} -> ${fmt(x.draft)}`);
    }
  }
  return lines.join('\n');
}
