/**
 * Break-glass "an admin plus a signed ticket" (issue 14), in process over a real SQLite store: a
 * JWT from the configured ticketing issuer (a JWKS served over loopback HTTP, or a static public
 * key) stands in for the second admin. Each refusal (wrong issuer, audience, credential, expired,
 * too long-lived, no ticket id, bad signature, alg, replay, a second ticket) has its stable code;
 * the accepted ticket is audited by id, issuer and fingerprint, never the ticket; the requester
 * then releases the credential.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import { breakGlassConfigSchema, breakGlassTicketSchema } from '../../src/config/break_glass.js';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { StintError } from '../../src/errors.js';
import { fingerprint } from '../../src/fingerprint.js';
import type { BreakGlassService, BreakGlassStatus } from '../../src/pipeline/break_glass.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { FakeClock } from '../support/fake_clock.js';
import { breakGlassService } from './fixtures.js';

const ISSUER = 'https://tickets.example.com';
const AUDIENCE = 'stint-break-glass';
const vault: CredentialProvider = {
  kind: 'vault',
  maxTtlSeconds: 86_400,
  requires: 'target',
  reapOnExpiry: true,
  issue: async (g) => ({ kind: 'vault', token: `secret-${g.id}`, tokenType: 'vault', fields: {}, secretFields: [], expiresAt: g.expiresAt, renewAfter: g.expiresAt - 60 }),
  revoke: async () => ({ effective: true }),
};

const ticketKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KID = 'tickets-1';
let jwksServer: Server;
let jwksUrl: string;

beforeAll(async () => {
  jwksServer = createServer((req, res) => {
    if (req.url === '/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ ...ticketKey.publicKey.export({ format: 'jwk' }), kid: KID, alg: 'ES256', use: 'sig' }] }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
});
afterAll(async () => {
  await new Promise<void>((r) => jwksServer.close(() => r()));
});

let store: Store;
let clock: FakeClock;
let metrics: StintMetrics;
let bg: BreakGlassService;
let auditor: Auditor;

const CREDENTIALS = [{ name: 'db-admin', kind: 'vault', target: 'database/creds/admin', ttl: '10m' }, { name: 'other-set', kind: 'vault', target: 'x' }];

/** Approval by ticket through the break-glass service configured with this ticket issuer (same store: same requests). */
function approvals(ticket: Record<string, unknown> = {}, approvalsNeeded?: number): { approve(id: string, ticket: string, actor: string): Promise<BreakGlassStatus> } {
  const withTickets = breakGlassService({ store, clock, metrics, auditor, provider: vault, credentials: CREDENTIALS, ticket: { issuer: ISSUER, audience: AUDIENCE, jwksUrl, maxLifetime: '10m', ...ticket }, ...(approvalsNeeded ? { approvals: approvalsNeeded } : {}) });
  return { approve: (id, t, actor) => withTickets.approveWithTicket(id, t, actor) };
}

beforeEach(() => {
  store = openSqliteStore(':memory:');
  clock = new FakeClock();
  metrics = new StintMetrics({ defaultMetrics: false });
  auditor = new Auditor(store, createLogger('silent'), clock);
  bg = breakGlassService({ store, clock, metrics, auditor, provider: vault, credentials: CREDENTIALS });
});
afterEach(async () => {
  await store.close();
});

/** A ticket signed by the ticketing issuer's key (or another), claims overridable (undefined removes one). */
async function ticket(claims: Record<string, unknown> = {}, key: KeyObject = ticketKey.privateKey, alg = 'ES256'): Promise<string> {
  const now = Math.floor(clock.now() / 1000);
  const payload: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub: 'oncall-lead@example.com', iat: now, exp: now + 300, jti: `INC-${randomUUID()}`, break_glass_credential: 'db-admin', ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg, kid: KID, typ: 'JWT' }).sign(key);
}

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(StintError);
  return `${(e as StintError).code}/${String((e as StintError).details.reason)}`;
}

describe('an admin plus a signed ticket', () => {
  it('a valid ticket is the second approval; the requester releases; audited by id, issuer and fingerprint, never the ticket', async () => {
    const req = await bg.request('db-admin', 'prod DB locked, INC-42', 'INC-42', 'alice');
    const t = await ticket({ jti: 'INC-42' });
    // The requester herself may present the ticket: the ticket is the other approval.
    const approved = await approvals().approve(req.id, t, 'alice');
    expect(approved).toMatchObject({ state: 'approved', requester: 'alice', approvers: [`ticket:${ISSUER}#INC-42`] });
    const out = await bg.release(req.id, 'alice');
    expect(out.credential.token).toMatch(/^secret-/);

    const events = await store.queryAudit({ requestId: req.id, limit: 10 });
    const approval = events.find((e) => e.type === 'breakglass.approved')!;
    expect(approval.data).toMatchObject({ via: 'ticket', submittedBy: 'alice', ticketId: 'INC-42', ticketIssuer: ISSUER, ticketSubject: 'oncall-lead@example.com', ticketFingerprint: fingerprint(t) });
    expect(JSON.stringify(events)).not.toContain(t);
    expect(JSON.stringify(events)).not.toContain(t.split('.')[2]);
    expect(await metrics.registry.metrics()).toMatch(/stint_break_glass_total\{event="approved"\} 1/);
  });

  it('a ticket is used once: the same ticket id again, even re-signed or on another request, is ERR_TOKEN_REPLAYED', async () => {
    const first = await bg.request('db-admin', 'r1', undefined, 'alice');
    const t = await ticket({ jti: 'INC-7' });
    await approvals().approve(first.id, t, 'alice');
    const second = await bg.request('db-admin', 'r2', undefined, 'carol');
    expect(await code(approvals().approve(second.id, t, 'carol'))).toBe('ERR_TOKEN_REPLAYED/ticket_replayed');
    expect(await code(approvals().approve(second.id, await ticket({ jti: 'INC-7' }), 'carol'))).toBe('ERR_TOKEN_REPLAYED/ticket_replayed');
    expect((await bg.status(second.id)).state).toBe('pending');
    expect(await approvals().approve(second.id, await ticket({ jti: 'INC-8' }), 'carol')).toMatchObject({ state: 'approved' });
  });

  it('one ticket counts at most once per request: with three approvals, the third must be an admin', async () => {
    const three = breakGlassService({ store, clock, metrics, auditor, provider: vault, credentials: [{ name: 'db-admin', kind: 'vault', target: 't' }], approvals: 3 });
    bg = three;
    const req = await three.request('db-admin', 'r', undefined, 'alice');
    expect(await approvals({}, 3).approve(req.id, await ticket(), 'alice')).toMatchObject({ state: 'pending' });
    expect(await code(approvals({}, 3).approve(req.id, await ticket(), 'bob'))).toBe('ERR_INVALID_REQUEST/ticket_already_counted');
    expect(await three.approve(req.id, 'bob')).toMatchObject({ state: 'approved' });
  });

  it.each([
    ['another issuer', { iss: 'https://evil.example.com' }, 'ERR_TOKEN_ISSUER_UNKNOWN/ticket_wrong_issuer'],
    ['another audience', { aud: 'someone-else' }, 'ERR_TOKEN_AUDIENCE_INVALID/ticket_wrong_audience'],
    ['another break-glass credential', { break_glass_credential: 'other-set' }, 'ERR_TOKEN_CLAIM_INVALID/ticket_wrong_credential'],
    ['no credential claim', { break_glass_credential: undefined }, 'ERR_TOKEN_CLAIM_INVALID/ticket_wrong_credential'],
    ['no ticket id', { jti: undefined }, 'ERR_TOKEN_CLAIM_INVALID/ticket_id_missing'],
    ['a ticket id that is not one', { jti: 'INC 42\n' }, 'ERR_TOKEN_CLAIM_INVALID/ticket_id_missing'],
    ['no exp', { exp: undefined }, 'ERR_TOKEN_CLAIM_INVALID/ticket_claim_invalid'],
    ['a lifetime above maxLifetime', { exp: Math.floor(Date.UTC(2030, 0, 1) / 1000) + 3600 }, 'ERR_TOKEN_LIFETIME_TOO_LONG/ticket_lifetime_too_long'],
  ])('%s is refused', async (_what, claims, expected) => {
    const req = await bg.request('db-admin', 'r', undefined, 'alice');
    expect(await code(approvals().approve(req.id, await ticket(claims), 'alice'))).toBe(expected);
    expect((await bg.status(req.id)).state).toBe('pending');
    // The next good ticket still approves.
    expect(await approvals().approve(req.id, await ticket(), 'alice')).toMatchObject({ state: 'approved' });
  });

  it('an expired ticket is ERR_TOKEN_EXPIRED; a tampered or foreign-key signature ERR_TOKEN_SIGNATURE_INVALID; HS256 and garbage refused', async () => {
    const req = await bg.request('db-admin', 'r', undefined, 'alice');
    const old = await ticket();
    clock.advance(400_000);
    expect(await code(approvals().approve(req.id, old, 'alice'))).toBe('ERR_TOKEN_EXPIRED/ticket_expired');
    expect(await code(approvals().approve(req.id, await ticket({}, otherKey.privateKey), 'alice'))).toBe('ERR_TOKEN_SIGNATURE_INVALID/ticket_signature_invalid');
    const [h, , s] = (await ticket()).split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, exp: Math.floor(clock.now() / 1000) + 60, jti: 'X', break_glass_credential: 'db-admin' })).toString('base64url')}.${s}`;
    expect(await code(approvals().approve(req.id, forged, 'alice'))).toBe('ERR_TOKEN_SIGNATURE_INVALID/ticket_signature_invalid');
    const hs = await new SignJWT({ iss: ISSUER }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32));
    expect(await code(approvals().approve(req.id, hs, 'alice'))).toBe('ERR_TOKEN_ALG_NOT_ALLOWED/ticket_alg_not_allowed');
    expect(await code(approvals().approve(req.id, 'not-a-jwt', 'alice'))).toBe('ERR_TOKEN_MALFORMED/ticket_malformed');
    expect(await code(approvals().approve(req.id, 'x'.repeat(20_000), 'alice'))).toBe('ERR_TOKEN_TOO_LARGE/ticket_too_large');
    expect(await code(approvals().approve(req.id, '', 'alice'))).toBe('ERR_INVALID_REQUEST/ticket_required');
    expect(await approvals().approve(req.id, await ticket(), 'alice')).toMatchObject({ state: 'approved' });
    expect(await metrics.registry.metrics()).toMatch(/stint_break_glass_total\{event="refused"\} 7/);
  });

  it('a static public key works as the JWKS does; a released or expired request takes no ticket', async () => {
    const pem = ticketKey.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const staticApprovals = (): ReturnType<typeof approvals> => approvals({ jwksUrl: undefined, publicKey: pem });
    const req = await bg.request('db-admin', 'r', undefined, 'alice');
    expect(await code(staticApprovals().approve(req.id, await ticket({}, otherKey.privateKey), 'alice'))).toBe('ERR_TOKEN_SIGNATURE_INVALID/ticket_signature_invalid');
    await staticApprovals().approve(req.id, await ticket(), 'alice');
    await bg.release(req.id, 'alice');
    expect(await code(staticApprovals().approve(req.id, await ticket(), 'alice'))).toBe('ERR_INVALID_REQUEST/already_released');
    const late = await bg.request('db-admin', 'r', undefined, 'alice');
    clock.advance(3_600_000);
    expect(await code(staticApprovals().approve(late.id, await ticket(), 'alice'))).toBe('ERR_INVALID_REQUEST/request_expired');
  });

  it('the ticketing issuer unreachable is ERR_ISSUER_UNAVAILABLE (retryable), not a refusal of the ticket', async () => {
    const req = await bg.request('db-admin', 'r', undefined, 'alice');
    const t = await ticket();
    expect(await code(approvals({ jwksUrl: 'http://127.0.0.1:1/jwks.json' }).approve(req.id, t, 'alice'))).toBe('ERR_ISSUER_UNAVAILABLE/ticket_issuer_unavailable');
    // The ticket was not consumed by the failed attempt.
    expect(await approvals().approve(req.id, t, 'alice')).toMatchObject({ state: 'approved' });
  });
});

describe('breakGlass.ticket configuration', () => {
  it('needs exactly one key source, an https JWKS URL off loopback, and a short lifetime', () => {
    const base = { issuer: ISSUER, audience: AUDIENCE };
    expect(breakGlassTicketSchema.safeParse(base).success).toBe(false);
    expect(breakGlassTicketSchema.safeParse({ ...base, jwksUrl: 'https://t/jwks', publicKeyFile: '/k.pem' }).success).toBe(false);
    expect(breakGlassTicketSchema.safeParse({ ...base, jwksUrl: 'http://tickets.example.com/jwks' }).success).toBe(false);
    expect(breakGlassTicketSchema.safeParse({ ...base, jwksUrl: 'https://t/jwks', maxLifetime: '2h' }).success).toBe(false);
    expect(breakGlassTicketSchema.safeParse({ ...base, jwksUrl: 'https://t/jwks', algorithms: ['HS256'] }).success).toBe(false);
    expect(breakGlassTicketSchema.parse({ ...base, jwksUrl: 'https://t/jwks' })).toMatchObject({ maxLifetime: 900, ticketIdClaim: 'jti', credentialClaim: 'break_glass_credential', algorithms: ['ES256', 'RS256', 'EdDSA'] });
    expect(breakGlassConfigSchema.safeParse({ credentials: [{ name: 'a', kind: 'vault' }], ticket: { ...base, jwksUrl: 'https://t/jwks' } }).success).toBe(true);
  });
});
