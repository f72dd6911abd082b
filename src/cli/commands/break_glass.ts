/**
 * `stint break-glass request|approve|status|release`: the emergency path over the Admin API. A
 * request names a sealed credential (breakGlass: in the service configuration) and a reason; a
 * second, distinct admin approves, or an admin presents a signed ticket from the configured
 * ticketing issuer (`approve --ticket-file`); the requester then releases the credential, once.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { StintError } from '../../errors.js';
import { MAX_TICKET_BYTES, TICKET_APPROVER_PREFIX } from '../../pipeline/break_glass_ticket.js';
import { callAdmin, type AdminOptions } from '../admin_client.js';
import { adminOptions } from './admin.js';

interface StatusMsg { id: string; credential: string; state: string; requester: string; approvers: string[]; approvals_needed: number; reason: string; ticket: string; requested_at: string; expires_at: string; grant_id: string }
interface ReleaseMsg { status: StatusMsg; credential: { grant_id: string; kind: string; token: string; fields: Record<string, string>; expires_at: string } }

function describe(s: StatusMsg): string {
  const approvals = `${1 + s.approvers.length}/${s.approvals_needed} approvals (requester ${s.requester}${s.approvers.length ? `; ${s.approvers.join(', ')}` : ''})`;
  return `break-glass ${s.id}: ${s.credential} ${s.state}, ${approvals}, expires ${s.expires_at}${s.grant_id ? `, grant ${s.grant_id}` : ''}\nreason: ${s.reason}${s.ticket ? ` (ticket ${s.ticket})` : ''}\n`;
}

type Opts = AdminOptions & { json?: boolean };

/** The ticket file's JWT: a readable file of at most 16 KiB; the message never holds its content. */
function readTicket(file: string): string {
  let text: string;
  try {
    if (statSync(file).size > MAX_TICKET_BYTES) throw new StintError('ERR_INVALID_REQUEST', `--ticket-file ${file}: larger than ${MAX_TICKET_BYTES} bytes`, { reason: 'ticket_too_large', field: 'ticket-file' });
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if (e instanceof StintError) throw e;
    throw new StintError('ERR_INVALID_REQUEST', `--ticket-file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { reason: 'ticket_unreadable', field: 'ticket-file' });
  }
  if (!text) throw new StintError('ERR_INVALID_REQUEST', `--ticket-file ${file} is empty`, { reason: 'ticket_required', field: 'ticket-file' });
  return text;
}

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
  adminOptions(bg.command('approve').description('approve a request with a second, distinct admin credential, or with a signed ticket').argument('<id>'))
    .option('--ticket-file <file>', 'a signed ticket (JWT) from the ticketing issuer (breakGlass.ticket): it is the approval')
    .action(async (id: string, opts: Opts & { ticketFile?: string }) => {
      if (opts.ticketFile === undefined) return print(opts, await callAdmin<StatusMsg>(opts, 'BreakGlassApprove', { id }));
      const ticket = readTicket(opts.ticketFile);
      const status = await callAdmin<StatusMsg>(opts, 'BreakGlassApprove', { id, ticket });
      // A service without ticket support drops the field and counts the caller as an admin approver instead: say so.
      if (!status.approvers.some((a) => a.startsWith(TICKET_APPROVER_PREFIX))) {
        throw new StintError('ERR_INVALID_REQUEST', 'the service did not take the ticket (no breakGlass.ticket configured, or an older service)', { reason: 'ticket_not_supported' });
      }
      print(opts, status);
    });
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
