/**
 * Issue-all-or-revoke (src/pipeline/issue_all.ts) when its clean-up fails too: a provider failing
 * part-way through an exchange while revoking what was already issued also fails, and a store that
 * refuses the issuance write while the revocations fail. Each proves the typed error that surfaces,
 * that every revoke was attempted, that nothing is left recorded as active, and (through the
 * exchange) that the failure is audited and logged with fingerprints, never a token. In process over
 * a real SQLite store, a real Auditor and logger, the real provider registry and policy, with test
 * providers implementing Stint's CredentialProvider interface.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import type { CredentialProvider, GrantDraft, GrantRef, IssuedCredential, RevokeResult } from '../../src/credentials/provider.js';
import { createProviderRegistry, type ProviderRegistry } from '../../src/credentials/registry.js';
import { StintError, UpstreamError } from '../../src/errors.js';
import type { ExchangePipeline } from '../../src/pipeline/exchange.js';
import { issueAll, type IssueAllDeps } from '../../src/pipeline/issue_all.js';
import { PolicyHolder } from '../../src/pipeline/policy_source.js';
import type { GrantedCredential } from '../../src/policy/decision.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { AuditEvent, Store } from '../../src/store/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { FakeClock } from '../support/fake_clock.js';
import { PAYMENTS_RULE, paymentsIdentity, testPipeline, tokenTableVerifier } from './fixtures.js';
import { policy } from '../policy/helpers.js';

/** A provider of Stint's CredentialProvider interface whose issue and revoke fail on demand; it keeps every secret it handed out. */
class ScriptedProvider implements CredentialProvider {
  readonly maxTtlSeconds = 3600;
  readonly requires = 'audience' as const;
  readonly reapOnExpiry = false;
  /** Audiences whose issue fails (the upstream is unavailable). */
  readonly failIssueFor = new Set<string>();
  /** When true every revoke fails. */
  failRevoke = false;
  /** Every secret this provider issued. */
  readonly secrets: string[] = [];
  /** Grant ids issued, in order. */
  readonly issuedIds: string[] = [];
  /** Grant ids a revoke was attempted for, in order (failed ones included). */
  readonly revokeAttempts: string[] = [];

  constructor(readonly kind: string) {}

  async issue(draft: GrantDraft): Promise<IssuedCredential> {
    const audience = draft.granted.audience ?? '';
    if (this.failIssueFor.has(audience)) throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', this.kind, 'ServiceUnavailable', `${this.kind} upstream unavailable`);
    const token = `secret-${this.kind}-${draft.id}`;
    this.secrets.push(token);
    this.issuedIds.push(draft.id);
    return { kind: this.kind, token, tokenType: 'urn:test', fields: {}, secretFields: [], expiresAt: draft.expiresAt, renewAfter: draft.expiresAt - 60, revocationHandle: `handle/${draft.id}` };
  }

  async revoke(ref: GrantRef): Promise<RevokeResult> {
    this.revokeAttempts.push(ref.id);
    if (this.failRevoke) throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', this.kind, 'ServiceUnavailable', `${this.kind} revoke failed`);
    return { effective: true };
  }
}

/** The SQLite store, whose issuance write (grants and their event) fails while `fault` is set; every other call reaches it. */
function storeFailingIssuance(store: Store, fault: { error: Error | null }): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'recordIssuance' && fault.error) {
        const error = fault.error;
        return async () => {
          throw error;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const YAML = `version: 1
rules:
${PAYMENTS_RULE}
    allow:
      - kind: alpha
        audiences: [first, second]
        ttl: { default: 10m, max: 30m }
      - kind: beta
        audiences: [third]
        ttl: { default: 10m, max: 30m }
`;
const SUBJECT_TOKEN = 'subject-token-of-payments-do-not-log';
const IDENTITY = paymentsIdentity();
/** Two credentials of alpha, then one of beta: beta is the last issued. */
const REQUEST = [
  { kind: 'alpha', audience: 'first' },
  { kind: 'alpha', audience: 'second' },
  { kind: 'beta', audience: 'third' },
];
/** The upstream's outage while issuing and the store's refusal, as the SQLite store reports a locked database. */
const STORE_BUSY = () => new StintError('ERR_UNAVAILABLE', 'store busy: the database stayed locked by another connection', { sqlite: 'SQLITE_BUSY' });

let sqlite: Store;
let store: Store;
let fault: { error: Error | null };
let clock: FakeClock;
let alpha: ScriptedProvider;
let beta: ScriptedProvider;
let providers: ProviderRegistry;
let auditor: Auditor;
let logLines: string[];
let pipeline: ExchangePipeline;

beforeEach(() => {
  sqlite = openSqliteStore(':memory:');
  fault = { error: null };
  store = storeFailingIssuance(sqlite, fault);
  clock = new FakeClock();
  alpha = new ScriptedProvider('alpha');
  beta = new ScriptedProvider('beta');
  providers = createProviderRegistry([alpha, beta]);
  logLines = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const metrics = new StintMetrics({ defaultMetrics: false });
  auditor = new Auditor(store, createLogger('info', sink), clock, metrics);
  pipeline = testPipeline({ verifier: tokenTableVerifier(() => IDENTITY), policy: new PolicyHolder(policy(YAML), YAML, 0), providers, auditor, metrics, clock });
});
afterEach(async () => {
  await sqlite.close();
});

/** The credentials the policy grants for REQUEST (decided by the real policy engine). */
function granted(): readonly GrantedCredential[] {
  const decision = policy(YAML).decide(IDENTITY, REQUEST, Math.floor(clock.now() / 1000));
  if (decision.outcome !== 'allow') throw new Error(`the test policy denied: ${decision.reason}`);
  return decision.credentials;
}

/** The rejection of `p` (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

/** What must never appear in an audit event or a log line: the subject token and every issued secret. */
function secrets(): string[] {
  return [SUBJECT_TOKEN, ...alpha.secrets, ...beta.secrets];
}

function expectNoSecret(text: string): void {
  for (const s of secrets()) expect(text).not.toContain(s);
}

describe('issueAll: the first revoke path (a provider fails part-way) fails too', () => {
  it('surfaces the issuing UpstreamError, attempts every revoke despite each failing, and records nothing', async () => {
    beta.failIssueFor.add('third');
    alpha.failRevoke = true;
    const deps: IssueAllDeps = { providers, auditor, clock, maxTtlSeconds: 3600 };
    const eventOf = vi.fn((): AuditEvent => expect.fail('no event is built for an issuance that failed'));
    const err = await rejection(issueAll(deps, { identity: IDENTITY, rule: 'payments', credentials: granted(), nowSeconds: Math.floor(clock.now() / 1000) }, eventOf));
    // The provider's own typed error, not the revoke's: the caller learns why the exchange failed.
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect((err as UpstreamError).provider).toBe('beta');
    expect((err as UpstreamError).message).toBe('beta upstream unavailable');
    // Both alpha credentials were issued; a revoke was attempted for each, in order, the first failure stopping nothing.
    expect(alpha.issuedIds).toHaveLength(2);
    expect(alpha.revokeAttempts).toEqual(alpha.issuedIds);
    expect(beta.revokeAttempts).toEqual([]);
    expect(eventOf).not.toHaveBeenCalled();
    expect(await sqlite.listGrants({})).toEqual([]);
    expect(await sqlite.queryAudit({ limit: 10 })).toEqual([]);
  });
});

describe('issueAll: the record-failure revoke fails too', () => {
  it('surfaces the store error, attempts a revoke of every issued credential despite each failing, and leaves nothing active', async () => {
    fault.error = STORE_BUSY();
    alpha.failRevoke = true;
    beta.failRevoke = true;
    const deps: IssueAllDeps = { providers, auditor, clock, maxTtlSeconds: 3600 };
    let built: AuditEvent | null = null;
    const err = await rejection(
      issueAll(deps, { identity: IDENTITY, rule: 'payments', credentials: granted(), nowSeconds: Math.floor(clock.now() / 1000) }, (issued) => {
        built = auditor.build({ type: 'exchange.allowed', requestId: 'r1', identity: IDENTITY.id, rule: 'payments', outcome: 'allow', reason: 'ALLOWED', grantIds: issued.map((i) => i.grant.id), data: {} });
        return built;
      }),
    );
    expect(err).toBe(fault.error);
    expect((err as StintError).code).toBe('ERR_UNAVAILABLE');
    // The event was built for all three grants before the write was refused.
    expect(built!.grantIds).toEqual([...alpha.issuedIds, ...beta.issuedIds]);
    expect(alpha.revokeAttempts).toEqual(alpha.issuedIds);
    expect(alpha.issuedIds).toHaveLength(2);
    expect(beta.revokeAttempts).toEqual(beta.issuedIds);
    expect(beta.issuedIds).toHaveLength(1);
    expect(await sqlite.listGrants({ state: 'active' })).toEqual([]);
    expect(await sqlite.listGrants({})).toEqual([]);
    expect(await sqlite.queryAudit({ type: 'exchange.allowed', limit: 10 })).toEqual([]);
  });
});

describe('through the exchange: the failure is audited and logged without a secret', () => {
  it('a provider failing part-way, its revokes failing too: ERR_UPSTREAM_UNAVAILABLE, an exchange.error event and log line with fingerprints only; then a good exchange succeeds', async () => {
    beta.failIssueFor.add('third');
    alpha.failRevoke = true;
    const err = await rejection(pipeline.exchange({ subjectToken: SUBJECT_TOKEN, credentials: REQUEST, transport: 'http', requestId: 'req-upstream' }));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as StintError).code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(alpha.revokeAttempts).toEqual(alpha.issuedIds);
    expect(alpha.issuedIds).toHaveLength(2);
    expect(await sqlite.listGrants({ state: 'active' })).toEqual([]);

    const [event] = await sqlite.queryAudit({ requestId: 'req-upstream', limit: 10 });
    expect(event).toMatchObject({ type: 'exchange.error', outcome: 'error', reason: 'ERR_UPSTREAM_UNAVAILABLE', identity: IDENTITY.id, rule: 'payments', grantIds: [] });
    expect(event!.data).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE', message: 'beta upstream unavailable', subjectTokenFingerprint: expect.any(String) });
    expectNoSecret(JSON.stringify(event));
    const logged = logLines.filter((l) => l.includes('"exchange.error"'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('req-upstream');
    expectNoSecret(logLines.join('\n'));

    beta.failIssueFor.clear();
    const ok = await pipeline.exchange({ subjectToken: SUBJECT_TOKEN, credentials: REQUEST, transport: 'http' });
    expect(ok.issued.map((i) => i.grant.state)).toEqual(['active', 'active', 'active']);
    expect((await sqlite.listGrants({ state: 'active' })).map((g) => g.id).sort()).toEqual(ok.issued.map((i) => i.grant.id).sort());
  });

  it('the store refusing the issuance write, every revoke failing too: ERR_UNAVAILABLE, an exchange.error event and log line with fingerprints only; then a good exchange succeeds', async () => {
    fault.error = STORE_BUSY();
    alpha.failRevoke = true;
    beta.failRevoke = true;
    const err = await rejection(pipeline.exchange({ subjectToken: SUBJECT_TOKEN, credentials: REQUEST, transport: 'http', requestId: 'req-store' }));
    expect(err).toBe(fault.error);
    expect((err as StintError).code).toBe('ERR_UNAVAILABLE');
    expect(alpha.revokeAttempts).toEqual(alpha.issuedIds);
    expect(beta.revokeAttempts).toEqual(beta.issuedIds);
    expect([...alpha.issuedIds, ...beta.issuedIds]).toHaveLength(3);
    expect(await sqlite.listGrants({})).toEqual([]);

    // An unavailable store's error event is recorded in the background: wait for it.
    await vi.waitFor(async () => expect(await sqlite.queryAudit({ requestId: 'req-store', limit: 10 })).toHaveLength(1));
    const [event] = await sqlite.queryAudit({ requestId: 'req-store', limit: 10 });
    expect(event).toMatchObject({ type: 'exchange.error', outcome: 'error', reason: 'ERR_UNAVAILABLE', identity: IDENTITY.id, rule: 'payments', grantIds: [] });
    expect(event!.data).toMatchObject({ code: 'ERR_UNAVAILABLE', subjectTokenFingerprint: expect.any(String) });
    expectNoSecret(JSON.stringify(event));
    await vi.waitFor(() => expect(logLines.filter((l) => l.includes('"exchange.error"') && l.includes('req-store'))).toHaveLength(1));
    expect(logLines.some((l) => l.includes('"exchange.allowed"'))).toBe(false);
    expectNoSecret(logLines.join('\n'));

    fault.error = null;
    const ok = await pipeline.exchange({ subjectToken: SUBJECT_TOKEN, credentials: REQUEST, transport: 'http' });
    expect((await sqlite.listGrants({ state: 'active' })).map((g) => g.id).sort()).toEqual(ok.issued.map((i) => i.grant.id).sort());
  });
});
