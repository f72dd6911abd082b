/**
 * Scenario (issue 14, break-glass with "an admin plus a signed ticket"): the real `stint serve`
 * with `breakGlass.ticket` trusting a ticketing issuer whose JWKS is served over loopback. An
 * operator requests a sealed credential, then presents a signed ticket with `stint break-glass
 * approve --ticket-file`: a ticket for another audience is refused (ERR_TOKEN_AUDIENCE_INVALID,
 * exit 3), the good ticket approves, the requester releases the credential once; the same ticket
 * on another request is refused as replayed. The audit trail names the ticket id and its
 * fingerprint, never the ticket.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/fingerprint.js';
import { runStint } from '../support/programs.js';
import { API_AUDIENCE, startE2E, type E2E } from './harness.js';

const TICKET_ISSUER = 'https://tickets.e2e.test';
const TICKET_AUDIENCE = 'stint-break-glass';
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let tickets: Server;
let env: E2E;

beforeAll(async () => {
  tickets = createServer((req, res) => {
    if (req.url === '/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid: 't1', alg: 'ES256', use: 'sig' }] }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => tickets.listen(0, '127.0.0.1', () => r()));
  const jwksUrl = `http://127.0.0.1:${(tickets.address() as AddressInfo).port}/jwks.json`;
  env = await startE2E({
    extraConfig: [
      'breakGlass:',
      '  credentials:',
      `    - { name: api-emergency, kind: stint-jwt, audience: ${API_AUDIENCE}, ttl: 5m }`,
      `  ticket: { issuer: "${TICKET_ISSUER}", audience: ${TICKET_AUDIENCE}, jwksUrl: "${jwksUrl}", maxLifetime: 10m }`,
      '',
    ].join('\n'),
  });
}, 60_000);
afterAll(async () => {
  await env?.close();
  await new Promise<void>((r) => tickets?.close(() => r()));
});

const as = (tokenFile: string): string[] => ['--admin', env.adminAddr, '--admin-token-file', tokenFile];

/** A signed ticket written to a file; returns the file and the ticket. */
async function ticketFile(claims: Record<string, unknown> = {}): Promise<{ file: string; ticket: string }> {
  const now = Math.floor(Date.now() / 1000);
  const ticket = await new SignJWT({ iss: TICKET_ISSUER, aud: TICKET_AUDIENCE, sub: 'incident-commander', iat: now, exp: now + 300, jti: 'INC-9001', break_glass_credential: 'api-emergency', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 't1', typ: 'JWT' })
    .sign(key.privateKey);
  const file = join(env.dir, `ticket-${randomUUID()}.jwt`);
  writeFileSync(file, `${ticket}\n`, { mode: 0o600 });
  return { file, ticket };
}

describe('break-glass: an admin plus a signed ticket', () => {
  it('a signed ticket is the second approval, used once, audited without the ticket', async () => {
    const requested = await runStint(['break-glass', 'request', '--credential', 'api-emergency', '--reason', 'policy outage, INC-9001', '--json', ...as(env.adminTokenFile)]);
    expect(requested.code, requested.stderr).toBe(0);
    const { id } = JSON.parse(requested.stdout) as { id: string };

    const wrongAudience = await ticketFile({ aud: 'someone-else' });
    const refused = await runStint(['break-glass', 'approve', id, '--ticket-file', wrongAudience.file, ...as(env.adminTokenFile)]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/ERR_TOKEN_AUDIENCE_INVALID/);
    expect(refused.stderr).not.toContain(wrongAudience.ticket);

    const good = await ticketFile();
    const approved = await runStint(['break-glass', 'approve', id, '--ticket-file', good.file, '--json', ...as(env.adminTokenFile)]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ state: 'approved', requester: 'e2e-operator', approvers: [`ticket:${TICKET_ISSUER}#INC-9001`] });

    const released = await runStint(['break-glass', 'release', id, ...as(env.adminTokenFile)]);
    expect(released.code, released.stderr).toBe(0);
    const credential = JSON.parse(released.stdout) as { grant_id: string; token: string };
    const payload = JSON.parse(Buffer.from(credential.token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ aud: API_AUDIENCE, sub: 'spiffe://e2e.test/break-glass/api-emergency', break_glass_request: id });

    // The same ticket on another request: replayed.
    const second = JSON.parse((await runStint(['break-glass', 'request', '--credential', 'api-emergency', '--reason', 'again', '--json', ...as(env.adminTokenFile)])).stdout) as { id: string };
    const replay = await runStint(['break-glass', 'approve', second.id, '--ticket-file', good.file, ...as(env.adminTokenFile)]);
    expect(replay.code).toBe(3);
    expect(replay.stderr).toMatch(/ERR_TOKEN_REPLAYED/);
    const status = await runStint(['break-glass', 'status', second.id, '--json', ...as(env.approverTokenFile)]);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'pending' });

    const audit = await runStint(['audit', '--json', '--type', 'breakglass.approved', ...as(env.adminTokenFile)]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toContain('INC-9001');
    expect(audit.stdout).toContain(fingerprint(good.ticket));
    expect(audit.stdout).not.toContain(good.ticket);
    expect(audit.stdout).not.toContain(good.ticket.split('.')[2]);
    expect(env.service.stdout()).not.toContain(good.ticket);
  });
});
