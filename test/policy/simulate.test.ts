/** Simulation replays recorded decisions (audit events) against a draft policy. */
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/store/store.js';
import { outcomeChanged, recordedDecision, simulate } from '../../src/policy/simulate.js';
import { summarize } from '../../src/policy/shadow.js';
import type { CredentialRequest } from '../../src/policy/decision.js';
import { k8s, policy } from './helpers.js';

const yaml = (ns = 'payments', ttl = '10m') => `version: 1
rules:
  - name: payments
    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: ${ns} } }
    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: ${ttl}, max: 1h }
`;

/** Audit events as the pipeline records them. */
function record(namespace: string, n: number): AuditEvent {
  const identity = k8s({ namespace, service_account: 'api' });
  const request: CredentialRequest[] = [{ kind: 'stint-jwt', audience: 'aud' }];
  const decision = policy(yaml()).decide(identity, request, 1000);
  return {
    id: `e${n}`,
    time: 1_000_000,
    type: decision.outcome === 'allow' ? 'exchange.allowed' : 'exchange.denied',
    requestId: `r${n}`,
    identity: identity.id,
    rule: decision.rule,
    outcome: decision.outcome,
    reason: decision.reason,
    grantIds: [],
    data: { attestor: identity.attestor, attestorName: identity.attestorName, issuer: identity.issuer, subject: identity.subject, claims: identity.claims, request, context: {}, legacy: false, decidedAt: 1000, decision: summarize(decision) },
  };
}

const events = [record('payments', 1), record('payments', 2), record('batch', 3)];
const records = events.map(recordedDecision).filter((r) => r !== null);

describe('simulate', () => {
  it('reads exchange.allowed and exchange.denied events, and skips others', () => {
    expect(records).toHaveLength(3);
    expect(recordedDecision({ ...events[0], type: 'grant.revoked' })).toBeNull();
  });

  it('reports zero differences for the unchanged policy', () => {
    const r = simulate(policy(yaml()), records);
    expect(r).toMatchObject({ total: 3, unchanged: 3, counts: { newly_allowed: 0, newly_denied: 0, rule: 0, ttl: 0, target: 0 } });
    expect(outcomeChanged(r)).toBe(false);
  });

  it('reports newly denied, newly allowed and changed TTL with examples', () => {
    const moved = simulate(policy(yaml('batch')), records);
    expect(moved.counts).toMatchObject({ newly_allowed: 1, newly_denied: 2 });
    expect(moved.examples.newly_allowed[0]).toMatchObject({ requestId: 'r3', draft: { outcome: 'allow', rule: 'payments' } });
    expect(moved.examples.newly_denied.map((x) => x.requestId)).toEqual(['r1', 'r2']);
    expect(outcomeChanged(moved)).toBe(true);
    const ttl = simulate(policy(yaml('payments', '5m')), records);
    expect(ttl.counts).toMatchObject({ ttl: 2, newly_allowed: 0, newly_denied: 0 });
    expect(outcomeChanged(ttl)).toBe(false);
  });

  it('reads the `stint audit --json` line shape and events recorded before decision summaries existed', () => {
    const e = events[0]!;
    const { decision: _omit, ...older } = e.data as Record<string, unknown>;
    const line = { ...e, time: new Date(e.time).toISOString(), request_id: e.requestId, requestId: undefined, data: { ...older, granted: [{ kind: 'stint-jwt', audience: 'aud', target: null, ttlSeconds: 600 }] } };
    const r = recordedDecision(JSON.parse(JSON.stringify(line)));
    expect(r).toMatchObject({ requestId: 'r1', recorded: { outcome: 'allow', rule: 'payments', credentials: [{ ttlSeconds: 600 }] } });
    expect(simulate(policy(yaml()), [r!]).unchanged).toBe(1);
  });
});
