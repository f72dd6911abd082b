/** The GitHub Actions attestor: GitHub's claims reach policy byte-exact; identity `<issuer>#<sub>`. */
import { afterEach, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/clock.js';
import { createAttestorSet } from '../../src/attestation/registry.js';
import { attestorConfigSchema } from '../../src/config/schema.js';
import { AUDIENCE, expectRefused, startHarness, TRUST_DOMAIN, type Harness } from './helpers.js';
import { tokenParts } from '../support/test_issuer.js';
import { FakeClock } from '../support/fake_clock.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('GitHub Actions tokens', () => {
  it('exposes GitHub claims as-is, with numeric ids as GitHub sends them, never case-folded', async () => {
    h = await startHarness({ kind: 'github-actions' });
    const token = await h.issuer.mintGithub({
      repository: 'Acme-Corp/Payments-API',
      repositoryId: 892341,
      ownerId: 1234567,
      ref: 'refs/heads/Main',
      environment: 'Production',
      audience: AUDIENCE,
      actor: 'Octo-Cat',
      runId: 998877,
      sha: 'a'.repeat(40),
      jobWorkflowRef: 'Acme-Corp/shared/.github/workflows/deploy.yml@refs/tags/v1',
    });
    expect(JSON.parse(tokenParts(token).headerJson)).toHaveProperty('x5t');
    const id = await h.set.attest(token);
    expect(id).toMatchObject({
      attestor: 'github-actions',
      attestorName: 'github-actions',
      issuer: h.issuer.issuer,
      subject: 'repo:Acme-Corp/Payments-API:environment:Production',
      id: `${h.issuer.issuer}#repo:Acme-Corp/Payments-API:environment:Production`,
      expiresAt: epochSeconds(h.clock) + 300,
    });
    expect(id.claims).toMatchObject({
      repository: 'Acme-Corp/Payments-API',
      repository_id: '892341',
      repository_owner: 'Acme-Corp',
      repository_owner_id: '1234567',
      ref: 'refs/heads/Main',
      environment: 'Production',
      actor: 'Octo-Cat',
      run_id: '998877',
      sha: 'a'.repeat(40),
      workflow_ref: 'Acme-Corp/Payments-API/.github/workflows/deploy.yml@refs/heads/Main',
      job_workflow_ref: 'Acme-Corp/shared/.github/workflows/deploy.yml@refs/tags/v1',
      ref_type: 'branch',
      event_name: 'push',
    });
  });

  it('builds sub from the ref when there is no environment', async () => {
    h = await startHarness({ kind: 'github-actions' });
    const id = await h.set.attest(await h.issuer.mintGithub({ repository: 'acme/app', repositoryId: 1, ownerId: 2, ref: 'refs/tags/v1.2.3', audience: AUDIENCE }));
    expect(id.id).toBe(`${h.issuer.issuer}#repo:acme/app:ref:refs/tags/v1.2.3`);
    expect(id.claims).not.toHaveProperty('environment');
  });

  it("refuses a token with GitHub's default audience (the owner URL), not Stint's", async () => {
    h = await startHarness({ kind: 'github-actions' });
    const token = await h.issuer.mintGithub({ repository: 'acme/app', repositoryId: 1, ownerId: 2, audience: 'https://github.com/acme' });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_AUDIENCE_INVALID', { details: { reason: 'not_accepted' } });
  });

  it('refuses an expired job token', async () => {
    h = await startHarness({ kind: 'github-actions' });
    const token = await h.issuer.mintGithub({ repository: 'acme/app', repositoryId: 1, ownerId: 2, audience: AUDIENCE });
    h.clock.advance((300 + 61) * 1000);
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_EXPIRED');
  });

  it('defaults to the github.com issuer and fetches nothing at construction', () => {
    const config = attestorConfigSchema.parse({ kind: 'github-actions' });
    const set = createAttestorSet([config], { clock: new FakeClock(), audience: AUDIENCE, trustDomain: TRUST_DOMAIN });
    expect(set.attestors[0]!.jwt?.issuers).toEqual(['https://token.actions.githubusercontent.com']);
    set.close();
  });
});
