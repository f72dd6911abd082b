/**
 * The `aws-iid` attestor: an EC2 instance identity document with one of the signatures IMDS
 * serves (`rsa2048` and `pkcs7` PKCS#7, or the bare RSA `signature`), in a JSON envelope with the
 * client's nonce. The signature is verified against AWS's configured certificates only; the
 * document is a static secret of the instance, so each instance is bound on first use to the
 * hash of its client nonce in the Store (every replica agrees) and a document presented with
 * another nonce is refused. Identity `spiffe://<td>/aws/<account>/<region>/<instance_id>`.
 * Format and rules: README.md in this folder.
 */
import { defineAttestor, type Attestor, type AttestorDeps, type ClaimValue } from '../attestor.js';
import { ConfigError, TokenError } from '../../errors.js';
import { sha256Hex } from '../../fingerprint.js';
import { parseStrictJson, StrictJsonError } from '../jwt/strict_json.js';
import { AWS_IID_TOKEN_TYPE } from '../token_types.js';
import { loadCertificates } from './certificates.js';
import { createInstanceChecker, type InstanceChecker } from './describe_instances.js';
import { createDocumentAttestor, type AttestedProof } from './document_attestor.js';
import { awsIidAttestorSchema, type AwsIidAttestorConfig } from './iid_config.js';
import { verifyPkcs7, verifyRsaSignature, type VerifiedSignature } from './pkcs7.js';

/** The issuer of every aws-iid identity (documents have none of their own). */
export const AWS_IID_ISSUER = 'aws-iid';

/** The envelope members, exactly. */
const ENVELOPE_MEMBERS = ['document', 'signature', 'format', 'nonce'] as const;
const NONCE = /^[A-Za-z0-9_-]{22,128}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const ZONE = /^[a-z]{2}(-[a-z]+)+-\d[a-z0-9-]*$/;

/** A parsed, not yet verified, envelope. */
interface Envelope {
  readonly document: string;
  readonly signature: string;
  readonly format: 'rsa2048' | 'pkcs7' | 'signature';
  readonly nonce: string;
}

/** Create an aws-iid attestor. */
export function createAwsIidAttestor(config: AwsIidAttestorConfig, deps: AttestorDeps): Attestor {
  const path = deps.configPath ?? 'attestor';
  const certificates = loadCertificates(config.certificates, path);
  const bindings = deps.bindings;
  if (!bindings) throw new ConfigError('ERR_CONFIG_INVALID', `${path}.kind`, 'aws-iid needs the Store\'s attestation bindings (its replay rule)');
  const checker: InstanceChecker | null = config.describeInstances ? createInstanceChecker(config.describeInstances, deps.clock, `${path}.describeInstances`) : null;
  const accounts = config.accounts ? new Set(config.accounts) : null;

  return createDocumentAttestor(config, {
    tokenType: AWS_IID_TOKEN_TYPE,
    what: 'the instance identity envelope',
    close: () => checker?.close(),
    async verify(value, fp): Promise<AttestedProof> {
      const envelope = parseEnvelope(value, fp);
      if (!config.formats.includes(envelope.format)) {
        throw new TokenError('ERR_TOKEN_ALG_NOT_ALLOWED', `signature format ${envelope.format} is not accepted`, { reason: 'format_not_allowed', fingerprint: fp });
      }
      const doc = parseDocument(envelope.document, fp);
      const trusted = certificates.forRegion(doc.region);
      if (trusted.length === 0) {
        throw new TokenError('ERR_TOKEN_KEY_NOT_FOUND', `no AWS certificate is configured for region ${doc.region}`, { reason: 'region_not_configured', fingerprint: fp });
      }
      const documentBytes = Buffer.from(envelope.document, 'utf8');
      const signatureBytes = decodeBase64(envelope.signature, fp);
      let verified: VerifiedSignature;
      if (envelope.format === 'signature') {
        verified = verifyRsaSignature(signatureBytes, documentBytes, trusted, fp);
      } else {
        verified = verifyPkcs7(signatureBytes, documentBytes, trusted, fp);
        const want = envelope.format === 'rsa2048' ? 'rsa' : 'dsa';
        if (verified.signer.publicKey.asymmetricKeyType !== want) {
          throw new TokenError('ERR_TOKEN_SIGNATURE_INVALID', `a ${envelope.format} signature must be made with AWS's ${want.toUpperCase()} certificate`, { reason: 'format_mismatch', fingerprint: fp });
        }
      }

      if (accounts && !accounts.has(doc.accountId)) {
        throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'the instance\'s account is not allowed', { claim: 'account', reason: 'account_not_allowed', fingerprint: fp });
      }
      const now = deps.clock.now();
      if (config.maxAge !== undefined && now - doc.pendingTimeMs > config.maxAge * 1000) {
        throw new TokenError('ERR_TOKEN_EXPIRED', 'the instance was started longer ago than maxAge', { reason: 'instance_too_old', fingerprint: fp });
      }

      let live: Readonly<Record<string, ClaimValue>> = {};
      let recheckAt: number | undefined;
      if (checker) {
        const check = await checker.check({ account: doc.accountId, region: doc.region, instanceId: doc.instanceId, fingerprint: fp });
        live = check.claims;
        recheckAt = Math.floor(check.validUntil / 1000);
      }

      // Replay rule: the instance is bound to the first client nonce it presents (Store, all replicas).
      const expiresAtMs = now + config.bindingTtl * 1000;
      const bound = await bindings.bindAttestation({ kind: 'aws-iid', key: `${doc.accountId}/${doc.instanceId}`, binding: sha256Hex(envelope.nonce), now, expiresAt: expiresAtMs });
      if (bound.binding !== sha256Hex(envelope.nonce)) {
        throw new TokenError('ERR_TOKEN_REPLAYED', 'this instance\'s identity document was first presented with another client nonce', { reason: 'nonce_mismatch', fingerprint: fp });
      }

      const claims: Record<string, ClaimValue> = {
        account: doc.accountId,
        region: doc.region,
        instance_id: doc.instanceId,
        image_id: doc.imageId,
        instance_type: doc.instanceType,
        availability_zone: doc.availabilityZone,
        pending_time: doc.pendingTime,
        ...(doc.architecture !== undefined ? { architecture: doc.architecture } : {}),
        ...(doc.privateIp !== undefined ? { private_ip: doc.privateIp } : {}),
        signature_format: envelope.format,
        ...live,
      };
      // The binding bounds how long this presentation is good for; a cache must not outlive it.
      let expiresAt = Math.floor(expiresAtMs / 1000);
      if (config.maxAge !== undefined) expiresAt = Math.min(expiresAt, Math.floor((doc.pendingTimeMs + config.maxAge * 1000) / 1000));
      return {
        issuer: AWS_IID_ISSUER,
        subject: doc.instanceId,
        id: `spiffe://${deps.trustDomain}/aws/${doc.accountId}/${doc.region}/${doc.instanceId}`,
        claims,
        expiresAt,
        ...(recheckAt !== undefined ? { recheckAt } : {}),
      };
    },
  });
}

function malformed(reason: string, message: string, fp: string): never {
  throw new TokenError('ERR_TOKEN_MALFORMED', message, { reason, fingerprint: fp });
}

function strictObject(text: string, what: string, fp: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseStrictJson(text, 8);
  } catch (e) {
    if (e instanceof StrictJsonError && e.reason === 'duplicate_member') {
      throw new TokenError('ERR_TOKEN_DUPLICATE_MEMBER', `the ${what} repeats a member`, { reason: 'duplicate_member', fingerprint: fp });
    }
    return malformed(`${what.replace(/ /g, '_')}_not_json`, `the ${what} is not JSON`, fp);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) malformed(`${what.replace(/ /g, '_')}_not_object`, `the ${what} is not a JSON object`, fp);
  return parsed as Record<string, unknown>;
}

function parseEnvelope(value: string, fp: string): Envelope {
  const o = strictObject(value, 'envelope', fp);
  const keys = Object.keys(o);
  if (keys.length !== ENVELOPE_MEMBERS.length || !ENVELOPE_MEMBERS.every((k) => typeof o[k] === 'string')) {
    malformed('envelope_members', `the envelope must have exactly the string members ${ENVELOPE_MEMBERS.join(', ')}`, fp);
  }
  const format = o['format'] as string;
  if (format !== 'rsa2048' && format !== 'pkcs7' && format !== 'signature') malformed('envelope_format', 'format must be rsa2048, pkcs7 or signature', fp);
  const nonce = o['nonce'] as string;
  if (!NONCE.test(nonce)) malformed('nonce_invalid', 'the client nonce must be 22 to 128 base64url characters', fp);
  return { document: o['document'] as string, signature: o['signature'] as string, format: format as Envelope['format'], nonce };
}

interface IdentityDocument {
  readonly accountId: string;
  readonly region: string;
  readonly instanceId: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly availabilityZone: string;
  readonly pendingTime: string;
  readonly pendingTimeMs: number;
  readonly architecture?: string;
  readonly privateIp?: string;
}

function parseDocument(text: string, fp: string): IdentityDocument {
  const d = strictObject(text, 'identity document', fp);
  const field = (key: string, pattern?: RegExp): string => {
    const v = d[key];
    if (typeof v !== 'string' || v.length === 0 || v.length > 256 || (pattern && !pattern.test(v))) {
      throw new TokenError('ERR_TOKEN_CLAIM_INVALID', `document field ${key} is missing or invalid`, { claim: key, reason: v === undefined ? 'missing' : 'invalid', fingerprint: fp });
    }
    return v;
  };
  const optional = (key: string): string | undefined => (typeof d[key] === 'string' ? (d[key] as string) : undefined);
  const pendingTime = field('pendingTime', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const pendingTimeMs = Date.parse(pendingTime);
  if (!Number.isFinite(pendingTimeMs)) throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'document field pendingTime is invalid', { claim: 'pendingTime', reason: 'invalid', fingerprint: fp });
  const architecture = optional('architecture');
  const privateIp = optional('privateIp');
  return {
    accountId: field('accountId', ACCOUNT),
    region: field('region', REGION),
    instanceId: field('instanceId', INSTANCE_ID),
    imageId: field('imageId'),
    instanceType: field('instanceType'),
    availabilityZone: field('availabilityZone', ZONE),
    pendingTime,
    pendingTimeMs,
    ...(architecture !== undefined ? { architecture } : {}),
    ...(privateIp !== undefined ? { privateIp } : {}),
  };
}

/** IMDS serves base64 wrapped in lines; whitespace is dropped, anything else must be canonical base64. */
function decodeBase64(text: string, fp: string): Uint8Array {
  const compact = text.replace(/[\r\n ]/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) malformed('signature_not_base64', 'the signature is not base64', fp);
  return Buffer.from(compact, 'base64');
}

/** The aws-iid kind. */
export const AWS_IID_ATTESTOR = defineAttestor({
  kind: 'aws-iid',
  summary: 'EC2 instance identity documents (IMDS rsa2048, pkcs7 or signature), bound on first use to a client nonce',
  schema: awsIidAttestorSchema,
  tokenTypes: [AWS_IID_TOKEN_TYPE],
  claims: ['account', 'region', 'instance_id', 'image_id', 'instance_type', 'availability_zone', 'pending_time', 'architecture', 'private_ip', 'signature_format', 'instance_state', 'tags.*'],
  lint: { scopeClaims: ['account', 'region'], workloadClaims: ['instance_id', 'image_id', 'tags.*'] },
  create: createAwsIidAttestor,
  // The certificate files, relative to the configuration file's folder.
  resolvePaths: (config, abs) => ({
    ...config,
    certificates: Array.isArray(config.certificates)
      ? config.certificates.map(abs)
      : Object.fromEntries(Object.entries(config.certificates).map(([region, files]) => [region, files.map(abs)])),
  }),
});
