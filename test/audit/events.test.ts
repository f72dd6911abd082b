/**
 * The audit event builders (src/audit/events.ts) write each event type with the same fields, in
 * the same order, as the pipeline wrote them inline before (issue 13: one home for event shapes),
 * record fingerprints and never a token, and keep the caller's denial explanation and an internal
 * error's cause in the record.
 */
import { describe, expect, it } from 'vitest';
import {
  exchangeAllowedEvent,
  exchangeDeniedEvent,
  exchangeErrorEvent,
  exchangeEventBase,
  grantCleanupEvent,
  grantRenewedEvent,
  grantResolvedEvent,
  identityQuarantinedEvent,
  identityUnquarantinedEvent,
  breakGlassApprovedEvent,
  breakGlassReleasedEvent,
  breakGlassRequestedEvent,
  shadowDisagreementEvent,
} from '../../src/audit/events.js';
import { StintError } from '../../src/errors.js';

const IDENTITY = {
  id: 'spiffe://stint.local/ns/payments/sa/api',
  attestor: 'kubernetes',
  attestorName: 'cluster',
  issuer: 'https://k8s.example',
  subject: 'system:serviceaccount:payments:api',
  claims: { namespace: 'payments' },
  expiresAt: 2_000_000_000,
};
const DECIDED = {
  requestId: 'req-1',
  transport: 'http',
  identity: IDENTITY,
  subjectTokenFingerprint: 'fp:subject',
  request: [{ kind: 'stint-jwt', audience: 'aud' }],
  context: undefined,
  policyDigest: 'sha256:policy',
  decidedAt: 1_893_456_000,
  decision: { outcome: 'allow', rule: 'payments' },
};
const base = exchangeEventBase(DECIDED);

describe('the decision events of one exchange share one base', () => {
  it('records the identity, request, policy digest and decision in the order the pipeline wrote them, an absent context as {}', () => {
    expect(base.requestId).toBe('req-1');
    expect(base.identity).toBe(IDENTITY.id);
    expect(Object.keys(base.data)).toEqual(['transport', 'attestor', 'attestorName', 'issuer', 'subject', 'claims', 'subjectTokenFingerprint', 'request', 'context', 'policyDigest', 'legacy', 'decidedAt', 'decision']);
    expect(base.data).toMatchObject({ context: {}, legacy: false, claims: { namespace: 'payments' } });
    expect(exchangeEventBase({ ...DECIDED, identity: { ...IDENTITY, legacy: true } }).data.legacy).toBe(true);
  });

  it('exchange.allowed lists each grant with its credential fingerprint, audience and target null when absent', () => {
    const event = exchangeAllowedEvent(base, 'payments', 'RULE_MATCHED', [
      { grant: { id: 'g1', credentialFingerprint: 'fp:cred1' }, granted: { kind: 'stint-jwt', audience: 'aud', ttlSeconds: 600, ttlCapped: false } },
      { grant: { id: 'g2', credentialFingerprint: 'fp:cred2' }, granted: { kind: 'vault', target: 'database/creds/payments', ttlSeconds: 900, ttlCapped: true } },
    ]);
    expect(event).toMatchObject({ type: 'exchange.allowed', requestId: 'req-1', identity: IDENTITY.id, rule: 'payments', outcome: 'allow', reason: 'RULE_MATCHED', grantIds: ['g1', 'g2'] });
    expect(event.data.granted).toEqual([
      { grantId: 'g1', kind: 'stint-jwt', audience: 'aud', target: null, ttlSeconds: 600, ttlCapped: false, credentialFingerprint: 'fp:cred1' },
      { grantId: 'g2', kind: 'vault', audience: null, target: 'database/creds/payments', ttlSeconds: 900, ttlCapped: true, credentialFingerprint: 'fp:cred2' },
    ]);
    expect(Object.keys(event.data).at(-1)).toBe('granted');
  });

  it('exchange.denied keeps the nearest rule and failed conditions (the rule itself when no nearer one)', () => {
    const denied = exchangeDeniedEvent(base, { rule: null, reason: 'NO_RULE_MATCHED', message: 'no rule matched', nearestRule: 'payments', failed: [{ path: 'claims.namespace' }] });
    expect(denied).toMatchObject({ type: 'exchange.denied', rule: null, outcome: 'deny', reason: 'NO_RULE_MATCHED', grantIds: [] });
    expect(denied.data).toMatchObject({ nearestRule: 'payments', failed: [{ path: 'claims.namespace' }], message: 'no rule matched', policyDigest: 'sha256:policy' });
    const target = exchangeDeniedEvent(base, { rule: 'payments', reason: 'AUDIENCE_NOT_ALLOWED', message: 'audience not allowed' });
    expect(target.data).toMatchObject({ nearestRule: 'payments', failed: [] });
  });

  it('policy.shadow_disagreement carries the base and both decisions with their digests', () => {
    const event = shadowDisagreementEvent(base, { kind: 'would_deny', rule: null, enforced: { outcome: 'allow', digest: 'a' }, shadow: { outcome: 'deny', digest: 'b' } });
    expect(event).toMatchObject({ type: 'policy.shadow_disagreement', requestId: 'req-1', identity: IDENTITY.id, rule: null, outcome: 'info', reason: 'would_deny', grantIds: [] });
    expect(event.data).toMatchObject({ policyDigest: 'sha256:policy', kind: 'would_deny', enforced: { digest: 'a' }, shadow: { digest: 'b' } });
  });
});

describe('exchange.error', () => {
  const failure = {
    requestId: 'req-2',
    transport: 'grpc',
    identity: null,
    rule: null,
    subjectTokenFingerprint: 'fp:subject',
    request: { entries: [{ kind: 'stint-jwt' }], count: 1 },
    context: { reason: null, ticket: null, runId: null },
  };

  it('before attestation: the code and message only, no identity fields, no cause', () => {
    const event = exchangeErrorEvent({ ...failure, error: new StintError('ERR_TOKEN_EXPIRED', 'token expired') });
    expect(event).toMatchObject({ type: 'exchange.error', requestId: 'req-2', identity: null, rule: null, outcome: 'error', reason: 'ERR_TOKEN_EXPIRED', grantIds: [] });
    expect(Object.keys(event.data)).toEqual(['transport', 'code', 'message', 'subjectTokenFingerprint', 'request', 'requestCount', 'context']);
  });

  it('after attestation: the identity fields; an internal error: its cause message (ours), never its stack', () => {
    const internal = new StintError('ERR_INTERNAL', 'internal error', {}, { cause: new Error('disk on fire') });
    const event = exchangeErrorEvent({ ...failure, identity: IDENTITY, rule: 'payments', error: internal });
    expect(event).toMatchObject({ identity: IDENTITY.id, rule: 'payments', reason: 'ERR_INTERNAL' });
    expect(event.data).toMatchObject({ attestor: 'kubernetes', attestorName: 'cluster', issuer: 'https://k8s.example', subject: IDENTITY.subject, claims: { namespace: 'payments' }, cause: 'disk on fire' });
    expect(JSON.stringify(event)).not.toContain('events.test');
  });
});

describe('grant lifecycle events', () => {
  const grant = { id: 'g1', identity: IDENTITY.id, rule: 'payments', kind: 'vault', expiresAt: 1000, revokedReason: null, cleanupAttempts: 5, cleanupError: 'timeout' };

  it('grant.renewed records the previous and new expiry; an upstream over-grant as capped with its own expiry', () => {
    const plain = grantRenewedEvent({ identity: IDENTITY.id, rule: 'payments', grant, expiresAt: 1600, ttlSeconds: 600 });
    expect(plain).toMatchObject({ type: 'grant.renewed', requestId: null, identity: IDENTITY.id, rule: 'payments', outcome: 'info', reason: 'renewed by its workload', grantIds: ['g1'] });
    expect(plain.data).toEqual({ kind: 'vault', previousExpiresAt: 1000, expiresAt: 1600, ttlSeconds: 600 });
    const capped = grantRenewedEvent({ identity: IDENTITY.id, rule: 'payments', grant, expiresAt: 1600, ttlSeconds: 600, upstreamExpiresAt: 90_000 });
    expect(capped.data).toEqual({ kind: 'vault', previousExpiresAt: 1000, expiresAt: 1600, ttlSeconds: 600, upstreamExpiresAt: 90_000, capped: true });
  });

  it('a clean-up attempt is grant.revoked, grant.reaped or grant.cleanup_failed with the upstream error as its reason', () => {
    const attempt = { grant, actor: 'admin', attempt: 1, seconds: 0.5 };
    expect(grantCleanupEvent({ ...attempt, reaping: false, result: { ok: true, effective: true } })).toMatchObject({ type: 'grant.revoked', outcome: 'info', reason: 'revoked', data: { operation: 'revoke', result: 'ok', upstreamEffective: true } });
    expect(grantCleanupEvent({ ...attempt, reaping: true, result: { ok: true, effective: false, note: 'stays valid until expiry' } })).toMatchObject({ type: 'grant.reaped', reason: 'expired', data: { operation: 'reap', note: 'stays valid until expiry' } });
    const failed = grantCleanupEvent({ ...attempt, reaping: false, result: { ok: false, error: 'ERR_UPSTREAM_UNAVAILABLE' } });
    expect(failed).toMatchObject({ type: 'grant.cleanup_failed', outcome: 'error', reason: 'ERR_UPSTREAM_UNAVAILABLE', grantIds: ['g1'], data: { result: 'error' } });
    expect(Object.keys(failed.data)).toEqual(['actor', 'kind', 'operation', 'attempt', 'result', 'upstreamEffective', 'seconds']);
  });

  it('grant.resolved names the operator, the attempts and the last error; an empty note reads "resolved by operator"', () => {
    const event = grantResolvedEvent(grant, '', 'ops@example');
    expect(event).toMatchObject({ type: 'grant.resolved', identity: IDENTITY.id, rule: 'payments', reason: 'resolved by operator', grantIds: ['g1'] });
    expect(event.data).toEqual({ actor: 'ops@example', kind: 'vault', attempts: 5, lastError: 'timeout' });
  });
});

describe('quarantine events', () => {
  it('identity.quarantined records the operator and the end as RFC 3339 (null: until lifted)', () => {
    const at = Date.UTC(2030, 0, 1);
    expect(identityQuarantinedEvent({ identity: IDENTITY.id, reason: 'leaked', actor: 'ops', at, until: at + 3_600_000 })).toEqual({
      type: 'identity.quarantined',
      requestId: null,
      identity: IDENTITY.id,
      rule: null,
      outcome: 'info',
      reason: 'leaked',
      grantIds: [],
      data: { actor: 'ops', until: '2030-01-01T01:00:00.000Z' },
    });
    expect(identityQuarantinedEvent({ identity: IDENTITY.id, reason: 'leaked', actor: 'ops', at, until: null }).data).toEqual({ actor: 'ops', until: null });
  });

  it('identity.unquarantined names who quarantined it and when, when known; an empty reason reads "lifted by operator"', () => {
    const lifted = identityUnquarantinedEvent(IDENTITY.id, '', 'ops2', { at: Date.UTC(2030, 0, 1), actor: 'ops' });
    expect(lifted).toMatchObject({ type: 'identity.unquarantined', identity: IDENTITY.id, reason: 'lifted by operator' });
    expect(lifted.data).toEqual({ actor: 'ops2', quarantinedAt: '2030-01-01T00:00:00.000Z', quarantinedBy: 'ops' });
    expect(identityUnquarantinedEvent(IDENTITY.id, 'fixed', 'ops2', null).data).toEqual({ actor: 'ops2', quarantinedAt: null, quarantinedBy: null });
  });
});

describe('break-glass events', () => {
  const subject = { requestId: 'bg-1', identity: 'spiffe://stint.local/break-glass/db-root', rule: 'break-glass:db-root', credential: 'db-root' };

  it('requested, approved and released carry the request id, the credential and its people; the release a grant fingerprint only', () => {
    const requested = breakGlassRequestedEvent(subject, { kind: 'postgres', requester: 'alice', reason: 'outage', ticket: 'INC-1', expiresAt: 42 });
    expect(requested).toEqual({ type: 'breakglass.requested', requestId: 'bg-1', identity: subject.identity, rule: subject.rule, outcome: 'info', reason: 'outage', grantIds: [], data: { credential: 'db-root', kind: 'postgres', requester: 'alice', ticket: 'INC-1', expiresAt: 42 } });
    const approved = breakGlassApprovedEvent(subject, { approver: 'bob', requester: 'alice' });
    expect(approved).toMatchObject({ type: 'breakglass.approved', requestId: 'bg-1', reason: 'approved by bob', data: { credential: 'db-root', approver: 'bob', requester: 'alice' } });
    expect(Object.keys(approved.data)).toEqual(['credential', 'approver', 'requester']);
    const byTicket = breakGlassApprovedEvent(subject, { approver: 'ticket:x#1', requester: 'alice', reason: 'approved by ticket 1 from x', details: { via: 'ticket', ticketFingerprint: 'fp:ticket' } });
    expect(byTicket).toMatchObject({ reason: 'approved by ticket 1 from x', data: { approver: 'ticket:x#1', via: 'ticket', ticketFingerprint: 'fp:ticket' } });
    const released = breakGlassReleasedEvent(subject, { kind: 'postgres', reason: 'outage', requester: 'alice', approvers: ['bob'], ticket: 'INC-1', ttlSeconds: 300, grant: { id: 'g9', credentialFingerprint: 'fp:cred' } });
    expect(released).toEqual({
      type: 'breakglass.released',
      requestId: 'bg-1',
      identity: subject.identity,
      rule: subject.rule,
      outcome: 'allow',
      reason: 'outage',
      grantIds: ['g9'],
      data: { credential: 'db-root', kind: 'postgres', requester: 'alice', approvers: ['bob'], ticket: 'INC-1', ttlSeconds: 300, credentialFingerprint: 'fp:cred' },
    });
  });
});
