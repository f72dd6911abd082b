/**
 * The pipeline's shadow evaluation, in process: a shadow policy never changes an outcome (not even
 * when it throws), disagreements are audited with both decisions of the same snapshot, and a
 * policy swap between requests is picked up whole.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Auditor } from '../../src/audit/auditor.js';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { ExchangePipeline } from '../../src/pipeline/exchange.js';
import { PolicyHolder } from '../../src/pipeline/policy_source.js';
import type { PolicyEngine } from '../../src/policy/decision.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { StintMetrics } from '../../src/telemetry/metrics.js';
import { k8s, policy } from './helpers.js';

const yaml = (ttl: string) => `version: 1
rules:
  - name: payments
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: payments } }
    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: ${ttl}, max: 1h }
`;

const provider: CredentialProvider = {
  kind: 'stint-jwt',
  maxTtlSeconds: 3600,
  requires: 'audience',
  reapOnExpiry: false,
  issue: async (g) => ({ kind: 'stint-jwt', token: `t-${g.id}`, tokenType: 'jwt', fields: {}, secretFields: [], expiresAt: g.expiresAt, renewAfter: g.expiresAt - 60 }),
  revoke: async () => ({ revoked: true }) as never,
};

let store: Store;
let metrics: StintMetrics;
let holder: PolicyHolder;
let pipeline: ExchangePipeline;

beforeEach(() => {
  store = openSqliteStore(':memory:');
  metrics = new StintMetrics({ defaultMetrics: false });
  const clock = { now: () => 1_700_000_000_000 };
  holder = new PolicyHolder(policy(yaml('10m')), yaml('10m'), 0, policy(yaml('5m')));
  pipeline = new ExchangePipeline({
    verifier: { attest: async () => k8s({ namespace: 'payments' }), accepts: () => true,
      ready: () => true, close: () => undefined },
    policy: holder,
    providers: { get: () => provider, has: (k) => k === 'stint-jwt', kinds: () => ['stint-jwt'] },
    auditor: new Auditor(store, createLogger('silent'), clock),
    metrics,
    clock,
    maxTtlSeconds: 3600,
    subjectTokenCacheSize: 0,
  });
});

afterEach(async () => {
  await store.close();
});

const run = () => pipeline.exchange({ subjectToken: 'SUBJECT-TOKEN-SECRET', credentials: [{ kind: 'stint-jwt', audience: 'aud' }], transport: 'grpc' });
const count = async (name: string, labels: Record<string, string>) => (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;

describe('shadow evaluation in the pipeline', () => {
  it('keeps the enforced outcome and audits the disagreement with both decisions', async () => {
    const r = await run();
    expect(r.issued[0]?.granted.ttlSeconds).toBe(600);
    const [event] = await store.queryAudit({ type: 'policy.shadow_disagreement' });
    expect(event).toMatchObject({ reason: 'ttl', rule: 'payments', requestId: r.requestId, data: { enforced: { credentials: [{ ttlSeconds: 600 }] }, shadow: { credentials: [{ ttlSeconds: 300 }] } } });
    expect(JSON.stringify(event)).not.toContain('SUBJECT-TOKEN-SECRET');
    expect(await count('stint_policy_shadow_disagreements_total', { kind: 'ttl' })).toBe(1);
  });

  it('a shadow policy that throws changes nothing and is counted as an error', async () => {
    const broken: PolicyEngine = { ruleNames: ['x'], digest: 'broken', decide: () => { throw new Error('boom'); } };
    holder.replace(policy(yaml('10m')), yaml('10m'), 1, broken);
    const r = await run();
    expect(r.rule).toBe('payments');
    expect(await count('stint_policy_shadow_decisions_total', { agreement: 'error' })).toBe(1);
    expect(await store.queryAudit({ type: 'policy.shadow_disagreement' })).toEqual([]);
  });

  it('a swap between requests is taken whole: each disagreement pairs the enforced and shadow policy of one load', async () => {
    const pairs = [['10m', '5m'], ['15m', '7m']] as const;
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      const [e, s] = pairs[i % 2]!;
      holder.replace(policy(yaml(e)), yaml(e), i, policy(yaml(s)));
      runs.push(run());
    }
    await Promise.all(runs);
    const events = await store.queryAudit({ type: 'policy.shadow_disagreement', limit: 100 });
    expect(events).toHaveLength(20);
    for (const e of events) {
      const pair = [(e.data.enforced as { credentials: { ttlSeconds: number }[] }).credentials[0]?.ttlSeconds, (e.data.shadow as { credentials: { ttlSeconds: number }[] }).credentials[0]?.ttlSeconds];
      expect([[600, 300], [900, 420]]).toContainEqual(pair);
    }
  });

  it('no shadow policy: no shadow evaluation', async () => {
    holder.replace(policy(yaml('10m')), yaml('10m'), 2);
    await run();
    expect(await count('stint_policy_shadow_decisions_total', { agreement: 'agree' })).toBe(0);
    expect(await count('stint_policy_shadow_decisions_total', { agreement: 'disagree' })).toBe(0);
  });
});
