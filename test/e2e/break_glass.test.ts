/**
 * Scenario (issue 14, break-glass): an operator requests a sealed credential with `stint
 * break-glass request`, a second admin approves it, the requester releases it once; a lone admin,
 * the requester approving herself and a second release are refused with stable codes and exit
 * statuses; the release is a grant with a short TTL, audited, counted, and the page alert's metric moves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStint } from '../support/programs.js';
import { API_AUDIENCE, startE2E, type E2E } from './harness.js';

let env: E2E;
beforeAll(async () => {
  env = await startE2E({ extraConfig: `breakGlass:\n  credentials:\n    - { name: api-emergency, kind: stint-jwt, audience: ${API_AUDIENCE}, ttl: 5m }\n` });
}, 60_000);
afterAll(async () => {
  await env?.close();
});

const as = (tokenFile: string): string[] => ['--admin', env.adminAddr, '--admin-token-file', tokenFile];

describe('break-glass', () => {
  it('two distinct admins release a sealed credential once, with a short TTL, audited and counted', async () => {
    const requested = await runStint(['break-glass', 'request', '--credential', 'api-emergency', '--reason', 'policy outage, INC-7', '--ticket', 'INC-7', '--json', ...as(env.adminTokenFile)]);
    expect(requested.code, requested.stderr).toBe(0);
    const { id, state } = JSON.parse(requested.stdout) as { id: string; state: string };
    expect(state).toBe('pending');

    const early = await runStint(['break-glass', 'release', id, ...as(env.adminTokenFile)]);
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/ERR_INVALID_REQUEST/);
    const self = await runStint(['break-glass', 'approve', id, ...as(env.adminTokenFile)]);
    expect(self.code).toBe(2);
    expect(self.stderr).toMatch(/distinct admin/);

    const approved = await runStint(['break-glass', 'approve', id, '--json', ...as(env.approverTokenFile)]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ state: 'approved', requester: 'e2e-operator', approvers: ['e2e-approver'] });

    const released = await runStint(['break-glass', 'release', id, ...as(env.adminTokenFile)]);
    expect(released.code, released.stderr).toBe(0);
    const credential = JSON.parse(released.stdout) as { grant_id: string; token: string; expires_at: string };
    const payload = JSON.parse(Buffer.from(credential.token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ aud: API_AUDIENCE, sub: 'spiffe://e2e.test/break-glass/api-emergency', break_glass_request: id });
    expect((payload.exp as number) - (payload.iat as number)).toBe(300);

    const again = await runStint(['break-glass', 'release', id, ...as(env.adminTokenFile)]);
    expect(again.code).toBe(2);
    const status = await runStint(['break-glass', 'status', id, '--json', ...as(env.approverTokenFile)]);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'released', grant_id: credential.grant_id });

    const audit = await runStint(['audit', '--json', '--type', 'breakglass.released', ...as(env.adminTokenFile)]);
    expect(audit.stdout).toContain(credential.grant_id);
    expect(audit.stdout).not.toContain(credential.token);
    const metrics = await (await fetch(`${env.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/stint_break_glass_total\{event="released"\} 1/);
    expect(env.service.stdout()).toMatch(/"breakGlass":true/);
  });
});
