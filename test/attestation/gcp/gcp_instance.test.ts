/**
 * The gcp-instance attestor: GCE instance identity tokens (format=full) verified with Google's
 * keys by discovery (a local fake of Google's endpoints); each hostile case asserts its code, then
 * a good token is still accepted.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAttestorSet, type AttestorSet } from '../../../src/attestation/registry.js';
import { GCP_INSTANCE_TOKEN_TYPE, JWT_TOKEN_TYPE, AZURE_MSI_TOKEN_TYPE, AZURE_IMDS_TOKEN_TYPE, ID_TOKEN_TYPE } from '../../../src/attestation/token_types.js';
import { attestorConfigSchema } from '../../../src/config/schema.js';
import { FakeClock } from '../../support/fake_clock.js';
import { FakeGceMetadata } from '../../support/fake_gce_metadata.js';
import { generateTestKey } from '../../support/test_issuer.js';
import { AUDIENCE, expectRefused, TRUST_DOMAIN } from '../helpers.js';

let clock: FakeClock;
let gce: FakeGceMetadata;
let set: AttestorSet;

function build(extra: Record<string, unknown> = {}): AttestorSet {
  const config = attestorConfigSchema.parse({ kind: 'gcp-instance', discoveryUrl: gce.url, ...extra });
  return createAttestorSet([config], { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN });
}

beforeEach(async () => {
  clock = new FakeClock();
  gce = await FakeGceMetadata.start({ clock });
  set = build();
});
afterEach(async () => {
  set.close();
  await gce.close();
});

async function expectGood(s: AttestorSet = set): Promise<void> {
  const id = await s.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: await gce.mint({ audience: AUDIENCE }) });
  expect(id.id).toBe(`spiffe://${TRUST_DOMAIN}/gcp/acme-prod/europe-west1-b/4567890123456789012`);
}

describe('gcp-instance: a good instance identity token', () => {
  it('yields the VM identity and its compute_engine claims, as the token carried them', async () => {
    const token = await gce.mint({ audience: AUDIENCE, licenses: true });
    const id = await set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token });
    expect(id).toMatchObject({
      attestor: 'gcp-instance',
      attestorName: 'gcp-instance',
      issuer: 'https://accounts.google.com',
      subject: '109876543210987654321',
      id: `spiffe://${TRUST_DOMAIN}/gcp/acme-prod/europe-west1-b/4567890123456789012`,
      expiresAt: Math.floor(clock.now() / 1000) + 3600,
    });
    expect(id.claims).toMatchObject({
      project_id: 'acme-prod',
      project_number: 123456789012,
      zone: 'europe-west1-b',
      instance_id: '4567890123456789012',
      instance_name: 'web-1',
      instance_creation_timestamp: 1_890_000_000,
      email: '123456789012-compute@developer.gserviceaccount.com',
      sub: '109876543210987654321',
      license_id: ['1000204'],
    });
  });

  it('is accepted as a generic jwt or id_token too (routed by iss)', async () => {
    for (const type of [JWT_TOKEN_TYPE, ID_TOKEN_TYPE]) {
      const id = await set.attest({ type, value: await gce.mint({ audience: AUDIENCE }) });
      expect(id.attestor).toBe('gcp-instance');
    }
  });

  it('accepts a project of the allowlist by id or by number', async () => {
    for (const projects of [['acme-prod'], ['123456789012']]) {
      const s = build({ projects });
      await expectGood(s);
      s.close();
    }
  });
});

describe('gcp-instance: hostile tokens', () => {
  it('refuses a Google ID token without compute_engine claims (format=standard)', async () => {
    const token = await gce.mint({ audience: AUDIENCE, format: 'standard' });
    await expectRefused(set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token }), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'google.compute_engine', reason: 'missing' }, token });
    await expectGood();
  });

  it('refuses a token minted for another audience', async () => {
    const token = await gce.mint({ audience: 'https://other.example.com' });
    await expectRefused(set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token }), 'ERR_TOKEN_AUDIENCE_INVALID', { token });
    await expectGood();
  });

  it('refuses a token older than maxAge although it has not expired', async () => {
    const token = await gce.mint({ audience: AUDIENCE });
    clock.advance((300 + 61) * 1000);
    await expectRefused(set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token }), 'ERR_TOKEN_EXPIRED', { details: { claim: 'iat', reason: 'too_old' }, token });
    await expectGood();
  });

  it('refuses an expired token', async () => {
    const token = await gce.mint({ audience: AUDIENCE, iat: Math.floor(clock.now() / 1000) - 3700 });
    await expectRefused(set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token }), 'ERR_TOKEN_EXPIRED', { token });
    await expectGood();
  });

  it('refuses a VM of a project outside the allowlist', async () => {
    set.close();
    set = build({ projects: ['acme-staging', '999'] });
    const token = await gce.mint({ audience: AUDIENCE });
    await expectRefused(set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token }), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'project_id', reason: 'project_not_allowed' } });
    const allowed = build({ projects: ['acme-prod'] });
    await expectGood(allowed);
    allowed.close();
  });

  it('refuses a compute_engine claim that would inject a path segment into the identity', async () => {
    for (const computeEngine of [{ zone: '../x' }, { project_id: 'acme/prod' }, { instance_id: '12/34' }, { instance_id: 12 }]) {
      const token = await gce.mint({ audience: AUDIENCE, computeEngine });
      await expectRefused(set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token }), 'ERR_TOKEN_CLAIM_INVALID');
    }
    await expectGood();
  });

  it('refuses a token signed by a key Google does not publish', async () => {
    const token = await gce.mint({ audience: AUDIENCE, key: generateTestKey('RS256') });
    await expectRefused(set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token }), 'ERR_TOKEN_KEY_NOT_FOUND', { token });
    await expectGood();
  });

  it('refuses a token of another issuer sent with the gcp-instance type', async () => {
    const token = await gce.mint({ audience: AUDIENCE, claims: { iss: 'https://evil.example.com' } });
    await expectRefused(set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token }), 'ERR_TOKEN_ISSUER_UNKNOWN');
    await expectGood();
  });

  it('refuses its proof sent with another kind’s token type', async () => {
    const token = await gce.mint({ audience: AUDIENCE });
    for (const type of [AZURE_MSI_TOKEN_TYPE, AZURE_IMDS_TOKEN_TYPE, 'urn:stint:params:oauth:token-type:aws-iid']) {
      await expectRefused(set.attest({ type, value: token }), 'ERR_UNSUPPORTED_TOKEN_TYPE');
    }
    await expectGood();
  });

  it('allows only accounts.google.com as issuer in its configuration', () => {
    expect(attestorConfigSchema.safeParse({ kind: 'gcp-instance', issuer: 'https://evil.example.com' }).success).toBe(false);
  });
});
