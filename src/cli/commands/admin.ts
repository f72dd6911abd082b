/** Operator commands over the Admin API: `stint grants list`, `stint revoke`, `stint unrevoke`, `stint quarantines`, `stint audit`. */
import type { Command } from 'commander';
import { parseDuration } from '../../duration.js';
import { StintError } from '../../errors.js';
import { callAdmin, type AdminOptions } from '../admin_client.js';

interface GrantMsg { id: string; identity: string; rule: string; kind: string; audience: string; target: string; state: string; issued_at: string; expires_at: string; revoked_at: string; cleanup: string; cleanup_attempts: number; cleanup_error: string; cleanup_next_at: string }
interface QuarantineMsg { identity: string; reason: string; actor: string; at: string; until: string }
interface AuditMsg { id: string; time: string; type: string; identity: string; rule: string; outcome: string; reason: string; grant_ids: string[]; request_id: string; data_json: string }

/** The options every admin command takes: where the Admin API is and how to authenticate. */
export function adminOptions(cmd: Command): Command {
  return cmd
    .option('--admin <addr>', 'admin gRPC address (or $STINT_ADMIN_ADDR)')
    .option('--admin-token-file <file>', 'file with the admin token (or $STINT_ADMIN_TOKEN)')
    .option('--data-dir <dir>', 'dev data folder holding admin.token', '.stint')
    .option('--admin-ca-file <file>', 'CA bundle of a TLS admin listener (or $STINT_ADMIN_CA_FILE)')
    .option('--admin-cert-file <file>', 'client certificate for an mTLS admin listener (or $STINT_ADMIN_CERT_FILE)')
    .option('--admin-key-file <file>', 'client key for an mTLS admin listener (or $STINT_ADMIN_KEY_FILE)')
    .option('--json', 'print JSON');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function quarantineLine(q: QuarantineMsg): string {
  return `quarantined: ${q.identity} may not exchange or renew ${q.until ? `until ${q.until}` : 'until lifted (stint unrevoke)'}`;
}

/** Register the admin commands. */
export function registerAdmin(program: Command): void {
  const grants = program.command('grants').description('grants issued by Stint');
  adminOptions(grants.command('list').description('list grants, newest first'))
    .option('--identity <id>', 'only this identity')
    .option('--state <state>', 'active | revoked | expired | reaped')
    .option('--stuck', 'only grants whose upstream cleanup keeps failing')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (opts: AdminOptions & { identity?: string; state?: string; stuck?: boolean; limit: string; json?: boolean }) => {
      const res = await callAdmin<{ grants: GrantMsg[] }>(opts, 'ListGrants', { identity: opts.identity ?? '', state: opts.state ?? '', stuck: opts.stuck === true, limit: Number(opts.limit) });
      if (opts.json) return void process.stdout.write(`${JSON.stringify(res.grants, null, 2)}\n`);
      const rows = opts.stuck
        ? [['GRANT', 'STATE', 'KIND', 'TARGET', 'ATTEMPTS', 'LAST ERROR', 'NEXT TRY', 'IDENTITY']]
        : [['GRANT', 'STATE', 'KIND', 'AUDIENCE/TARGET', 'RULE', 'EXPIRES', 'IDENTITY']];
      for (const g of res.grants) {
        rows.push(opts.stuck ? [g.id, g.state, g.kind, g.target, String(g.cleanup_attempts), g.cleanup_error, g.cleanup_next_at, g.identity] : [g.id, g.state, g.kind, g.audience || g.target, g.rule, g.expires_at, g.identity]);
      }
      process.stdout.write(`${table(rows)}\n`);
    });

  adminOptions(grants.command('resolve').description('mark a stuck upstream cleanup as resolved by hand').argument('<grant-id>'))
    .option('--note <text>', 'what was done, for the audit trail', 'resolved by operator')
    .action(async (grantId: string, opts: AdminOptions & { note: string; json?: boolean }) => {
      const res = await callAdmin<{ grants: GrantMsg[] }>(opts, 'ResolveGrant', { grant_id: grantId, note: opts.note });
      if (opts.json) return void process.stdout.write(`${JSON.stringify(res.grants, null, 2)}\n`);
      for (const g of res.grants) process.stdout.write(`${g.id} cleanup ${g.cleanup} (${g.kind}, ${g.identity})\n`);
    });

  adminOptions(
    program
      .command('revoke')
      .description('revoke a grant, or every grant of an identity; --identity also quarantines the identity (no new exchange or renewal) until `stint unrevoke` or --for ends it')
      .argument('[grant-id]'),
  )
    .option('--identity <id>', 'revoke every active grant of this identity, and quarantine it')
    .option('--quarantine', "quarantine the identity too (the default with --identity; with a grant id: the grant's identity)")
    .option('--no-quarantine', 'revoke without quarantining: the workload may exchange again at once')
    .option('--for <duration>', 'the quarantine ends by itself after this long (e.g. 1h); default: until lifted with stint unrevoke')
    .option('--reason <text>', 'reason, for the audit trail', 'revoked by operator')
    .action(async (grantId: string | undefined, opts: AdminOptions & { identity?: string; quarantine?: boolean; for?: string; reason: string; json?: boolean }) => {
      const quarantine = opts.quarantine ?? opts.identity !== undefined;
      let seconds = 0;
      if (opts.for !== undefined) {
        if (!quarantine) throw new StintError('ERR_INVALID_REQUEST', '--for sets how long a quarantine lasts: not with --no-quarantine', { field: 'for' });
        try {
          seconds = parseDuration(opts.for);
        } catch (e) {
          throw new StintError('ERR_INVALID_REQUEST', `--for: ${(e as Error).message}`, { field: 'for' });
        }
        if (seconds < 1) throw new StintError('ERR_INVALID_REQUEST', '--for must be at least 1s', { field: 'for' });
      }
      const q = { quarantine, quarantine_seconds: seconds };
      const res = opts.identity
        ? await callAdmin<{ grants: GrantMsg[]; notes: string[]; quarantine?: QuarantineMsg | null }>(opts, 'RevokeIdentity', { identity: opts.identity, reason: opts.reason, ...q })
        : await callAdmin<{ grants: GrantMsg[]; notes: string[]; quarantine?: QuarantineMsg | null }>(opts, 'RevokeGrant', { grant_id: grantId ?? '', reason: opts.reason, ...q });
      if (opts.json) return void process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
      for (const g of res.grants) process.stdout.write(`${g.id} ${g.state} (${g.kind}, ${g.identity})\n`);
      if (res.grants.length === 0) process.stdout.write('no active grants matched\n');
      for (const n of res.notes) process.stdout.write(`note: ${n}\n`);
      if (res.quarantine) process.stdout.write(`${quarantineLine(res.quarantine)}\n`);
    });

  adminOptions(program.command('unrevoke').description('lift the quarantine of an identity: it may exchange and renew again (revoked grants stay revoked)').argument('<identity>'))
    .option('--reason <text>', 'reason, for the audit trail', 'lifted by operator')
    .action(async (identity: string, opts: AdminOptions & { reason: string; json?: boolean }) => {
      const res = await callAdmin<{ lifted: boolean; quarantine?: QuarantineMsg | null }>(opts, 'LiftQuarantine', { identity, reason: opts.reason });
      if (opts.json) return void process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
      process.stdout.write(res.lifted ? `${identity} is no longer quarantined\n` : `${identity} was not quarantined\n`);
    });

  adminOptions(program.command('quarantines').description('list the identities quarantined now'))
    .action(async (opts: AdminOptions & { json?: boolean }) => {
      const res = await callAdmin<{ quarantines: QuarantineMsg[] }>(opts, 'ListQuarantines', {});
      if (opts.json) return void process.stdout.write(`${JSON.stringify(res.quarantines, null, 2)}\n`);
      const rows = [['IDENTITY', 'SINCE', 'UNTIL', 'BY', 'REASON']];
      for (const q of res.quarantines) rows.push([q.identity, q.at, q.until || 'lifted', q.actor, q.reason]);
      process.stdout.write(`${table(rows)}\n`);
    });

  adminOptions(program.command('audit').description('query the audit trail, newest first'))
    .option('--since <when>', 'duration back from now (24h) or RFC 3339 time', '24h')
    .option('--identity <id>', 'only this identity')
    .option('--type <type>', 'only this event type (exchange.allowed, exchange.denied, grant.revoked...)')
    .option('--grant <id>', 'only events of this grant')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (opts: AdminOptions & { since: string; identity?: string; type?: string; grant?: string; limit: string; json?: boolean }) => {
      const res = await callAdmin<{ events: AuditMsg[] }>(opts, 'QueryAudit', {
        since: opts.since,
        identity: opts.identity ?? '',
        type: opts.type ?? '',
        grant_id: opts.grant ?? '',
        limit: Number(opts.limit),
      });
      if (opts.json) {
        for (const e of res.events) process.stdout.write(`${JSON.stringify({ ...e, data: JSON.parse(e.data_json || '{}'), data_json: undefined })}\n`);
        return;
      }
      const rows = [['TIME', 'TYPE', 'OUTCOME', 'REASON', 'RULE', 'IDENTITY', 'GRANTS']];
      for (const e of res.events) rows.push([e.time, e.type, e.outcome, e.reason, e.rule, e.identity, e.grant_ids.join(',')]);
      process.stdout.write(`${table(rows)}\n`);
    });
}
