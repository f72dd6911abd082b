/**
 * Attestation benchmark (issue 10): each attestor kind's verify cost beside the raw crypto cost of
 * its signature, measured in one run. The attestor set verifies distinct proofs one after the
 * other (the pipeline's verified-identity cache is not in the way); node:crypto verifies the same
 * algorithm and key size as many times. aws-iam's cost is the round trip to STS (a local STS that
 * verifies SigV4 for real here); its raw cost is one SigV4 signature check (HMAC-SHA256 chain).
 */
import { constants, createHmac, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { signGetCallerIdentity } from '../../src/client/subject_token/aws_iam.js';
import { FakeSts } from '../support/fake_sts.js';
import { randomBytes } from 'node:crypto';
import { createStoreNonces } from '../../src/attestation/nonces.js';
import { createAttestorSet, type AttestorSet } from '../../src/attestation/registry.js';
import { AWS_IAM_TOKEN_TYPE, AWS_IID_TOKEN_TYPE, AZURE_IMDS_TOKEN_TYPE, AZURE_MSI_TOKEN_TYPE, GCP_INSTANCE_TOKEN_TYPE, JWT_TOKEN_TYPE } from '../../src/attestation/token_types.js';
import { systemClock } from '../../src/clock.js';
import { attestorConfigSchema } from '../../src/config/schema.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { FakeAzureImds } from '../support/fake_azure_imds.js';
import { FakeGceMetadata } from '../support/fake_gce_metadata.js';
import { documentText, FakeAwsCertificates, instanceDocument, type IidFormat } from '../support/fake_imds.js';
import { TestIssuer } from '../support/test_issuer.js';
import { benchSelected } from './sections.js';
import { createStintJwtProvider } from '../../src/credentials/stint_jwt.js';
import { Keyring } from '../../src/keys/keyring.js';
import { FakeClock } from '../support/fake_clock.js';
import { draftFor } from '../credentials/drafts.js';

const AUDIENCE = 'https://stint.bench.test';
const N = Number(process.env.STINT_BENCH_ATTEST_N ?? 400);

/** Mean microseconds per call of `fn` over `values`, after a short warm-up. */
async function perCall<T>(values: readonly T[], fn: (v: T) => Promise<unknown> | unknown, warmup = 20): Promise<number> {
  for (const v of values.slice(0, Math.min(warmup, values.length))) await fn(v);
  const started = process.hrtime.bigint();
  for (const v of values) await fn(v);
  return Number(process.hrtime.bigint() - started) / 1000 / values.length;
}

/** Raw node:crypto verify of one signature, `n` times. */
function rawVerify(kind: 'rsa' | 'dsa', algorithm: string, n: number): Promise<number> {
  const { publicKey, privateKey } = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
  const data = randomBytes(600);
  const signature = sign(algorithm, data, kind === 'rsa' ? { key: privateKey, padding: constants.RSA_PKCS1_PADDING } : privateKey);
  const key = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }));
  return perCall(Array.from({ length: n }, () => 0), () => verify(algorithm, data, key, signature));
}

const rows: string[] = [];
const row = (kind: string, us: number, raw: number, note = ''): void => {
  rows.push(`${kind.padEnd(34)} ${us.toFixed(0).padStart(7)} µs   raw ${raw.toFixed(0).padStart(5)} µs   ${(us / raw).toFixed(1).padStart(5)} ×  ${note}`);
};

async function main(): Promise<void> {
  const rawRs256 = await rawVerify('rsa', 'sha256', N);
  const store = openSqliteStore(':memory:');
  const set = (config: Record<string, unknown>): AttestorSet =>
    createAttestorSet([attestorConfigSchema.parse(config)], { clock: systemClock, audience: AUDIENCE, trustDomain: 'bench.test', bindings: store, nonces: createStoreNonces(store, systemClock) });

  // JWT kinds: RS256 over discovery/JWKS served on loopback (keys cached after the first fetch).
  const k8s = await TestIssuer.start();
  const kube = set({ kind: 'kubernetes', issuer: k8s.issuer });
  const kubeTokens = await Promise.all(Array.from({ length: N }, (_, i) => k8s.mintKubernetes({ namespace: 'bench', serviceAccount: `sa-${i}`, audience: AUDIENCE })));
  row('kubernetes (JWT RS256)', await perCall(kubeTokens, (t) => kube.attest({ type: JWT_TOKEN_TYPE, value: t })), rawRs256);

  const gce = await FakeGceMetadata.start();
  const gcp = set({ kind: 'gcp-instance', discoveryUrl: gce.url });
  const gcpTokens = await Promise.all(Array.from({ length: N }, () => gce.mint({ audience: AUDIENCE })));
  row('gcp-instance (JWT RS256)', await perCall(gcpTokens, (t) => gcp.attest({ type: GCP_INSTANCE_TOKEN_TYPE, value: t })), rawRs256);

  const az = await FakeAzureImds.start();
  const azure = set({ kind: 'azure', tenantId: az.vm.tenantId, discoveryUrl: az.discoveryUrl, attestedDocument: { roots: [az.rootFile] } });
  const msiTokens = await Promise.all(Array.from({ length: N }, () => az.mintMsi({ resource: AUDIENCE })));
  row('azure managed identity (JWT RS256)', await perCall(msiTokens, (t) => azure.attest({ type: AZURE_MSI_TOKEN_TYPE, value: t })), rawRs256);
  // Each attested document carries a one-time Stint nonce, so each is signed (openssl) ahead: fewer of them.
  const nonces = createStoreNonces(store, systemClock);
  const docs = await Promise.all(Array.from({ length: Math.min(N, 60) }, async () => az.attested({ nonce: await nonces.issue('azure', 600) })));
  const attestDoc = (d: string): Promise<unknown> => azure.attest({ type: AZURE_IMDS_TOKEN_TYPE, value: d });
  for (const d of docs.slice(0, 20)) await attestDoc(d);
  row('azure attested document (PKCS#7)', await perCall(docs.slice(20), attestDoc, 0), rawRs256, 'incl. the one-time nonce claim in the store');

  // aws-iid: one instance, its bound nonce, the three IMDS signature formats.
  const certs = new FakeAwsCertificates();
  const aws = set({ kind: 'aws-iid', certificates: certs.bundleFile });
  const doc = instanceDocument();
  const text = documentText(doc);
  const nonce = randomBytes(24).toString('base64url');
  const rawDsa = await rawVerify('dsa', 'sha256', N);
  for (const [format, raw, note] of [['rsa2048', rawRs256, 'PKCS#7 RSA-SHA256'], ['signature', rawRs256, 'bare RSA'], ['pkcs7', rawDsa, 'PKCS#7 DSA (raw: DSA)']] as [IidFormat, number, string][]) {
    const envelope = JSON.stringify({ document: text, signature: certs.sign(text, format), format, nonce });
    row(`aws-iid (${format})`, await perCall(Array.from({ length: N }, () => envelope), (v) => aws.attest({ type: AWS_IID_TOKEN_TYPE, value: v })), raw, `${note}; incl. the instance binding read`);
  }

  // aws-iam: signed GetCallerIdentity requests of an assumed role, forwarded to a local STS.
  const user = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const sts = await FakeSts.start({ principals: [{ ...user, arn: 'arn:aws:iam::123456789012:user/ops/bench' }] });
  sts.addRole({ arn: sts.roleArn('web') });
  const stsClient = new STSClient({ region: 'us-east-1', endpoint: sts.url, credentials: user });
  const assumed = await stsClient.send(new AssumeRoleCommand({ RoleArn: sts.roleArn('web'), RoleSessionName: 'bench' }));
  stsClient.destroy();
  const role = { accessKeyId: assumed.Credentials!.AccessKeyId!, secretAccessKey: assumed.Credentials!.SecretAccessKey!, sessionToken: assumed.Credentials!.SessionToken! };
  const iam = set({ kind: 'aws-iam', serverId: 'bench.test', endpoints: [`${sts.url}/`] });
  const requests = await Promise.all(Array.from({ length: Math.min(N, 200) }, () => signGetCallerIdentity({ credentials: role, region: 'us-east-1', endpoint: `${sts.url}/`, serverId: 'bench.test' })));
  const hmacChain = await perCall(Array.from({ length: N }, () => 0), () => {
    let k: Buffer = createHmac('sha256', `AWS4${user.secretAccessKey}`).update('20261203').digest();
    for (const part of ['us-east-1', 'sts', 'aws4_request']) k = createHmac('sha256', k).update(part).digest();
    return createHmac('sha256', k).update(randomBytes(300)).digest('hex');
  });
  row('aws-iam (GetCallerIdentity via STS)', await perCall(requests, (r) => iam.attest({ type: AWS_IAM_TOKEN_TYPE, value: r })), hmacChain, 'a loopback STS round trip that verifies SigV4; raw: the SigV4 HMAC chain');

  console.log(`\nAttestation: verify cost per proof (${N} proofs each, one run), beside node:crypto verifying the same algorithm`);
  for (const r of rows) console.log(`  ${r}`);
  await signingRows();
  for (const s of [kube, gcp, azure, aws, iam]) s.close();
  await sts.close();
  certs.remove();
  await Promise.all([k8s.close(), gce.close(), az.close(), store.close()]);
}

/** The stint-jwt provider's issue cost per token beside node:crypto signing with the same key type (goal: under 1 ms a token). */
async function signingRows(): Promise<void> {
  const GOAL_US = 1000;
  console.log(`\nCredential signing: stint-jwt provider issue per token (${N * 5} tokens each), beside node:crypto signing the same size with the same key type (goal < ${GOAL_US} µs)`);
  for (const [algorithm, keyType] of [['ES256', 'ec'], ['EdDSA', 'ed25519']] as const) {
    const clock = new FakeClock();
    const keyStore = openSqliteStore(':memory:');
    const keyring = await Keyring.open({ store: keyStore, clock, algorithm, rotationPeriodSeconds: 86400, prepublishSeconds: 3600, maxTokenTtlSeconds: 3600 });
    const provider = createStintJwtProvider({ issuer: 'https://stint.bench.test', keyring, clock, maxTtlSeconds: 3600 });
    const now = Math.floor(clock.now() / 1000);
    const drafts = Array.from({ length: N * 5 }, () => draftFor({ issuedAt: now, ttl: 900, passClaims: { namespace: 'default' } }));
    const us = await perCall(drafts, (d) => provider.issue(d));
    const { privateKey } = keyType === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
    const data = randomBytes(500);
    const raw = await perCall(drafts, () => sign(keyType === 'ec' ? 'sha256' : null, data, privateKey));
    row(`stint-jwt issue (${algorithm})`, us, raw, us < GOAL_US ? 'goal met: yes' : 'goal met: no');
    console.log(`  ${rows.at(-1)}`);
    await keyStore.close();
  }
}

if (benchSelected('attest')) main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
