/**
 * `POST /introspect` takes only a resource server's introspection credential
 * (`introspection.clients`): an admin token there is refused with a stable code (admin
 * credentials stay off the workload listener), and an introspection credential opens nothing on
 * the admin listener. Each refusal is followed by a request that succeeds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { startStint } from '../../../src/service.js';
import { StintGrpcClient } from '../../support/grpc_client.js';
import { exchangeForm, startServiceUnderTest, type ServiceUnderTest } from '../service_under_test.js';

let svc: ServiceUnderTest;
let grpc: StintGrpcClient;
beforeAll(async () => {
  svc = await startServiceUnderTest({ introspection: { clients: [{ name: 'resource-server', secret: { file: '@DIR@/introspect.secret' } }] } });
  grpc = new StintGrpcClient(`127.0.0.1:${svc.stint.grpcPort}`, `127.0.0.1:${svc.stint.adminPort}`);
});
afterAll(async () => {
  grpc?.close();
  await svc?.close();
});

async function introspect(token: string, authorization?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${svc.httpUrl}/introspect`, { method: 'POST', headers: authorization ? { authorization } : {}, body: new URLSearchParams({ token }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('introspection credentials', () => {
  it('an admin token on /introspect is refused: 401 ERR_ADMIN_UNAUTHENTICATED, reason admin_credential_refused', async () => {
    const refused = await introspect('not-a-jwt', `Bearer ${svc.adminToken}`);
    expect(refused).toMatchObject({ status: 401, body: { error: 'invalid_client', stint_code: 'ERR_ADMIN_UNAUTHENTICATED', reason: 'admin_credential_refused' } });
    expect(await introspect('not-a-jwt', `Bearer ${svc.introspectionSecret}`)).toEqual({ status: 200, body: { active: false } });
  });

  it('no credential or a wrong one is refused with its reason; then the client is served', async () => {
    expect(await introspect('x')).toMatchObject({ status: 401, body: { stint_code: 'ERR_ADMIN_UNAUTHENTICATED', reason: 'credential_missing' } });
    expect(await introspect('x', 'Bearer wrong')).toMatchObject({ status: 401, body: { stint_code: 'ERR_ADMIN_UNAUTHENTICATED', reason: 'credential_invalid' } });
    expect(await introspect('x', `Bearer ${svc.introspectionSecret}`)).toEqual({ status: 200, body: { active: false } });
  });

  it('the introspection client sees an issued token as active', async () => {
    const issued = await fetch(`${svc.httpUrl}/token`, { method: 'POST', body: exchangeForm(await svc.subjectToken()) });
    const { access_token: token, grant_id: grantId } = (await issued.json()) as { access_token: string; grant_id: string };
    expect(await introspect(token, `Bearer ${svc.introspectionSecret}`)).toMatchObject({ status: 200, body: { active: true, grant_id: grantId, rule: 'apps' } });
  });

  it('an introspection credential is not an admin credential on the admin listener', async () => {
    expect(await grpc.adminCall('ListGrants', {}, svc.introspectionSecret)).toMatchObject({ ok: false, stintCode: 'ERR_ADMIN_UNAUTHENTICATED' });
    expect(await grpc.adminCall('ListGrants', {}, svc.adminToken)).toMatchObject({ ok: true });
  });
});

describe('introspection configuration', () => {
  it('a client secret equal to an admin token refuses to start, naming the key', async () => {
    process.env.STINT_TEST_SHARED_SECRET = 'shared-secret-value';
    const dir = mkdtempSync(join(tmpdir(), 'stint-introspection-config-'));
    writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nrules:\n  - name: r\n    match: { attestor: kubernetes, issuer: https://k8s.example, claims: { namespace: a } }\n    allow: [{ kind: stint-jwt, audiences: [x], ttl: { default: 1m, max: 1m } }]\n');
    const config = validateConfig({
      issuer: 'http://127.0.0.1:1',
      store: { kind: 'sqlite', path: join(dir, 'stint.db') },
      policy: { file: join(dir, 'policy.yaml') },
      admin: { tokens: [{ name: 'op', secret: { env: 'STINT_TEST_SHARED_SECRET' } }] },
      introspection: { clients: [{ name: 'rs', secret: { env: 'STINT_TEST_SHARED_SECRET' } }] },
    });
    expect(config.introspection.clients).toHaveLength(1);
    try {
      await expect(startStint(config)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', path: 'introspection.clients[0].secret', message: 'introspection.clients[0].secret: must differ from every admin token' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
