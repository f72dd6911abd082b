/**
 * The aws-iid attestor: EC2 instance identity documents in AWS's three IMDS signature formats,
 * verified against configured certificates only, with the trust-on-first-use nonce binding kept in
 * a real Store. Each hostile case asserts its code, then a good document still verifies.
 */
import * as pkijs from 'pkijs';
import * as asn1js from 'asn1js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { attestorConfigSchema } from '../../../src/config/schema.js';
import { createAttestorSet, type AttestorSet } from '../../../src/attestation/registry.js';
import { AWS_IID_ATTESTOR } from '../../../src/attestation/aws/aws_iid.js';
import { AWS_IAM_TOKEN_TYPE, AWS_IID_TOKEN_TYPE, JWT_TOKEN_TYPE } from '../../../src/attestation/token_types.js';
import { openSqliteStore, type SqliteStore } from '../../../src/store/sqlite.js';
import { FakeClock } from '../../support/fake_clock.js';
import { documentText, FakeAwsCertificates, instanceDocument, type IidFormat, type InstanceDocument } from '../../support/fake_imds.js';
import { FakeEc2 } from '../../support/fake_ec2.js';
import { expectRefused, TRUST_DOMAIN, AUDIENCE } from '../helpers.js';

let certs: FakeAwsCertificates;
let store: SqliteStore;
const clock = new FakeClock();

beforeAll(() => {
  certs = new FakeAwsCertificates();
  store = openSqliteStore(':memory:');
});
afterAll(async () => {
  certs.remove();
  await store.close();
});

function attestors(config: Record<string, unknown> = {}, extra: Record<string, unknown>[] = []): AttestorSet {
  const configs = [{ kind: 'aws-iid', certificates: certs.bundleFile, ...config }, ...extra].map((c) => attestorConfigSchema.parse(c));
  return createAttestorSet(configs, { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN, bindings: store });
}

const nonce = (): string => randomBytes(24).toString('base64url');

function envelope(doc: InstanceDocument, format: IidFormat, options: { nonce?: string; text?: string; signature?: string } = {}): string {
  const text = options.text ?? documentText(doc);
  return JSON.stringify({ document: text, signature: options.signature ?? certs.sign(documentText(doc), format), format, nonce: options.nonce ?? nonce() });
}

const attest = (set: AttestorSet, value: string, type = AWS_IID_TOKEN_TYPE) => set.attest({ type, value });

/** A good, fresh instance still verifies (the refusal poisoned nothing). */
async function stillServes(set: AttestorSet): Promise<void> {
  const id = await attest(set, envelope(instanceDocument(), 'rsa2048'));
  expect(id.attestor).toBe('aws-iid');
}

describe('aws-iid: the three IMDS formats', () => {
  it.each(['rsa2048', 'pkcs7', 'signature'] as const)('verifies a %s document and yields the instance identity and claims', async (format) => {
    const set = attestors();
    const doc = instanceDocument();
    const id = await attest(set, envelope(doc, format));
    expect(id).toMatchObject({
      attestor: 'aws-iid',
      attestorName: 'aws-iid',
      issuer: 'aws-iid',
      subject: doc.instanceId,
      id: `spiffe://${TRUST_DOMAIN}/aws/123456789012/us-east-1/${doc.instanceId}`,
      claims: {
        account: '123456789012', region: 'us-east-1', instance_id: doc.instanceId, image_id: doc.imageId, instance_type: 'm5.large',
        availability_zone: 'us-east-1a', pending_time: doc.pendingTime, architecture: 'x86_64', private_ip: '10.0.1.23', signature_format: format,
      },
    });
    expect(id.expiresAt).toBeGreaterThan(clock.now() / 1000);
    set.close();
  });

  it('accepts signed attributes absent or present, and a detached rsa2048 signature over the document', async () => {
    const set = attestors();
    const doc = instanceDocument();
    const detached = certs.pkcs7(documentText(doc), certs.rsa2048, { detached: true });
    expect((await attest(set, envelope(doc, 'rsa2048', { signature: detached }))).subject).toBe(doc.instanceId);
  });

  it('accepts an envelope that embeds the configured certificate itself', async () => {
    const set = attestors();
    const doc = instanceDocument();
    const sig = certs.pkcs7(documentText(doc), certs.rsa2048, { embedCertificates: [certs.rsa2048] });
    expect((await attest(set, envelope(doc, 'rsa2048', { signature: sig }))).subject).toBe(doc.instanceId);
  });

  it('uses per-region certificates when configured by region', async () => {
    const set = attestors({ certificates: { 'us-east-1': [certs.rsa2048.certFile] } });
    await expect(attest(set, envelope(instanceDocument(), 'rsa2048'))).resolves.toMatchObject({ attestor: 'aws-iid' });
    await expectRefused(attest(set, envelope(instanceDocument({ region: 'eu-west-1', availabilityZone: 'eu-west-1b' }), 'rsa2048')), 'ERR_TOKEN_KEY_NOT_FOUND', { details: { reason: 'region_not_configured' } });
  });
});

describe('aws-iid: hostile documents', () => {
  it.each(['rsa2048', 'pkcs7', 'signature'] as const)('refuses a %s document altered after signing', async (format) => {
    const set = attestors();
    const doc = instanceDocument();
    const altered = documentText({ ...doc, accountId: '999999999999' });
    const err = await expectRefused(attest(set, envelope(doc, format, { text: altered })), 'ERR_TOKEN_SIGNATURE_INVALID');
    expect(['content_mismatch', 'signature_invalid']).toContain(err.details.reason);
    await stillServes(set);
  });

  it('refuses a detached signature over another document than the one presented', async () => {
    const set = attestors();
    const doc = instanceDocument();
    const detached = certs.pkcs7(documentText(doc), certs.rsa2048, { detached: true });
    await expectRefused(attest(set, envelope(doc, 'rsa2048', { signature: detached, text: documentText({ ...doc, instanceType: 'x1.32xlarge' }) })), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'content_mismatch' } });
    await stillServes(set);
  });

  it.each([
    ['rsa2048', () => certs.impostor],
    ['pkcs7', () => certs.impostorDsa],
  ] as const)('refuses a %s signature by a certificate that is not configured', async (format, signer) => {
    const set = attestors();
    const doc = instanceDocument();
    await expectRefused(attest(set, envelope(doc, format, { signature: certs.pkcs7(documentText(doc), signer()) })), 'ERR_TOKEN_KEY_NOT_FOUND', { details: { reason: 'certificate_not_configured' } });
    await stillServes(set);
  });

  it('refuses a bare signature by a key that is not configured', async () => {
    const set = attestors();
    const doc = instanceDocument();
    await expectRefused(attest(set, envelope(doc, 'signature', { signature: certs.signature(documentText(doc), certs.impostor) })), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'signature_invalid' } });
    await stillServes(set);
  });

  it('refuses an envelope embedding a certificate that is not configured, even beside a good signer', async () => {
    const set = attestors();
    const doc = instanceDocument();
    const sig = certs.pkcs7(documentText(doc), certs.rsa2048, { embedCertificates: [certs.rsa2048, certs.impostor] });
    await expectRefused(attest(set, envelope(doc, 'rsa2048', { signature: sig })), 'ERR_TOKEN_KEY_NOT_FOUND', { details: { reason: 'certificate_not_configured' } });
    await stillServes(set);
  });

  it('refuses a PKCS#7 envelope with an extra signer', async () => {
    const set = attestors();
    const doc = instanceDocument();
    const sig = certs.pkcs7(documentText(doc), certs.rsa2048, { extraSigners: [certs.impostor] });
    await expectRefused(attest(set, envelope(doc, 'rsa2048', { signature: sig })), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'signer_count' } });
    // Two genuine signers are refused too: exactly one is required.
    const two = certs.pkcs7(documentText(doc), certs.rsa2048, { extraSigners: [certs.rsa] });
    await expectRefused(attest(set, envelope(doc, 'rsa2048', { signature: two })), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'signer_count' } });
    await stillServes(set);
  });

  it('refuses a PKCS#7 envelope with its signer removed', async () => {
    const set = attestors();
    const doc = instanceDocument();
    const der = certs.pkcs7Der(documentText(doc), certs.rsa2048);
    const info = pkijs.ContentInfo.fromBER(der);
    const signed = new pkijs.SignedData({ schema: info.content });
    signed.signerInfos = [];
    const stripped = new pkijs.ContentInfo({ contentType: info.contentType, content: signed.toSchema(true) });
    const sig = Buffer.from(stripped.toSchema().toBER(false)).toString('base64');
    await expectRefused(attest(set, envelope(doc, 'rsa2048', { signature: sig })), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'signer_count' } });
    await stillServes(set);
  });

  it('refuses a pkcs7 (DSA) format carrying an RSA signature, and trailing bytes after the DER', async () => {
    const set = attestors();
    const doc = instanceDocument();
    await expectRefused(attest(set, envelope(doc, 'pkcs7', { signature: certs.pkcs7(documentText(doc), certs.rsa2048) })), 'ERR_TOKEN_SIGNATURE_INVALID', { details: { reason: 'format_mismatch' } });
    const der = certs.pkcs7Der(documentText(doc), certs.rsa2048);
    const padded = Buffer.concat([der, new asn1js.Null().toBER() as unknown as Uint8Array].map((b) => Buffer.from(b))).toString('base64');
    await expectRefused(attest(set, envelope(doc, 'rsa2048', { signature: padded })), 'ERR_TOKEN_MALFORMED', { details: { reason: 'pkcs7_malformed' } });
    await stillServes(set);
  });

  it('refuses malformed envelopes: extra member, duplicate member, bad nonce, not JSON, unknown format', async () => {
    const set = attestors();
    const doc = instanceDocument();
    const good = JSON.parse(envelope(doc, 'rsa2048')) as Record<string, string>;
    await expectRefused(attest(set, JSON.stringify({ ...good, region: 'us-east-1' })), 'ERR_TOKEN_MALFORMED', { details: { reason: 'envelope_members' } });
    await expectRefused(attest(set, `{"nonce":"${good['nonce']}",${JSON.stringify(good).slice(1)}`), 'ERR_TOKEN_DUPLICATE_MEMBER');
    await expectRefused(attest(set, JSON.stringify({ ...good, nonce: 'short' })), 'ERR_TOKEN_MALFORMED', { details: { reason: 'nonce_invalid' } });
    await expectRefused(attest(set, 'eyJhbGciOiJSUzI1NiJ9.e30.sig'), 'ERR_TOKEN_MALFORMED');
    await expectRefused(attest(set, JSON.stringify({ ...good, format: 'rsa4096' })), 'ERR_TOKEN_MALFORMED', { details: { reason: 'envelope_format' } });
    await expectRefused(attest(attestors({ formats: ['rsa2048'] }), envelope(doc, 'signature')), 'ERR_TOKEN_ALG_NOT_ALLOWED');
    await stillServes(set);
  });

  it('refuses a document whose fields could inject identity path segments', async () => {
    const set = attestors();
    await expectRefused(attest(set, envelope(instanceDocument({ instanceId: 'i-0123456789/../x' }), 'rsa2048')), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'instanceId' } });
    await stillServes(set);
  });

  it('refuses a document of an account outside the allowlist', async () => {
    const set = attestors({ accounts: ['111111111111'] });
    await expectRefused(attest(set, envelope(instanceDocument(), 'rsa2048')), 'ERR_TOKEN_CLAIM_INVALID', { details: { claim: 'account', reason: 'account_not_allowed' } });
    await expect(attest(set, envelope(instanceDocument({ accountId: '111111111111' }), 'rsa2048'))).resolves.toMatchObject({ claims: { account: '111111111111' } });
  });

  it('refuses an instance started longer ago than maxAge', async () => {
    const set = attestors({ maxAge: '1h' });
    const started = new Date(clock.now() - 2 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await expectRefused(attest(set, envelope(instanceDocument({ pendingTime: started }), 'rsa2048')), 'ERR_TOKEN_EXPIRED', { details: { reason: 'instance_too_old' } });
    const fresh = new Date(clock.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const id = await attest(set, envelope(instanceDocument({ pendingTime: fresh }), 'rsa2048'));
    expect(id.expiresAt).toBe(Math.floor((Date.parse(fresh) + 3600_000) / 1000));
  });

  it('refuses each kind\'s proof sent with another kind\'s token type', async () => {
    const set = attestors({}, [{ kind: 'aws-iam', serverId: 'stint.example', endpoints: ['http://127.0.0.1:9/'] }]);
    const value = envelope(instanceDocument(), 'rsa2048');
    await expectRefused(attest(set, value, AWS_IAM_TOKEN_TYPE), 'ERR_TOKEN_MALFORMED');
    await expectRefused(attest(set, value, JWT_TOKEN_TYPE), 'ERR_TOKEN_MALFORMED');
    await expectRefused(attest(set, value, 'urn:stint:params:oauth:token-type:gcp-instance-x'), 'ERR_UNSUPPORTED_TOKEN_TYPE');
    await expect(attest(set, value)).resolves.toMatchObject({ attestor: 'aws-iid' });
  });
});

describe('aws-iid: the replay rule (trust on first use of the client nonce)', () => {
  it('binds an instance to its first nonce: the same nonce verifies again, another is refused as a replay', async () => {
    const set = attestors({ bindingTtl: '1h' });
    const doc = instanceDocument();
    const mine = nonce();
    await attest(set, envelope(doc, 'rsa2048', { nonce: mine }));
    await expect(attest(set, envelope(doc, 'signature', { nonce: mine }))).resolves.toMatchObject({ subject: doc.instanceId });
    await expectRefused(attest(set, envelope(doc, 'rsa2048', { nonce: nonce() })), 'ERR_TOKEN_REPLAYED', { details: { reason: 'nonce_mismatch' } });
    // A second attestor set (another replica) on the same Store agrees.
    const replica = attestors({ bindingTtl: '1h' });
    await expectRefused(attest(replica, envelope(doc, 'pkcs7', { nonce: nonce() })), 'ERR_TOKEN_REPLAYED');
    await expect(attest(replica, envelope(doc, 'pkcs7', { nonce: mine }))).resolves.toMatchObject({ subject: doc.instanceId });
    // Once the binding's lifetime is over, the instance binds again on first use.
    clock.advance(3600_000);
    const next = nonce();
    await expect(attest(set, envelope(doc, 'rsa2048', { nonce: next }))).resolves.toMatchObject({ subject: doc.instanceId });
    await expectRefused(attest(set, envelope(doc, 'rsa2048', { nonce: mine })), 'ERR_TOKEN_REPLAYED');
  });

  it('resolves relative certificate paths against the configuration folder', () => {
    const abs = (f: string): string => (f.startsWith('/') ? f : `/etc/stint/${f}`);
    const bundle = attestorConfigSchema.parse({ kind: 'aws-iid', certificates: 'aws.pem' });
    expect(AWS_IID_ATTESTOR.resolvePaths!(bundle as never, abs)).toMatchObject({ certificates: ['/etc/stint/aws.pem'] });
    const byRegion = attestorConfigSchema.parse({ kind: 'aws-iid', certificates: { 'us-east-1': ['a.pem', '/abs/b.pem'] } });
    expect(AWS_IID_ATTESTOR.resolvePaths!(byRegion as never, abs)).toMatchObject({ certificates: { 'us-east-1': ['/etc/stint/a.pem', '/abs/b.pem'] } });
  });

  it('refuses to start without the Store\'s bindings', () => {
    const config = attestorConfigSchema.parse({ kind: 'aws-iid', certificates: certs.bundleFile });
    expect(() => createAttestorSet([config], { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN })).toThrow(/bindings/);
  });
});

describe('aws-iid: DescribeInstances (state and tags through the real EC2 SDK)', () => {
  let ec2: FakeEc2;
  beforeAll(async () => {
    ec2 = await FakeEc2.start({ principals: [{ accessKeyId: 'AKIASTINTEC2READER01', secretAccessKey: 'reader-secret' }] });
    process.env['STINT_TEST_EC2_KEY'] = 'AKIASTINTEC2READER01';
    process.env['STINT_TEST_EC2_SECRET'] = 'reader-secret';
  });
  afterAll(async () => ec2.close());
  const describeConfig = (): Record<string, unknown> => ({ describeInstances: { endpoint: ec2.url, credentials: { accessKeyIdEnv: 'STINT_TEST_EC2_KEY', secretAccessKeyEnv: 'STINT_TEST_EC2_SECRET' }, cacheTtl: 30 } });

  it('adds tags and state as claims and refuses a stopped, terminated or unknown instance', async () => {
    const set = attestors(describeConfig());
    const running = instanceDocument();
    ec2.addInstance({ instanceId: running.instanceId, ownerId: running.accountId, state: 'running', tags: { Name: 'web-1', Role: 'web' } });
    const id = await attest(set, envelope(running, 'rsa2048'));
    expect(id.claims).toMatchObject({ instance_state: 'running', 'tags.Name': 'web-1', 'tags.Role': 'web' });
    expect(id.recheckAt).toBe(Math.floor(clock.now() / 1000) + 30);

    for (const state of ['stopped', 'terminated'] as const) {
      const doc = instanceDocument();
      ec2.addInstance({ instanceId: doc.instanceId, ownerId: doc.accountId, state, tags: {} });
      await expectRefused(attest(set, envelope(doc, 'rsa2048')), 'ERR_TOKEN_REVIEW_REJECTED', { details: { reason: 'instance_not_running', state } });
    }
    await expectRefused(attest(set, envelope(instanceDocument(), 'rsa2048')), 'ERR_TOKEN_REVIEW_REJECTED', { details: { reason: 'instance_not_found' } });
    await expect(attest(set, envelope(running, 'signature', { nonce: undefined }))).rejects.toMatchObject({ code: 'ERR_TOKEN_REPLAYED' });
    set.close();
  });

  it('caches an answer for cacheTtl and sees a stop after it', async () => {
    const set = attestors(describeConfig());
    const doc = instanceDocument();
    const mine = nonce();
    ec2.addInstance({ instanceId: doc.instanceId, ownerId: doc.accountId, state: 'running', tags: {} });
    await attest(set, envelope(doc, 'rsa2048', { nonce: mine }));
    const calls = ec2.calls.length;
    ec2.setState(doc.instanceId, 'stopped');
    await attest(set, envelope(doc, 'rsa2048', { nonce: mine }));
    expect(ec2.calls.length).toBe(calls);
    clock.advance(31_000);
    await expectRefused(attest(set, envelope(doc, 'rsa2048', { nonce: mine })), 'ERR_TOKEN_REVIEW_REJECTED', { details: { reason: 'instance_not_running' } });
    set.close();
  });

  it('maps EC2 refusing Stint\'s credentials to issuer unavailable, never to a verified identity', async () => {
    process.env['STINT_TEST_EC2_BAD'] = 'wrong-secret';
    const set = attestors({ describeInstances: { endpoint: ec2.url, credentials: { accessKeyIdEnv: 'STINT_TEST_EC2_KEY', secretAccessKeyEnv: 'STINT_TEST_EC2_BAD' } } });
    const doc = instanceDocument();
    ec2.addInstance({ instanceId: doc.instanceId, ownerId: doc.accountId, state: 'running', tags: {} });
    await expectRefused(attest(set, envelope(doc, 'rsa2048')), 'ERR_ISSUER_UNAVAILABLE', { details: { reason: 'describe_instances_failed' } });
    set.close();
    const good = attestors(describeConfig());
    await expect(attest(good, envelope(doc, 'rsa2048'))).resolves.toMatchObject({ claims: { instance_state: 'running' } });
    good.close();
  });
});
