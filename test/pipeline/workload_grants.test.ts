/**
 * A workload's own grants (issue 14, findings 4 and 5), in process over a real SQLite store: a
 * renewal never stores an expiry past what the rule allows even when the upstream over-grants, and
 * a workload may revoke or renew only grants its own verified attestation would be allowed to hold
 * (same attestor instance, same issuer, and the grant's rule still admitting it).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import { Auditor } from '../../src/audit/auditor.js';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { Reaper } from '../../src/lifecycle/reaper.js';
import { AdminService } from '../../src/pipeline/admin.js';
import type { ExchangePipeline } from '../../src/pipeline/exchange.js';
import { PolicyHolder } from '../../src/pipeline/policy_source.js';
import { WorkloadGrants } from '../../src/pipeline/workload_grants.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { FakeClock } from '../support/fake_clock.js';
import { PAYMENTS_VAULT_RULE, paymentsIdentity, refusedCode, testPipeline, tokenTableVerifier } from './fixtures.js';
import { policy } from '../policy/helpers.js';

const GITHUB = 'https://token.actions.githubusercontent.com';
const YAML = `version: 1
rules:
${PAYMENTS_VAULT_RULE}
  - name: deploy-main
    match:
      attestor: github-actions
      issuer: ${GITHUB}
      claims: { repository_id: "1", repository_owner_id: "2", ref: refs/heads/main }
    allow:
      - kind: vault
        targets: [database/creds/deploy]
        ttl: { default: 10m, max: 30m }
`;

/** An upstream that, like a Vault ignoring the increment, extends every lease by a day. */
const OVER_GRANT_SECONDS = 86_400;
let upstreamRevocations: string[];
/** The cause each upstream revocation was given (operator, workload, rollback). */
let upstreamCauses: (string | undefined)[];
const vault = (clock: FakeClock): CredentialProvider => ({
  kind: 'vault',
  maxTtlSeconds: 86_400,
  requires: 'target',
  reapOnExpiry: true,
  issue: async (g) => ({ kind: 'vault', token: `secret-${g.id}`, tokenType: 'vault', fields: {}, secretFields: [], expiresAt: g.expiresAt, renewAfter: g.expiresAt - 60, revocationHandle: `lease/${g.id}` }),
  renew: async () => ({ expiresAt: Math.floor(clock.now() / 1000) + OVER_GRANT_SECONDS }),
  revoke: async (ref, cause) => {
    upstreamRevocations.push(ref.id);
    upstreamCauses.push(cause);
    return { revoked: true } as never;
  },
});

const payments = paymentsIdentity();
const github = (ref: string): WorkloadIdentity => ({
  attestor: 'github-actions',
  attestorName: 'github-actions',
  issuer: GITHUB,
  subject: 'repo:acme/app:environment:production',
  id: `${GITHUB}#repo:acme/app:environment:production`,
  claims: { repository_id: '1', repository_owner_id: '2', ref, environment: 'production' },
  expiresAt: 2_000_000_000,
});
const IDENTITIES: Record<string, WorkloadIdentity> = {
  payments,
  // Same identity string from another cluster that no rule trusts (identity strings carry no cluster).
  'payments-other-cluster': { ...payments, attestorName: 'other-cluster', issuer: 'https://other.example' },
  'deploy-main': github('refs/heads/main'),
  // A job on an attacker's branch with the same `sub` (environment-based subject).
  'deploy-evil-branch': github('refs/heads/evil'),
};

let store: Store;
let clock: FakeClock;
let pipeline: ExchangePipeline;
let grants: WorkloadGrants;
let admin: AdminService;

beforeEach(() => {
  upstreamRevocations = [];
  upstreamCauses = [];
  store = openSqliteStore(':memory:');
  clock = new FakeClock();
  const metrics = new StintMetrics({ defaultMetrics: false });
  const logger = createLogger('silent');
  const auditor = new Auditor(store, logger, clock);
  const provider = vault(clock);
  const providers = { get: () => provider, has: (k: string) => k === 'vault', kinds: () => ['vault'], all: () => [provider] };
  const holder = new PolicyHolder(policy(YAML), YAML, 0);
  pipeline = testPipeline({ verifier: tokenTableVerifier((t) => IDENTITIES[t]!), policy: holder, providers, auditor, metrics, clock });
  const reaper = new Reaper({ store, providers, auditor, metrics, clock, logger, settings: { initialBackoff: 10, maxBackoff: 600, stuckAfterAttempts: 5, reconcileInterval: 300 } });
  admin = new AdminService({ store, auditor, reaper, clock });
  grants = new WorkloadGrants({ attest: (t) => pipeline.verifier.attest(t), store, admin, policy: holder, providers, auditor, metrics, clock, maxTtlSeconds: 3600 });
});
afterEach(async () => {
  await store.close();
});

async function issue(token: string, target: string): Promise<string> {
  const r = await pipeline.exchange({ subjectToken: token, credentials: [{ kind: 'vault', target }], transport: 'http' });
  return r.issued[0]!.grant.id;
}

describe('renewal never outlives the rule (finding 4)', () => {
  it('an upstream that over-grants a day is capped to the rule, audited, and left to the reaper at the cap', async () => {
    const id = await issue('payments', 'database/creds/payments');
    clock.advance(5 * 60_000);
    const now = Math.floor(clock.now() / 1000);
    const { grant } = await grants.renew('payments', id, 30 * 60);
    expect(grant.expiresAt).toBe(now + 30 * 60);
    expect((await store.getGrant(id))!.expiresAt).toBe(now + 30 * 60);
    const events = await store.queryAudit({ type: 'grant.renewed', limit: 5 });
    expect(events[0]!.data).toMatchObject({ capped: true, upstreamExpiresAt: now + OVER_GRANT_SECONDS, expiresAt: now + 30 * 60 });
  });
});

describe('a workload revokes only what its attestation would be allowed to hold (finding 5)', () => {
  it('a token from a cluster no rule trusts cannot revoke the trusted cluster grant of the same identity string', async () => {
    const id = await issue('payments', 'database/creds/payments');
    expect(await refusedCode(grants.revoke('payments-other-cluster', id, 'attack'))).toBe('ERR_NOT_FOUND');
    expect(await refusedCode(grants.renew('payments-other-cluster', id, undefined))).toBe('ERR_NOT_FOUND');
    expect((await store.getGrant(id))!.state).toBe('active');
    const ok = await grants.revoke('payments', id, 'shutdown');
    expect(ok.grants.map((g) => g.state)).toEqual(['revoked']);
  });

  it('a GitHub job on another branch with the same sub cannot revoke the main-branch grant', async () => {
    const id = await issue('deploy-main', 'database/creds/deploy');
    expect(await refusedCode(grants.revoke('deploy-evil-branch', id, 'attack'))).toBe('ERR_NOT_FOUND');
    expect((await store.getGrant(id))!.state).toBe('active');
    const ok = await grants.revoke('deploy-main', id, 'post step');
    expect(ok.grants.map((g) => g.state)).toEqual(['revoked']);
  });
});

describe('the cause of a revocation reaches the provider', () => {
  it("a workload's own revoke is 'workload' (never the AWS deny policy), an operator's is 'operator'", async () => {
    const own = await issue('payments', 'database/creds/payments');
    await grants.revoke('payments', own, 'shutdown');
    const byOperator = await issue('payments', 'database/creds/payments');
    await admin.revokeGrant(byOperator, 'incident', 'admin:alice');
    expect(upstreamRevocations).toEqual([own, byOperator]);
    expect(upstreamCauses).toEqual(['workload', 'operator']);
  });
});
