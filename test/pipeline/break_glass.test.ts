/**
 * Break-glass (issue 14), in process over a real SQLite store: a sealed credential is released only
 * after two distinct admins, only to its requester, only once, with a short TTL, a grant and loud
 * audit events; a lone admin, a repeated approver, an expired request and a second release are
 * refused with stable codes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import { breakGlassConfigSchema } from '../../src/config/break_glass.js';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { StintError } from '../../src/errors.js';
import type { BreakGlassService } from '../../src/pipeline/break_glass.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { FakeClock } from '../support/fake_clock.js';
import { breakGlassService } from './fixtures.js';

let issued: string[];
const vault: CredentialProvider = {
  kind: 'vault',
  maxTtlSeconds: 86_400,
  requires: 'target',
  reapOnExpiry: true,
  issue: async (g) => {
    issued.push(g.id);
    return { kind: 'vault', token: `secret-${g.id}`, tokenType: 'vault', fields: {}, secretFields: [], expiresAt: g.expiresAt, renewAfter: g.expiresAt - 60 };
  },
  revoke: async () => ({ revoked: true }) as never,
};

let store: Store;
let clock: FakeClock;
let metrics: StintMetrics;
let bg: BreakGlassService;

beforeEach(() => {
  issued = [];
  store = openSqliteStore(':memory:');
  clock = new FakeClock();
  metrics = new StintMetrics({ defaultMetrics: false });
  bg = breakGlassService({ store, clock, metrics, auditor: new Auditor(store, createLogger('silent'), clock), provider: vault, credentials: [{ name: 'db-admin', kind: 'vault', target: 'database/creds/admin', ttl: '10m' }] });
});
afterEach(async () => {
  await store.close();
});

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(StintError);
  return `${(e as StintError).code}/${String((e as StintError).details.reason)}`;
}

describe('break-glass', () => {
  it('releases the sealed credential once, to its requester, after a second distinct admin approved', async () => {
    const req = await bg.request('db-admin', 'prod DB locked, INC-42', 'INC-42', 'alice');
    expect(req).toMatchObject({ state: 'pending', requester: 'alice', approvers: [], approvalsNeeded: 2 });
    expect(await code(bg.release(req.id, 'alice')), 'one admin alone cannot release').toBe('ERR_INVALID_REQUEST/request_pending');
    expect(await code(bg.approve(req.id, 'alice')), 'the requester cannot approve herself').toBe('ERR_INVALID_REQUEST/approver_not_distinct');
    const approved = await bg.approve(req.id, 'bob');
    expect(approved).toMatchObject({ state: 'approved', approvers: ['bob'] });
    expect(await code(bg.release(req.id, 'bob')), 'only the requester receives it').toBe('ERR_INVALID_REQUEST/not_requester');

    const out = await bg.release(req.id, 'alice');
    expect(out.credential.token).toMatch(/^secret-/);
    expect(out.grant).toMatchObject({ kind: 'vault', rule: 'break-glass:db-admin', identity: 'spiffe://stint.test/break-glass/db-admin', state: 'active' });
    expect(out.grant.expiresAt - out.grant.issuedAt).toBe(600);
    expect(out.status).toMatchObject({ state: 'released', grantId: out.grant.id });
    expect(await store.getGrant(out.grant.id)).not.toBeNull();

    expect(await code(bg.release(req.id, 'alice')), 'released once').toBe('ERR_INVALID_REQUEST/request_released');
    expect(issued).toHaveLength(1);
    const events = await store.queryAudit({ requestId: req.id, limit: 10 });
    expect(events.map((e) => e.type).sort()).toEqual(['breakglass.approved', 'breakglass.released', 'breakglass.requested']);
    expect(JSON.stringify(events)).not.toContain(out.credential.token);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/stint_break_glass_total\{event="released"\} 1/);
  });

  it('a request expires unreleased, and an unknown credential or a missing reason is refused', async () => {
    const req = await bg.request('db-admin', 'just in case', undefined, 'alice');
    clock.advance(3_600_000);
    expect(await code(bg.approve(req.id, 'bob'))).toBe('ERR_INVALID_REQUEST/request_expired');
    expect(await code(bg.request('root-of-everything', 'x', undefined, 'alice'))).toBe('ERR_NOT_FOUND/unknown_credential');
    expect(await code(bg.request('db-admin', '', undefined, 'alice'))).toBe('ERR_INVALID_REQUEST/reason_required');
    expect(await code(bg.status('no-such-id'))).toBe('ERR_NOT_FOUND/undefined');
    expect(issued).toEqual([]);
  });

  it('the configuration refuses a single approval and a credential living over an hour', () => {
    expect(breakGlassConfigSchema.safeParse({ approvals: 1, credentials: [{ name: 'a', kind: 'vault' }] }).success).toBe(false);
    expect(breakGlassConfigSchema.safeParse({ credentials: [{ name: 'a', kind: 'vault', ttl: '2h' }] }).success).toBe(false);
  });
});
