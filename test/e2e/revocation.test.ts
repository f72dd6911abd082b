/**
 * Scenario: an operator revokes a grant with `stint revoke`; introspection says inactive, the
 * grant shows revoked, and both stay so across a restart, while keys and audit survive it too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { API_AUDIENCE, AUDIENCE, startE2E, type E2E } from './harness.js';
import { runStint } from '../support/programs.js';
import { introspectionSecret } from './introspection_client.js';

let env: E2E;
beforeAll(async () => {
  env = await startE2E({ introspection: true });
}, 60_000);
afterAll(() => env?.close());

const adminArgs = (): string[] => ['--admin', env.adminAddr, '--admin-token-file', env.adminTokenFile];

async function exchange(serviceAccount: string): Promise<{ grantId: string; token: string }> {
  const subject = await env.k8s.mintKubernetes({ namespace: 'payments', serviceAccount, audience: AUDIENCE });
  const res = await env.grpc.call<{ grant_id: string; credentials: { token: string }[] }>({ subject_token: subject, credentials: [{ kind: 'stint-jwt', audience: API_AUDIENCE }] });
  if (!res.ok) throw new Error(`exchange failed: ${res.details}`);
  return { grantId: res.value.grant_id, token: res.value.credentials[0]!.token };
}

async function introspect(token: string, bearer = introspectionSecret()): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${env.httpUrl}/introspect`, { method: 'POST', headers: { authorization: `Bearer ${bearer}` }, body: new URLSearchParams({ token }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('revocation', () => {
  it('introspection needs a credential and reports an active grant as active', async () => {
    const { token } = await exchange('api-intro');
    expect((await introspect(token, 'wrong')).status).toBe(401);
    // An admin token is no introspection credential: admin credentials stay off the workload listener.
    expect(await introspect(token, env.adminToken)).toMatchObject({ status: 401, body: { stint_code: 'ERR_ADMIN_UNAUTHENTICATED', reason: 'admin_credential_refused' } });
    const res = await introspect(token);
    expect(res.body).toMatchObject({ active: true, aud: API_AUDIENCE, sub: 'spiffe://e2e.test/ns/payments/sa/api-intro' });
    expect((await introspect('not-a-jwt')).body).toEqual({ active: false });
  });

  it('after stint revoke the token is inactive and the grant revoked, and so after a restart', async () => {
    const { grantId, token } = await exchange('api-revoked');
    const other = await exchange('api-kept');
    const revoke = await runStint(['revoke', grantId, '--reason', 'incident 42', ...adminArgs()]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain(`${grantId} revoked`);
    expect(revoke.stdout).toMatch(/note: stint-jwt: .*valid until expiry/);
    expect((await introspect(token)).body).toEqual({ active: false });
    expect((await introspect(other.token)).body.active).toBe(true);

    const listed = await runStint(['grants', 'list', '--json', '--state', 'revoked', ...adminArgs()]);
    const grants = JSON.parse(listed.stdout) as { id: string; state: string; revoked_reason: string }[];
    expect(grants.find((g) => g.id === grantId)).toMatchObject({ state: 'revoked', revoked_reason: 'incident 42' });

    const jwksBefore = await (await fetch(`${env.httpUrl}/.well-known/jwks.json`)).json();
    await env.restart();
    expect((await introspect(token)).body).toEqual({ active: false });
    expect((await introspect(other.token)).body.active).toBe(true);
    const after = JSON.parse((await runStint(['grants', 'list', '--json', ...adminArgs()])).stdout) as { id: string; state: string }[];
    expect(after.find((g) => g.id === grantId)?.state).toBe('revoked');
    // The signing key survived the restart: the same JWKS, and the earlier token still verifies.
    expect(await (await fetch(`${env.httpUrl}/.well-known/jwks.json`)).json()).toEqual(jwksBefore);
    const jwks = createRemoteJWKSet(new URL(`${env.httpUrl}/.well-known/jwks.json`));
    await expect(jwtVerify(other.token, jwks, { issuer: env.httpUrl, audience: API_AUDIENCE })).resolves.toBeTruthy();
    // The revocation is in the audit trail, with the operator's name.
    const audit = await runStint(['audit', '--json', '--type', 'grant.revoked', '--grant', grantId, ...adminArgs()]);
    const events = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { reason: string; data: { actor: string } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'incident 42', data: { actor: 'e2e-operator' } });
  });

  it('revokes every grant of an identity at once', async () => {
    await exchange('api-many');
    await exchange('api-many');
    const res = await runStint(['revoke', '--identity', 'spiffe://e2e.test/ns/payments/sa/api-many', '--json', ...adminArgs()]);
    expect(res.code).toBe(0);
    const body = JSON.parse(res.stdout) as { grants: { state: string }[] };
    expect(body.grants).toHaveLength(2);
    expect(body.grants.every((g) => g.state === 'revoked')).toBe(true);
  });

  it('says which grant is unknown, with a stable code and exit status', async () => {
    const res = await runStint(['revoke', 'no-such-grant', ...adminArgs()]);
    expect(res.code).toBe(6);
    expect(res.stderr).toContain('ERR_NOT_FOUND');
  });
});
