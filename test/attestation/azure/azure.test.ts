/**
 * The azure attestor: Entra managed identity tokens (fake tenant issuer, keys by discovery) and
 * IMDS attested documents (PKCS#7 by a test CA, nonces from a real SQLite Store). Each hostile case
 * asserts its code, then a good proof is still accepted.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AttestationNonces } from '../../../src/attestation/attestor.js';
import { createStoreNonces } from '../../../src/attestation/nonces.js';
import { createAttestorSet, type AttestorSet } from '../../../src/attestation/registry.js';
import { ACCESS_TOKEN_TYPE, AZURE_IMDS_TOKEN_TYPE, AZURE_MSI_TOKEN_TYPE, GCP_INSTANCE_TOKEN_TYPE, JWT_TOKEN_TYPE } from '../../../src/attestation/token_types.js';
import { attestorConfigSchema } from '../../../src/config/schema.js';
import { openSqliteStore, type SqliteStore } from '../../../src/store/sqlite.js';
import { FakeAzureImds } from '../../support/fake_azure_imds.js';
import { FAKE_CLOCK_START_MS, FakeClock } from '../../support/fake_clock.js';
import { generateTestKey } from '../../support/test_issuer.js';
import { AUDIENCE, expectRefused, TRUST_DOMAIN } from '../helpers.js';

let clock: FakeClock;
let az: FakeAzureImds;
let store: SqliteStore;
let nonces: AttestationNonces;
let set: AttestorSet;
const opened: AttestorSet[] = [];

function build(extra: Record<string, unknown> = {}): AttestorSet {
  const config = attestorConfigSchema.parse({
    kind: 'azure',
    tenantId: az.vm.tenantId,
    discoveryUrl: az.discoveryUrl,
    attestedDocument: { roots: [az.rootFile] },
    ...extra,
  });
  const s = createAttestorSet([config], { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN, bindings: store, nonces });
  opened.push(s);
  return s;
}

// One fake (its CA and keys take a while to make) for the whole file; the clock restarts per test.
beforeAll(async () => {
  clock = new FakeClock();
  az = await FakeAzureImds.start({ clock });
});
afterAll(async () => {
  await az.close();
});
beforeEach(() => {
  clock.set(FAKE_CLOCK_START_MS);
  store = openSqliteStore(':memory:');
  nonces = createStoreNonces(store, clock);
  set = build();
});
afterEach(async () => {
  for (const s of opened.splice(0)) s.close();
  await store.close();
});

const MSI_ID = () => `spiffe://${TRUST_DOMAIN}/azure/${az.vm.tenantId}/${az.vm.subscriptionId}/rg-web/Microsoft.Compute/virtualMachines/web-vm-1`;

async function expectGoodToken(s: AttestorSet = set): Promise<void> {
  const id = await s.attest({ type: AZURE_MSI_TOKEN_TYPE, value: await az.mintMsi({ resource: AUDIENCE }) });
  expect(id.id).toBe(MSI_ID());
}
async function expectGoodDocument(s: AttestorSet = set): Promise<void> {
  const id = await s.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce: await nonces.issue('azure', 60) }) });
  expect(id.id).toBe(`spiffe://${TRUST_DOMAIN}/azure/vm/${az.vm.subscriptionId}/${az.vm.vmId}`);
}

describe('azure: managed identity tokens', () => {
  it('yields the managed identity with its resource id split for policy, claims byte-exact', async () => {
    const token = await az.mintMsi({ resource: AUDIENCE });
    for (const type of [AZURE_MSI_TOKEN_TYPE, ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE]) {
      const id = await set.attest({ type, value: token });
      expect(id).toMatchObject({ attestor: 'azure', attestorName: 'azure', issuer: az.issuer, subject: az.vm.objectId, id: MSI_ID() });
      expect(id.claims).toMatchObject({
        tid: az.vm.tenantId,
        oid: az.vm.objectId,
        appid: az.vm.clientId,
        subscription_id: az.vm.subscriptionId,
        resource_group: 'rg-web',
        provider: 'Microsoft.Compute/virtualMachines',
        resource_name: 'web-vm-1',
      });
    }
  });

  it('names a user-assigned identity by its resource and lifts xms_az_rid (the VM) when present', async () => {
    const sub = az.vm.subscriptionId;
    const token = await az.mintMsi({
      resource: AUDIENCE,
      claims: {
        xms_mirid: `/subscriptions/${sub}/resourcegroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/deployer`,
        xms_az_rid: `/subscriptions/${sub}/resourcegroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-vm-1`,
      },
    });
    const id = await set.attest({ type: AZURE_MSI_TOKEN_TYPE, value: token });
    expect(id.id).toBe(`spiffe://${TRUST_DOMAIN}/azure/${az.vm.tenantId}/${sub}/rg-ids/Microsoft.ManagedIdentity/userAssignedIdentities/deployer`);
    expect(id.claims).toMatchObject({ resource_group: 'rg-ids', resource_name: 'deployer', vm_name: 'web-vm-1', vm_resource_group: 'rg-web' });
  });

  it('refuses a token of another tenant (even signed with the tenant keys)', async () => {
    const token = await az.mintMsi({ resource: AUDIENCE, claims: { tid: '11111111-2222-4333-8444-555555555555' } });
    await expectRefused(set.attest({ type: AZURE_MSI_TOKEN_TYPE, value: token }), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'tid', reason: 'other_tenant' }, token });
    await expectGoodToken();
  });

  it("refuses a token from another tenant's issuer", async () => {
    const token = await az.mintMsi({ resource: AUDIENCE, claims: { iss: 'https://sts.windows.net/11111111-2222-4333-8444-555555555555/' } });
    await expectRefused(set.attest({ type: AZURE_MSI_TOKEN_TYPE, value: token }), 'ERR_TOKEN_ISSUER_UNKNOWN', { token });
    await expectGoodToken();
  });

  it('refuses a token for another audience (Azure Resource Manager)', async () => {
    const token = await az.mintMsi({ resource: 'https://management.azure.com/' });
    await expectRefused(set.attest({ type: AZURE_MSI_TOKEN_TYPE, value: token }), 'ERR_TOKEN_AUDIENCE_INVALID', { token });
    await expectGoodToken();
  });

  it('refuses a token signed by a key the tenant does not publish, and an expired one', async () => {
    const forged = await az.mintMsi({ resource: AUDIENCE, key: generateTestKey('RS256') });
    await expectRefused(set.attest({ type: AZURE_MSI_TOKEN_TYPE, value: forged }), 'ERR_TOKEN_KEY_NOT_FOUND');
    const old = await az.mintMsi({ resource: AUDIENCE, iat: Math.floor(clock.now() / 1000) - 90_000 });
    await expectRefused(set.attest({ type: AZURE_MSI_TOKEN_TYPE, value: old }), 'ERR_TOKEN_EXPIRED');
    await expectGoodToken();
  });

  it('refuses an application token that is no managed identity, and a resource id with path tricks', async () => {
    const app = await az.mintMsi({ resource: AUDIENCE, claims: { xms_mirid: undefined } });
    await expectRefused(set.attest({ type: AZURE_MSI_TOKEN_TYPE, value: app }), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'xms_mirid', reason: 'missing' } });
    const sub = az.vm.subscriptionId;
    for (const mirid of [`/subscriptions/${sub}/resourcegroups/../providers/Microsoft.Compute/virtualMachines/x`, `/subscriptions/${sub}/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/x/extensions/y`]) {
      const token = await az.mintMsi({ resource: AUDIENCE, claims: { xms_mirid: mirid } });
      await expectRefused(set.attest({ type: AZURE_MSI_TOKEN_TYPE, value: token }), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'xms_mirid' } });
    }
    await expectGoodToken();
  });

  it('names a token without xms_mirid by its object id when managed identities are not required', async () => {
    const s = build({ requireManagedIdentity: false });
    const id = await s.attest({ type: AZURE_MSI_TOKEN_TYPE, value: await az.mintMsi({ resource: AUDIENCE, claims: { xms_mirid: undefined } }) });
    expect(id.id).toBe(`spiffe://${TRUST_DOMAIN}/azure/${az.vm.tenantId}/oid/${az.vm.objectId}`);
  });

  it('refuses a subscription outside the allowlist', async () => {
    const s = build({ subscriptions: ['00000000-0000-4000-8000-000000000000'] });
    await expectRefused(s.attest({ type: AZURE_MSI_TOKEN_TYPE, value: await az.mintMsi({ resource: AUDIENCE }) }), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'subscription_id', reason: 'subscription_not_allowed' } });
    await expectGoodToken(build({ name: 'allowed', subscriptions: [az.vm.subscriptionId] }));
  });

  it('refuses its token sent with another kind’s token type', async () => {
    const token = await az.mintMsi({ resource: AUDIENCE });
    await expectRefused(set.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: token }), 'ERR_UNSUPPORTED_TOKEN_TYPE');
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: token }), 'ERR_TOKEN_MALFORMED');
    await expectGoodToken();
  });

  it('refuses an issuer that is not the tenant’s in its configuration', () => {
    const config = attestorConfigSchema.parse({ kind: 'azure', tenantId: az.vm.tenantId, issuer: 'https://evil.example.com/' });
    expect(() => createAttestorSet([config], { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN })).toThrowError(/issuer/);
  });
});

describe('azure: IMDS attested documents', () => {
  it('yields the VM identity from a document signed over a nonce Stint issued', async () => {
    const nonce = await nonces.issue('azure', 60);
    expect(nonce).toMatch(/^\d{10}$/);
    const id = await set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce }) });
    expect(id).toMatchObject({
      attestor: 'azure',
      issuer: 'https://metadata.azure.com/',
      subject: az.vm.vmId,
      id: `spiffe://${TRUST_DOMAIN}/azure/vm/${az.vm.subscriptionId}/${az.vm.vmId}`,
      claims: { vm_id: az.vm.vmId, subscription_id: az.vm.subscriptionId, sku: az.vm.sku, license_type: '' },
      noCache: true,
    });
  });

  it('refuses a replayed document (its nonce is consumed once)', async () => {
    const doc = az.attested({ nonce: await nonces.issue('azure', 60) });
    await set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: doc });
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: doc }), 'ERR_TOKEN_REPLAYED', { details: { claim: 'nonce' } });
    await expectGoodDocument();
  });

  it('refuses a foreign nonce, a stale nonce and a nonce issued for another kind', async () => {
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce: '1234567890' }) }), 'ERR_TOKEN_REPLAYED');
    const stale = await nonces.issue('azure', 60);
    clock.advance(61_000);
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce: stale }) }), 'ERR_TOKEN_REPLAYED');
    const other = await nonces.issue('aws-iid', 60);
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce: other }) }), 'ERR_TOKEN_REPLAYED');
    await expectGoodDocument();
  });

  it('refuses content altered after signing', async () => {
    const nonce = await nonces.issue('azure', 60);
    const original = az.content({ nonce });
    const signature = az.sign(original);
    // Re-encode the envelope with the vmId changed inside the DER (same length).
    const der = Buffer.from(signature, 'base64');
    const at = der.indexOf(Buffer.from(az.vm.vmId));
    der.write('1', at, 'latin1');
    const altered = JSON.stringify({ encoding: 'pkcs7', signature: der.toString('base64') });
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: altered }), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'signature_invalid' } });
    // The refused document did not burn its nonce.
    const id = await set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: JSON.stringify({ encoding: 'pkcs7', signature }) });
    expect(id.subject).toBe(az.vm.vmId);
  });

  it('refuses a signer that does not chain to the configured roots, or has another name', async () => {
    const foreign = az.issue('foreign', 'metadata.azure.com', { foreign: true });
    const nonce = await nonces.issue('azure', 60);
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce, signer: foreign }) }), 'ERR_TOKEN_KEY_NOT_FOUND', { details: { reason: 'certificate_not_trusted' } });
    const misnamed = az.issue('misnamed', 'attacker.example.com');
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce, signer: misnamed }) }), 'ERR_TOKEN_KEY_NOT_FOUND', { details: { reason: 'signer_name' } });
    const id = await set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce }) });
    expect(id.subject).toBe(az.vm.vmId);
  });

  it('refuses an envelope with two signers', async () => {
    const nonce = await nonces.issue('azure', 60);
    const second = az.issue('second', 'metadata.azure.com');
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce, extraSigner: second }) }), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'signer_count' } });
    await expectGoodDocument();
  });

  it('refuses an expired document and one of a subscription outside the allowlist', async () => {
    const nonce = await nonces.issue('azure', 60);
    const expired = az.attested({ nonce, createdOn: clock.now() - 7 * 3600_000 });
    await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: expired }), 'ERR_TOKEN_EXPIRED', { details: { claim: 'timeStamp.expiresOn' } });
    const s = build({ subscriptions: ['00000000-0000-4000-8000-000000000000'] });
    await expectRefused(s.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce }) }), 'ERR_TOKEN_CLAIM_INVALID', { details: { reason: 'subscription_not_allowed' } });
    await expectGoodDocument();
  });

  it('refuses malformed envelopes and its proof sent with another kind’s token type', async () => {
    for (const value of ['not json', '{"encoding":"pkcs7","signature":"@@@"}', '{"encoding":"pkcs7","signature":"MIIB","extra":1}', '{"encoding":"pkcs7","signature":"AAAA"}']) {
      await expectRefused(set.attest({ type: AZURE_IMDS_TOKEN_TYPE, value }), 'ERR_TOKEN_MALFORMED');
    }
    const doc = az.attested({ nonce: await nonces.issue('azure', 60) });
    await expectRefused(set.attest({ type: AZURE_MSI_TOKEN_TYPE, value: doc }), 'ERR_TOKEN_MALFORMED');
    await expectRefused(set.attest({ type: 'urn:stint:params:oauth:token-type:aws-iid', value: doc }), 'ERR_UNSUPPORTED_TOKEN_TYPE');
    await expectGoodDocument();
  });

  it('is not a token type at all when attested documents are not configured', async () => {
    const s = build({ name: 'msi-only', attestedDocument: undefined });
    await expectRefused(s.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: az.attested({ nonce: await nonces.issue('azure', 60) }) }), 'ERR_UNSUPPORTED_TOKEN_TYPE');
  });
});
