/**
 * Identity quarantine and the admin service (issue 14 "Revocation that holds", issue 13's Admin
 * adapter), in process over a real SQLite store and the fake clock: a quarantined identity is
 * refused exchanges and renewals with ERR_IDENTITY_QUARANTINED right after attestation (audited
 * as an exchange error), until its end time or until lifted; another replica's view learns of it
 * from the store at its next refresh; the grant status a sidecar polls says revoked and
 * quarantined; explain finds a decision by request id however many events came after it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import { Auditor } from '../../src/audit/auditor.js';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { StintError } from '../../src/errors.js';
import { Reaper } from '../../src/lifecycle/reaper.js';
import { AdminService } from '../../src/pipeline/admin.js';
import type { ExchangePipeline } from '../../src/pipeline/exchange.js';
import { PolicyHolder } from '../../src/pipeline/policy_source.js';
import { QuarantineView } from '../../src/pipeline/quarantine.js';
import { WorkloadGrants } from '../../src/pipeline/workload_grants.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { FakeClock } from '../support/fake_clock.js';
import { PAYMENTS_VAULT_RULE, paymentsIdentity, refusedCode, testPipeline, tokenTableVerifier } from './fixtures.js';
import { policy } from '../policy/helpers.js';

const YAML = `version: 1
rules:
${PAYMENTS_VAULT_RULE}
`;

const api = paymentsIdentity('api');
const worker = paymentsIdentity('worker');
const IDENTITIES: Record<string, WorkloadIdentity> = { api, worker };

let store: Store;
let clock: FakeClock;
let pipeline: ExchangePipeline;
let grants: WorkloadGrants;
let admin: AdminService;
let view: QuarantineView;

beforeEach(async () => {
  store = openSqliteStore(':memory:');
  clock = new FakeClock();
  const metrics = new StintMetrics({ defaultMetrics: false });
  const logger = createLogger('silent');
  const auditor = new Auditor(store, logger, clock);
  const provider: CredentialProvider = {
    kind: 'vault',
    maxTtlSeconds: 86_400,
    requires: 'target',
    reapOnExpiry: true,
    issue: async (g) => ({ kind: 'vault', token: `secret-${g.id}`, tokenType: 'vault', fields: {}, secretFields: [], expiresAt: g.expiresAt, renewAfter: g.expiresAt - 60, revocationHandle: `lease/${g.id}` }),
    renew: async () => ({ expiresAt: Math.floor(clock.now() / 1000) + 600 }),
    revoke: async () => ({ revoked: true }) as never,
  };
  const providers = { get: () => provider, has: (k: string) => k === 'vault', kinds: () => ['vault'], all: () => [provider] };
  const holder = new PolicyHolder(policy(YAML), YAML, 0);
  view = new QuarantineView({ store, clock, refreshMs: 0 });
  await view.start();
  pipeline = testPipeline({ verifier: tokenTableVerifier((t) => IDENTITIES[t]!), policy: holder, providers, auditor, metrics, clock, quarantines: view });
  const reaper = new Reaper({ store, providers, auditor, metrics, clock, logger, settings: { initialBackoff: 10, maxBackoff: 600, stuckAfterAttempts: 5, reconcileInterval: 300 } });
  admin = new AdminService({ store, auditor, reaper, clock, policy: holder, quarantines: view });
  grants = new WorkloadGrants({ attest: (t) => pipeline.verifier.attest(t), store, admin, policy: holder, providers, auditor, metrics, clock, maxTtlSeconds: 3600, quarantines: view });
});
afterEach(async () => {
  view.close();
  await store.close();
});

const exchange = (token: string) => pipeline.exchange({ subjectToken: token, credentials: [{ kind: 'vault', target: 'database/creds/payments' }], transport: 'http' });

describe('a quarantined identity cannot simply exchange again', () => {
  it('revoke with quarantine: exchanges and renewals refused with ERR_IDENTITY_QUARANTINED, audited; other identities unaffected', async () => {
    const first = (await exchange('api')).issued[0]!.grant.id;
    const r = await admin.revokeIdentity(api.id, 'incident 7', 'alice', { seconds: null });
    expect(r.grants.map((g) => g.state)).toEqual(['revoked']);
    expect(r.quarantine).toMatchObject({ identity: api.id, reason: 'incident 7', actor: 'alice', until: null });

    expect(await refusedCode(exchange('api'))).toBe('ERR_IDENTITY_QUARANTINED');
    const refused = await store.queryAudit({ type: 'exchange.error', identity: api.id });
    expect(refused[0]).toMatchObject({ reason: 'ERR_IDENTITY_QUARANTINED', data: expect.objectContaining({ code: 'ERR_IDENTITY_QUARANTINED' }) });
    expect(await store.queryAudit({ type: 'identity.quarantined' })).toEqual([expect.objectContaining({ identity: api.id, reason: 'incident 7', data: { actor: 'alice', until: null } })]);

    // Renewal of a grant issued before (another grant of the identity, still active) is refused too.
    expect(await refusedCode(grants.renew('api', first, undefined))).toBe('ERR_IDENTITY_QUARANTINED');
    // The status a sidecar polls: revoked, and quarantined.
    expect(await grants.status('api', first)).toMatchObject({ state: 'revoked', quarantined: true });

    // Another identity exchanges, and its status is active and not quarantined.
    const other = (await exchange('worker')).issued[0]!.grant.id;
    expect(await grants.status('worker', other)).toMatchObject({ state: 'active', quarantined: false });
  });

  it('lifted: the identity exchanges again; the lift is audited once; lifting again says none was in force', async () => {
    await admin.quarantine(api.id, 'suspicious', 'alice', null);
    expect(await refusedCode(exchange('api'))).toBe('ERR_IDENTITY_QUARANTINED');
    expect(await admin.liftQuarantine(api.id, 'all clear', 'bob')).toMatchObject({ lifted: true, quarantine: { actor: 'alice' } });
    expect((await exchange('api')).issued).toHaveLength(1);
    expect(await admin.liftQuarantine(api.id, 'again', 'bob')).toEqual({ lifted: false, quarantine: null });
    expect(await store.queryAudit({ type: 'identity.unquarantined' })).toEqual([expect.objectContaining({ identity: api.id, reason: 'all clear', data: expect.objectContaining({ actor: 'bob', quarantinedBy: 'alice' }) })]);
  });

  it('a quarantine for a duration ends on time by the clock, between refreshes', async () => {
    await admin.quarantine(api.id, 'cool off', 'alice', 3600);
    clock.advance(3600_000 - 1);
    expect(await refusedCode(exchange('api'))).toBe('ERR_IDENTITY_QUARANTINED');
    clock.advance(1);
    expect((await exchange('api')).issued).toHaveLength(1);
    expect(await admin.listQuarantines()).toEqual([]);
  });

  it('refuses a bad duration with its code, then takes a good one', async () => {
    for (const seconds of [0, -5, 1.5, 400 * 86400]) expect(await refusedCode(admin.quarantine(api.id, 'x', 'alice', seconds))).toBe('ERR_INVALID_REQUEST');
    expect(await refusedCode(admin.quarantine('', 'x', 'alice', null))).toBe('ERR_INVALID_REQUEST');
    expect(await admin.listQuarantines()).toEqual([]);
    await admin.quarantine(api.id, 'x', 'alice', 60);
    expect((await admin.listQuarantines()).map((q) => q.identity)).toEqual([api.id]);
  });

  it("another replica's view learns of a quarantine from the store at its next refresh", async () => {
    const replica = new QuarantineView({ store, clock, refreshMs: 0 });
    await replica.start();
    await admin.quarantine(api.id, 'incident', 'alice', null);
    expect(() => replica.check(api.id)).not.toThrow();
    await replica.refresh();
    expect(() => replica.check(api.id)).toThrow(expect.objectContaining({ code: 'ERR_IDENTITY_QUARANTINED' }));
    expect(() => replica.check(worker.id)).not.toThrow();
    await admin.liftQuarantine(api.id, 'ok', 'bob');
    await replica.refresh();
    expect(() => replica.check(api.id)).not.toThrow();
  });

  it('revoking one grant quarantines only when asked', async () => {
    const a = (await exchange('api')).issued[0]!.grant.id;
    await admin.revokeGrant(a, 'rotate', 'alice');
    expect((await exchange('api')).issued).toHaveLength(1);
    const b = (await exchange('api')).issued[0]!.grant.id;
    const r = await admin.revokeGrant(b, 'leaked', 'alice', { seconds: 600 });
    expect(r.quarantine).toMatchObject({ identity: api.id, until: clock.now() + 600_000 });
    expect(await refusedCode(exchange('api'))).toBe('ERR_IDENTITY_QUARANTINED');
  });
});

describe('explain by request id (issue 13: a store query, not a scan of the newest 1,000 events)', () => {
  it('finds a denial recorded before 1,100 newer decisions', async () => {
    const denied = await pipeline.exchange({ subjectToken: 'api', credentials: [{ kind: 'vault', target: 'database/creds/other' }], transport: 'http', requestId: 'req-old-denial' }).then(() => null, (e: unknown) => e);
    expect(denied).toBeInstanceOf(StintError);
    for (let i = 0; i < 1100; i++) {
      clock.advance(1);
      await store.appendAudit({ id: `e${i}`, time: clock.now(), type: 'exchange.denied', requestId: `req-${i}`, identity: worker.id, rule: null, outcome: 'deny', reason: 'NO_RULE_MATCHED', grantIds: [], data: {} });
    }
    const r = await admin.explainDecision({ requestId: 'req-old-denial' });
    expect(r.event).toMatchObject({ type: 'exchange.denied', requestId: 'req-old-denial', identity: api.id });
    expect(r.recorded).toMatchObject({ outcome: 'deny' });
    expect(r.current.digest).toMatch(/\w/);
    expect(await refusedCode(admin.explainDecision({ requestId: 'req-unknown' }))).toBe('ERR_NOT_FOUND');
    expect(await refusedCode(admin.explainDecision({}))).toBe('ERR_INVALID_REQUEST');
    // By event id too.
    expect((await admin.explainDecision({ eventId: r.event.id })).event.id).toBe(r.event.id);
  });

  it('since: a duration back from the injected clock, or RFC 3339; anything else refused', () => {
    expect(admin.since('24h')).toBe(clock.now() - 86_400_000);
    expect(admin.since('2030-01-01T00:00:00Z')).toBe(Date.UTC(2030, 0, 1));
    expect(admin.since('')).toBeUndefined();
    expect(() => admin.since('yesterday')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REQUEST' }));
  });
});
