/**
 * Scenario (vault-dynamic-secret-end-to-end): workloads exchange Kubernetes tokens for Vault
 * dynamic database credentials through the real service (in-process, fake clock) over HTTP
 * (RFC 8693, `credential_kind=vault`, `resource=database/creds/readonly`) and gRPC. Vault is a
 * local server speaking Vault's HTTP API that, as Vault's jwt auth does, verifies the Stint JWT
 * Stint logs in with against Stint's own discovery document and JWKS; the real node-vault
 * client talks to it. Covers the secret and its lease, a path the rule does not name (denied
 * before any Vault call), Vault failures on both transports, Admin revocation (the lease is
 * revoked in Vault), reaping at grant expiry (the lease is revoked, not left to its own TTL),
 * reconciliation of orphan leases, and the audit trail.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VAULT_SECRET_TOKEN_TYPE } from '../../src/credentials/vault/secret.js';
import { fingerprint } from '../../src/fingerprint.js';
import type { RunningStint } from '../../src/service.js';
import { FakeClock } from '../support/fake_clock.js';
import { FakeVault, LEASE_ADMIN_POLICY } from '../support/fake_vault.js';
import type { StintGrpcClient } from '../support/grpc_client.js';
import { freePort } from '../support/ports.js';
import { findGrant, httpExchange, queryAudit, tokenExchangeForm, type AuditEvent, type GrpcCredential, type InProcessStint } from '../support/stint_under_test.js';
import { TestIssuer } from '../support/test_issuer.js';
import { AUDIENCE, FAST_REAPER, expectUpstreamFailureOnBothTransports, startProviderStint } from './harness.js';

const KIND = 'vault';
const READONLY = 'database/creds/readonly';
const ADMIN_TOKEN = 'vault-e2e-admin-token';
const IDENTITY = 'spiffe://e2e.test/ns/payments/sa/api-db';

const clock = new FakeClock();
let k8s: TestIssuer;
let vault: FakeVault;
let env: InProcessStint;
let stint: RunningStint;
let grpc: StintGrpcClient;
let url: string;

function policy(k8sIssuer: string): string {
  return `version: 1
rules:
  - name: payments-db
    match:
      attestor: kubernetes
      issuer: ${k8sIssuer}
      claims: { namespace: payments, service_account: { glob: "api-*" } }
    allow:
      - kind: ${KIND}
        targets: [${READONLY}, { glob: "database/creds/report*" }]
        ttl: { default: 10m, max: 30m }
`;
}

beforeAll(async () => {
  k8s = await TestIssuer.start({ clock });
  const httpPort = await freePort();
  url = `http://127.0.0.1:${httpPort}`;
  // Vault trusts Stint as an OIDC issuer: its jwt auth fetches Stint's discovery document and JWKS.
  vault = await FakeVault.start({
    clock,
    discoveryUrl: url,
    roles: { stint: { boundAudiences: ['vault'], tokenTtl: 7200, policy: { 'database/creds/*': ['read'], ...LEASE_ADMIN_POLICY } } },
    // Vault would hand out `admin` too: only Stint's policy keeps the workload away from it.
    secrets: { [READONLY]: { leaseDuration: 3600 }, 'database/creds/reporting': { leaseDuration: 3600 }, 'database/creds/admin': { leaseDuration: 3600 } },
  });
  env = await startProviderStint({
    prefix: 'stint-vault-e2e-',
    clock,
    k8s,
    httpPort,
    policy: policy(k8s.issuer),
    maxTtl: '1h',
    admin: { name: 'vault-operator', token: ADMIN_TOKEN },
    providers: { vault: { address: vault.url, role: 'stint', audience: 'vault', timeout: '2s', reconcilePrefixes: [READONLY], reconcileGrace: '5m' } },
    reaper: FAST_REAPER,
    alsoClose: [vault],
  });
  ({ stint, grpc } = env);
}, 60_000);

afterAll(() => env?.close());

afterEach(() => {
  vault.clearFaults();
});

const subject = (serviceAccount = 'api-db'): Promise<string> => k8s.mintKubernetes({ namespace: 'payments', serviceAccount, audience: AUDIENCE });
const now = (): number => Math.floor(clock.now() / 1000);

const vaultForm = (subjectToken: string, extra: Record<string, string> = {}): Record<string, string> => tokenExchangeForm(subjectToken, { credential_kind: KIND, resource: READONLY, ...extra });

async function grpcExchange(target: string, ttlSeconds = 0, serviceAccount = 'api-db'): ReturnType<StintGrpcClient['call']> {
  return grpc.call({ subject_token: await subject(serviceAccount), credentials: [{ kind: KIND, target, ttl_seconds: ttlSeconds }], context: { reason: 'migration' } });
}

const audit = (filter: Record<string, unknown>): Promise<AuditEvent[]> => queryAudit(grpc, ADMIN_TOKEN, { limit: 200, ...filter });
const grantState = async (grantId: string, identity = IDENTITY): Promise<string | undefined> => (await findGrant(grpc, ADMIN_TOKEN, grantId, { identity }))?.state;

describe('issuance over HTTP', () => {
  it('returns the database secret with its lease, after logging in to Vault with a Stint JWT', async () => {
    const res = await httpExchange(url, vaultForm(await subject()));
    expect(res.status).toBe(200);
    const body = res.body as Record<string, unknown> & { fields: Record<string, string> };
    const [lease, ...others] = vault.liveLeases(`${READONLY}/`);
    expect(others).toEqual([]);
    expect(body).toMatchObject({
      access_token: body.fields.password,
      issued_token_type: VAULT_SECRET_TOKEN_TYPE,
      credential_kind: KIND,
      expires_in: 600,
      ttl_seconds: 600,
      rule: 'payments-db',
      expires_at: new Date((now() + 600) * 1000).toISOString(),
      renew_after: new Date((now() + 400) * 1000).toISOString(),
      renewable: true,
    });
    expect(Object.keys(body.fields).sort()).toEqual(['lease_duration', 'lease_id', 'password', 'renewable', 'username']);
    expect([...(body.secret_fields as string[])].sort()).toEqual(['password', 'username']);
    expect(body.fields).toMatchObject({ lease_id: lease!.id, lease_duration: '3600', renewable: 'true', username: expect.stringMatching(/^v-jwt-readonly-/) });
    // Vault verified the JWT against Stint's JWKS; it names the workload and the grant.
    expect(vault.logins).toEqual([expect.objectContaining({ role: 'stint', sub: IDENTITY, jti: body.grant_id, aud: ['vault'] })]);
  });

  it('denies a path the rule does not name before any call reaches Vault', async () => {
    const before = vault.requests.length;
    const res = await httpExchange(url, vaultForm(await subject(), { resource: 'database/creds/admin' }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_target', stint_code: 'ERR_TARGET_DENIED', reason: 'TARGET_NOT_ALLOWED' });
    const missing = await httpExchange(url, vaultForm(await subject(), { resource: '' }));
    expect(missing.body).toMatchObject({ stint_code: 'ERR_TARGET_DENIED', reason: 'TARGET_REQUIRED' });
    expect(vault.requests.length).toBe(before);
  });
});

describe('issuance over gRPC', () => {
  it('returns the secret fields for a path the rule names by glob, with the requested TTL', async () => {
    const res = await grpcExchange('database/creds/reporting', 1200);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    const cred = (res.value as unknown as { credentials: GrpcCredential[] }).credentials[0]!;
    expect(cred).toMatchObject({ kind: KIND, token_type: VAULT_SECRET_TOKEN_TYPE, target: 'database/creds/reporting', ttl_seconds: 1200 });
    expect(cred.token).toBe(cred.fields.password);
    expect(cred.fields.lease_id).toMatch(/^database\/creds\/reporting\//);
    expect(vault.lease(cred.fields.lease_id!)?.state).toBe('live');
    expect(Date.parse(cred.expires_at)).toBe((now() + 1200) * 1000);
    expect(Date.parse(cred.renew_after)).toBe((now() + 800) * 1000);
    expect((cred as unknown as { renewable: boolean }).renewable).toBe(true);
  });
});

describe('Vault failures', () => {
  const cases = [
    { name: 'permission denied', mode: 'deny', status: 400, oauth: 'invalid_target', grpcCode: 7, stintCode: 'ERR_UPSTREAM_DENIED', reason: 'permission denied' },
    { name: 'rate limited', mode: 'throttle', status: 503, oauth: 'temporarily_unavailable', grpcCode: 14, stintCode: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'rate limit quota exceeded' },
    { name: 'sealed', mode: 'sealed', status: 503, oauth: 'temporarily_unavailable', grpcCode: 14, stintCode: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'Vault is sealed' },
    { name: 'a closed connection', mode: 'close', status: 503, oauth: 'temporarily_unavailable', grpcCode: 14, stintCode: 'ERR_UPSTREAM_UNAVAILABLE', reason: 'ECONNRESET' },
    { name: 'malformed JSON', mode: 'malformed', status: 502, oauth: 'temporarily_unavailable', grpcCode: 14, stintCode: 'ERR_UPSTREAM_BAD_RESPONSE', reason: 'MalformedResponse' },
  ] as const;

  it.each(cases)('$name: $stintCode on both transports, audited, and the next request succeeds', async (c) => {
    vault.fault(c.mode, { on: 'read' });
    const liveBefore = vault.liveLeases().length;
    await expectUpstreamFailureOnBothTransports(c, {
      target: READONLY,
      http: async () => httpExchange(url, vaultForm(await subject())),
      grpc: () => grpcExchange(READONLY),
      audit,
      afterBoth: () => expect(vault.liveLeases().length).toBe(liveBefore),
      recover: () => vault.clearFaults(),
    });
  });
});

describe('revocation, reaping and reconciliation', () => {
  it('Admin RevokeGrant revokes the lease in Vault', async () => {
    const res = await httpExchange(url, vaultForm(await subject()));
    expect(res.status).toBe(200);
    const grantId = String(res.body.grant_id);
    const leaseId = (res.body.fields as Record<string, string>).lease_id!;
    expect(vault.lease(leaseId)?.state).toBe('live');

    const revoked = await grpc.adminCall<{ grants: { id: string; state: string }[]; notes: string[] }>('RevokeGrant', { grant_id: grantId, reason: 'password pasted in a ticket' }, ADMIN_TOKEN);
    expect(revoked.ok).toBe(true);
    if (!revoked.ok) return;
    expect(revoked.value.grants).toEqual([expect.objectContaining({ id: grantId, state: 'revoked' })]);
    expect(revoked.value.notes).toEqual([]);
    expect(vault.lease(leaseId)).toMatchObject({ state: 'revoked', endedBy: 'revoke' });
    // Revoked under Stint's own management identity, not the workload's.
    expect(vault.logins).toContainEqual(expect.objectContaining({ role: 'stint', sub: 'urn:stint:provider:vault', aud: ['vault'] }));

    const events = await audit({ grant_id: grantId });
    expect(events.map((e) => e.type).sort()).toEqual(['exchange.allowed', 'grant.revoked']);
    expect(events.find((e) => e.type === 'grant.revoked')).toMatchObject({ reason: 'password pasted in a ticket', data: { actor: 'vault-operator', kind: KIND, operation: 'revoke', upstreamEffective: true } });
  });

  it('a revocation Vault cannot serve is retried by the reaper until the lease is revoked', async () => {
    const res = await httpExchange(url, vaultForm(await subject()));
    const grantId = String(res.body.grant_id);
    const leaseId = (res.body.fields as Record<string, string>).lease_id!;
    vault.fault('sealed', { on: 'revoke' });
    const revoked = await grpc.adminCall<{ notes: string[] }>('RevokeGrant', { grant_id: grantId, reason: 'incident' }, ADMIN_TOKEN);
    expect(revoked.ok && revoked.value.notes.join(' ')).toContain('ERR_UPSTREAM_UNAVAILABLE');
    expect(vault.lease(leaseId)?.state).toBe('live');
    vault.clearFaults();
    clock.advance(15_000);
    await stint.tick();
    expect(vault.lease(leaseId)).toMatchObject({ state: 'revoked', endedBy: 'revoke' });
    const types = (await audit({ grant_id: grantId })).map((e) => e.type);
    expect(types).toContain('grant.cleanup_failed');
    expect(types).toContain('grant.revoked');
  });

  it('an expired grant is reaped: the lease is revoked at grant expiry, not left to its 1 h TTL', async () => {
    const res = await httpExchange(url, vaultForm(await subject('api-expiring')));
    expect(res.status).toBe(200);
    const grantId = String(res.body.grant_id);
    const leaseId = (res.body.fields as Record<string, string>).lease_id!;
    clock.advance(601_000);
    expect(vault.lease(leaseId)?.state).toBe('live'); // Vault alone would keep it for the hour
    await stint.tick();
    expect(vault.lease(leaseId)).toMatchObject({ state: 'revoked', endedBy: 'revoke' });
    expect(await grantState(grantId, 'spiffe://e2e.test/ns/payments/sa/api-expiring')).toBe('reaped');
    const reaped = await audit({ type: 'grant.reaped', grant_id: grantId });
    expect(reaped).toEqual([expect.objectContaining({ reason: 'expired', data: expect.objectContaining({ kind: KIND, operation: 'reap', upstreamEffective: true }) })]);
    // The reaper revoked it, not the reconciliation pass that ran in the same tick.
    const reconciled = (await audit({ type: 'reconcile.removed' })).flatMap((e) => e.data.removed as string[]);
    expect(reconciled).not.toContain(leaseId);
  });

  it('reconciliation revokes an orphan lease no live grant holds, keeps a young one and live ones', async () => {
    const live = await httpExchange(url, vaultForm(await subject(), { ttl_seconds: '1800' }));
    expect(live.status).toBe(200);
    const liveLease = (live.body.fields as Record<string, string>).lease_id!;
    // Read outside any grant (a crash between Vault's answer and the store, or a stray client), 20 minutes ago.
    const orphan = vault.createLease(READONLY, { issueTime: clock.now() - 20 * 60_000 });
    // One a minute old: an issuance may still be in flight.
    const young = vault.createLease(READONLY, { issueTime: clock.now() - 60_000 });

    clock.advance(61_000);
    await stint.tick();
    expect(vault.lease(orphan)).toMatchObject({ state: 'revoked', endedBy: 'revoke' });
    expect(vault.lease(young)?.state).toBe('live');
    expect(vault.lease(liveLease)?.state).toBe('live');
    const events = await audit({ type: 'reconcile.removed' });
    const ours = events.find((e) => (e.data.removed as string[]).includes(orphan));
    expect(ours).toMatchObject({ outcome: 'info', reason: 'no live grant', data: { kind: KIND, failed: [] } });
    expect(ours!.data.removed).not.toContain(young);

    // Once older than the grace, the young orphan goes too; the live grant's lease stays.
    clock.advance(5 * 60_000);
    await stint.tick();
    expect(vault.lease(young)).toMatchObject({ state: 'revoked', endedBy: 'revoke' });
    expect(vault.lease(liveLease)?.state).toBe('live');
  });
});

describe('renewal in place (POST /renew)', () => {
  it('extends the lease in Vault and the grant, within the rule maximum, for the workload that holds it only', async () => {
    const token = await subject('api-renew');
    const res = await httpExchange(url, vaultForm(token, { ttl_seconds: '600' }));
    expect(res.status).toBe(200);
    const grantId = String(res.body.grant_id);
    const leaseId = (res.body.fields as Record<string, string>).lease_id!;
    clock.advance(300_000);

    // Another workload cannot renew (or even see) this grant.
    const stranger = await fetch(`${url}/renew`, { method: 'POST', body: new URLSearchParams({ grant_id: grantId, subject_token: await subject('api-other'), ttl_seconds: '1200' }) });
    expect(stranger.status).toBe(404);

    const renewed = await fetch(`${url}/renew`, { method: 'POST', body: new URLSearchParams({ grant_id: grantId, subject_token: await subject('api-renew'), ttl_seconds: '7200' }) });
    const body = (await renewed.json()) as { expires_at: string; renew_after: string };
    expect(renewed.status).toBe(200);
    // Asked for 2 h, the rule allows 30 min from now; renew again two thirds of the way there.
    expect(Date.parse(body.expires_at) / 1000).toBe(now() + 1800);
    expect(Date.parse(body.renew_after) / 1000).toBe(now() + 1200);
    // Vault renews a lease to `increment` from now.
    expect(vault.lease(leaseId)!.expireTime).toBe((now() + 1800) * 1000);
    const events = await audit({ grant_id: grantId });
    expect(events.find((e) => e.type === 'grant.renewed')).toMatchObject({ data: { kind: KIND, ttlSeconds: 1800 } });
  });
});

describe('audit trail', () => {
  it('records each issuance with the path and a fingerprint, never the secret or the Vault token', async () => {
    const res = await httpExchange(url, vaultForm(await subject(), { reason: 'schema migration' }));
    const grantId = String(res.body.grant_id);
    const fields = res.body.fields as Record<string, string>;
    const [event] = await audit({ grant_id: grantId, type: 'exchange.allowed' });
    expect(event).toMatchObject({ outcome: 'allow', reason: 'RULE_MATCHED', grant_ids: [grantId] });
    expect(event!.data.granted).toEqual([
      { grantId, kind: KIND, audience: null, target: READONLY, ttlSeconds: 600, ttlCapped: false, credentialFingerprint: fingerprint(fields.password!) },
    ]);
    const everything = JSON.stringify(await audit({}));
    expect(everything).not.toContain(fields.password!);
    expect(everything).not.toMatch(/hvs\./);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/stint_upstream_request_duration_seconds_count\{[^}]*provider="vault"[^}]*operation="read"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/stint_upstream_errors_total\{[^}]*provider="vault"[^}]*code="permission denied"[^}]*\} [1-9]/);
    expect(metrics).not.toContain(fields.password!);
    expect(metrics).not.toMatch(/hvs\./);
  });
});
