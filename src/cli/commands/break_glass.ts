/**
 * `stint break-glass request|approve|status|release`: the emergency path over the Admin API. A
 * request names a sealed credential (breakGlass: in the service configuration) and a reason; a
 * second, distinct admin approves; the requester then releases the credential, once.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { callAdmin, type AdminOptions } from '../admin_client.js';
import { adminOptions } from './admin.js';

interface StatusMsg { id: string; credential: string; state: string; requester: string; approvers: string[]; approvals_needed: number; reason: string; ticket: string; requested_at: string; expires_at: string; grant_id: string }
interface ReleaseMsg { status: StatusMsg; credential: { grant_id: string; kind: string; token: string; fields: Record<string, string>; expires_at: string } }

function describe(s: StatusMsg): string {
  const approvals = `${1 + s.approvers.length}/${s.approvals_needed} approvals (requester ${s.requester}${s.approvers.length ? `; ${s.approvers.join(', ')}` : ''})`;
  return `break-glass ${s.id}: ${s.credential} ${s.state}, ${approvals}, expires ${s.expires_at}${s.grant_id ? `, grant ${s.grant_id}` : ''}\nreason: ${s.reason}${s.ticket ? ` (ticket ${s.ticket})` : ''}\n`;
}

type Opts = AdminOptions & { json?: boolean };

/** Register `break-glass`. */
export function registerBreakGlass(program: Command): void {
  const bg = program.command('break-glass').description('emergency credentials released by two distinct admins (every use pages)');
  const print = (opts: Opts, s: StatusMsg): void => void process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : describe(s));
  adminOptions(bg.command('request').description('request a sealed credential; your admin credential is the first approval'))
    .requiredOption('--credential <name>', 'the sealed credential (breakGlass.credentials[].name)')
    .requiredOption('--reason <text>', 'why, for the audit trail and the page')
    .option('--ticket <id>', 'the incident ticket')
    .action(async (opts: Opts & { credential: string; reason: string; ticket?: string }) => {
      print(opts, await callAdmin<StatusMsg>(opts, 'BreakGlassRequest', { credential: opts.credential, reason: opts.reason, ticket: opts.ticket ?? '' }));
    });
  adminOptions(bg.command('approve').description('approve a request with a second, distinct admin credential').argument('<id>'))
    .action(async (id: string, opts: Opts) => print(opts, await callAdmin<StatusMsg>(opts, 'BreakGlassApprove', { id })));
  adminOptions(bg.command('status').description('where a request stands').argument('<id>'))
    .action(async (id: string, opts: Opts) => print(opts, await callAdmin<StatusMsg>(opts, 'GetBreakGlass', { id })));
  adminOptions(bg.command('release').description('receive the approved credential (requester only, once)').argument('<id>'))
    .option('--output-file <file>', 'write the credential (JSON) to this file, mode 0600, instead of stdout')
    .action(async (id: string, opts: Opts & { outputFile?: string }) => {
      const r = await callAdmin<ReleaseMsg>(opts, 'BreakGlassRelease', { id });
      const secret = `${JSON.stringify({ grant_id: r.credential.grant_id, kind: r.credential.kind, token: r.credential.token, fields: r.credential.fields, expires_at: r.credential.expires_at }, null, 2)}\n`;
      if (opts.outputFile) writeFileSync(opts.outputFile, secret, { mode: 0o600 });
      else process.stdout.write(secret);
      process.stderr.write(describe(r.status));
    });
}
