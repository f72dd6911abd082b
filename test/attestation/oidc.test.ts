/** The generic OIDC attestor, with GitLab CI id_tokens as the example. */
import { afterEach, describe, expect, it } from 'vitest';
import { epochSeconds } from '../../src/clock.js';
import { AUDIENCE, expectRefused, startHarness, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('generic OIDC (GitLab CI id_tokens)', () => {
  it('builds the identity from the configured identity claim', async () => {
    h = await startHarness({ kind: 'oidc', config: { name: 'gitlab', identityClaim: 'project_path' }, issuer: { path: '/gitlab' } });
    const token = await h.issuer.mintGitlab({ projectPath: 'Platform/Deployer', projectId: 4242, ref: 'main', audience: AUDIENCE, environment: 'production' });
    const id = await h.set.attest(token);
    expect(id).toMatchObject({
      attestor: 'oidc',
      attestorName: 'gitlab',
      issuer: h.issuer.issuer,
      subject: 'project_path:Platform/Deployer:ref_type:branch:ref:main',
      id: `${h.issuer.issuer}#Platform/Deployer`,
      expiresAt: epochSeconds(h.clock) + 3600,
    });
    expect(id.claims).toMatchObject({ project_id: '4242', namespace_path: 'Platform', ref_protected: 'true', environment: 'production', runner_id: 1 });
  });

  it('defaults the identity claim to sub', async () => {
    h = await startHarness({ kind: 'oidc' });
    const id = await h.set.attest(await h.issuer.mintGitlab({ projectPath: 'g/p', projectId: 1, audience: AUDIENCE }));
    expect(id.id).toBe(`${h.issuer.issuer}#project_path:g/p:ref_type:branch:ref:main`);
  });

  it('refuses a token without the identity claim', async () => {
    h = await startHarness({ kind: 'oidc', config: { identityClaim: 'project_path' } });
    const token = await h.issuer.mintGitlab({ projectPath: 'g/p', projectId: 1, audience: AUDIENCE, claims: { project_path: undefined } });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'project_path', reason: 'missing' } });
  });

  it('refuses an identity claim that is not a string', async () => {
    h = await startHarness({ kind: 'oidc', config: { identityClaim: 'project_id' } });
    const token = await h.issuer.mintGitlab({ projectPath: 'g/p', projectId: 1, audience: AUDIENCE, claims: { project_id: { id: 1 } } });
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'project_id', reason: 'invalid' } });
  });

  it('refuses a token without sub', async () => {
    h = await startHarness({ kind: 'oidc' });
    const token = await h.issuer.mint(h.issuer.claims(AUDIENCE, { sub: undefined }));
    await expectRefused(h.set.attest(token), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'sub' } });
  });

  it('refuses an empty or non-string sub', async () => {
    h = await startHarness({ kind: 'oidc' });
    await expectRefused(h.set.attest(await h.issuer.mint(h.issuer.claims(AUDIENCE, { sub: '' }))), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'sub' } });
    await expectRefused(h.set.attest(await h.issuer.mint(h.issuer.claims(AUDIENCE, { sub: 7 }))), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'sub' } });
  });

  it('accepts ES256 when configured', async () => {
    h = await startHarness({ kind: 'oidc', config: { algorithms: ['ES256'] }, issuer: { alg: 'ES256' } });
    await expect(h.set.attest(await h.goodToken())).resolves.toBeDefined();
  });

  it('accepts EdDSA when configured', async () => {
    h = await startHarness({ kind: 'oidc', config: { algorithms: ['EdDSA'] }, issuer: { alg: 'EdDSA' } });
    await expect(h.set.attest(await h.goodToken())).resolves.toBeDefined();
  });
});
