/**
 * The `azure` attestor: a VM's (or any Azure resource's) managed identity proved to Stint in one
 * of two ways. (a) A managed identity access token from Microsoft Entra ID (a JWT from the tenant's
 * issuer, keys by discovery, audience Stint's application id URI, `tid` the configured tenant);
 * `xms_mirid` names the resource. (b) The IMDS attested document, a PKCS#7 signed by Azure over the
 * VM's id, its subscription and a one-time nonce Stint issued (attested_document.ts, ../nonces.ts).
 * Identities: `spiffe://<td>/azure/<tid>/<subscription>/<resourceGroup>/<Namespace>/<type>/<name>`
 * for tokens, `spiffe://<td>/azure/vm/<subscription>/<vmId>` for attested documents.
 */
import { readFileSync } from 'node:fs';
import type * as pkijs from 'pkijs';
import { z } from 'zod';
import { boundedDuration, durationSchema } from '../../config/fields.js';
import { ConfigError, TokenError } from '../../errors.js';
import { fingerprint } from '../../fingerprint.js';
import { defineAttestor, type Attestor, type AttestorDeps, type ClaimValue, type WorkloadIdentity } from '../attestor.js';
import { jwtAttestorFields, jwtConfigPaths } from '../jwt/config.js';
import { assembleJwtAttestor, createJwtVerifier } from '../jwt/jwt_verifier.js';
import { jwtIdentity } from '../jwt/identity.js';
import type { PrecheckedToken } from '../jwt/precheck.js';
import { ACCESS_TOKEN_TYPE, AZURE_IMDS_TOKEN_TYPE, AZURE_MSI_TOKEN_TYPE, GENERIC_JWT_TOKEN_TYPES } from '../token_types.js';
import { parseCertificates, verifyAttestedDocument } from './attested_document.js';
import { isGuid, parseResourceId } from './resource_id.js';

/** The nonce kind of attested documents (`POST /attestation/nonce` with `kind=azure`). */
export const AZURE_NONCE_KIND = 'azure';
/** Issuer of attested-document identities (the IMDS signer's name). */
export const AZURE_IMDS_ISSUER = 'https://metadata.azure.com/';

const attestedDocumentSchema = z.object({
  /** CA certificates (PEM or DER files) the signer must chain to. */
  roots: z.array(z.string().min(1)).min(1),
  /** Intermediate certificates IMDS leaves out of the envelope. */
  intermediates: z.array(z.string().min(1)).default([]),
  /** DNS names the signer certificate must hold (Azure public cloud: metadata.azure.com). */
  signerNames: z.array(z.string().min(1)).min(1).default(['metadata.azure.com']),
  /** Lifetime of a nonce Stint issues for a document (10 s to 10 min). */
  nonceTtl: boundedDuration(10, 600).default(120),
}).strict();

/** Configuration of an azure attestor (one Entra tenant). */
export const azureAttestorSchema = z.object({
  kind: z.literal('azure'),
  ...jwtAttestorFields,
  /** The Entra tenant (directory) id; tokens must carry it as `tid`. */
  tenantId: z.string().refine(isGuid, 'must be a tenant id (GUID)'),
  /** Token issuer: v1 `https://sts.windows.net/<tid>/` (default) or v2 `https://login.microsoftonline.com/<tid>/v2.0`. */
  issuer: z.string().min(1).optional(),
  algorithms: jwtAttestorFields.algorithms.default(['RS256']),
  /** Managed identity tokens live about 24 h, issued up to 5 min back. */
  maxLifetime: durationSchema.default(90000),
  /** Subscriptions whose resources are accepted (byte-exact); absent = any in the tenant. */
  subscriptions: z.array(z.string().refine(isGuid, 'must be a subscription id (GUID)')).min(1).optional(),
  /** Refuse tokens without `xms_mirid` (an application's own token, not a managed identity): default true. */
  requireManagedIdentity: z.boolean().default(true),
  /** Accept IMDS attested documents (with these trust anchors). */
  attestedDocument: attestedDocumentSchema.optional(),
}).strict();
/** A validated azure attestor configuration. */
export type AzureAttestorConfig = z.output<typeof azureAttestorSchema>;

/** Create an azure attestor. */
export function createAzureAttestor(config: AzureAttestorConfig, deps: AttestorDeps): Attestor {
  const name = config.name ?? config.kind;
  const at = (key: string): string => `${deps.configPath ?? 'attestors'}.${key}`;
  const tid = config.tenantId;
  const v1 = `https://sts.windows.net/${tid}/`;
  const v2 = `https://login.microsoftonline.com/${tid}/v2.0`;
  const issuer = config.issuer ?? v1;
  if (issuer !== v1 && issuer !== v2) throw new ConfigError('ERR_CONFIG_INVALID', at('issuer'), `must be ${v1} or ${v2} (the tenant's issuer)`);
  const keySourceSet = config.jwksFile !== undefined || config.jwksUrl !== undefined || config.discoveryUrl !== undefined;
  const discoveryUrl = keySourceSet ? config.discoveryUrl : issuer === v1 ? `https://login.microsoftonline.com/${tid}` : v2;
  const verifier = createJwtVerifier({ ...config, issuer, ...(discoveryUrl !== undefined ? { discoveryUrl } : {}) }, name, deps);
  const subscriptions = config.subscriptions ? new Set(config.subscriptions) : undefined;
  const imds = config.attestedDocument ? loadTrust(config.attestedDocument) : undefined;
  if (imds && !deps.nonces) throw new ConfigError('ERR_CONFIG_INVALID', at('attestedDocument'), 'attested documents need the Store’s nonces, which this service does not provide');

  const jwt = assembleJwtAttestor({ kind: 'azure', name, verifier, ownTokenTypes: [ACCESS_TOKEN_TYPE, AZURE_MSI_TOKEN_TYPE], attest: attestToken });
  return {
    ...jwt,
    tokenTypes: imds ? [AZURE_IMDS_TOKEN_TYPE] : [],
    attest: (token) => (token.type === AZURE_IMDS_TOKEN_TYPE && imds ? attestDocument(token.value, imds) : jwt.attest(token)),
  };

  async function attestToken(subjectToken: string, prechecked: PrecheckedToken): Promise<WorkloadIdentity> {
    const verified = await verifier.verify(subjectToken, prechecked);
    const fp = verified.fingerprint;
    const raw = verified.claims as Record<string, ClaimValue>;
    const bad = (claim: string, reason: string, message: string): never => {
      throw new TokenError('ERR_TOKEN_CLAIM_INVALID', message, { claim, reason, fingerprint: fp });
    };
    if (raw['tid'] !== tid) bad('tid', raw['tid'] === undefined ? 'missing' : 'other_tenant', 'the token was issued in another tenant');
    const oid = raw['oid'];
    if (!isGuid(oid)) bad('oid', oid === undefined ? 'missing' : 'invalid', 'token "oid" must be an object id (GUID)');
    const mirid = raw['xms_mirid'];
    const resource = typeof mirid === 'string' ? parseResourceId(mirid) : undefined;
    if (mirid !== undefined && !resource) bad('xms_mirid', 'invalid', 'token "xms_mirid" is not a resource id of one resource');
    if (!resource && config.requireManagedIdentity) bad('xms_mirid', 'missing', 'the token is not a managed identity token (no xms_mirid)');
    if (subscriptions && !(resource && subscriptions.has(resource.subscription_id))) {
      bad('subscription_id', 'subscription_not_allowed', 'the managed identity belongs to a subscription this attestor does not accept');
    }
    const rid = raw['xms_az_rid'];
    const vmResource = typeof rid === 'string' ? parseResourceId(rid) : undefined;
    const claims: Record<string, ClaimValue> = {
      ...raw,
      ...(resource ?? {}),
      ...(vmResource ? { vm_resource_id: rid as string, vm_resource_group: vmResource.resource_group, vm_name: vmResource.resource_name } : {}),
    };
    const path = resource ? `${resource.subscription_id}/${resource.resource_group}/${resource.provider}/${resource.resource_name}` : `oid/${oid as string}`;
    return jwtIdentity({ kind: 'azure', name, issuer, id: `spiffe://${deps.trustDomain}/azure/${tid}/${path}`, claims });
  }

  async function attestDocument(value: string, trust: Trust): Promise<WorkloadIdentity> {
    const fp = fingerprint(value);
    const now = deps.clock.now();
    const doc = await verifyAttestedDocument(value, trust, new Date(now), fp);
    const skew = config.clockSkew * 1000;
    if (doc.createdOn > now + skew) throw new TokenError('ERR_TOKEN_NOT_YET_VALID', 'the attested document was created in the future', { claim: 'timeStamp.createdOn', reason: 'future', fingerprint: fp });
    if (doc.expiresOn + skew < now) throw new TokenError('ERR_TOKEN_EXPIRED', 'the attested document has expired', { claim: 'timeStamp.expiresOn', reason: 'expired', fingerprint: fp });
    if (!isGuid(doc.vmId)) throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'signed member vmId is not a GUID', { claim: 'vmId', reason: 'invalid', fingerprint: fp });
    if (!isGuid(doc.subscriptionId)) throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'signed member subscriptionId is not a GUID', { claim: 'subscriptionId', reason: 'invalid', fingerprint: fp });
    if (subscriptions && !subscriptions.has(doc.subscriptionId)) {
      throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'the VM belongs to a subscription this attestor does not accept', { claim: 'subscription_id', reason: 'subscription_not_allowed', fingerprint: fp });
    }
    // Last, so a document refused for any other reason does not burn its nonce.
    if (!(await deps.nonces!.consume(AZURE_NONCE_KIND, doc.nonce))) {
      throw new TokenError('ERR_TOKEN_REPLAYED', 'the attested document’s nonce was not issued by Stint, has expired or was already used', { claim: 'nonce', reason: 'nonce_invalid', fingerprint: fp });
    }
    return {
      attestor: 'azure',
      attestorName: name,
      issuer: AZURE_IMDS_ISSUER,
      subject: doc.vmId,
      id: `spiffe://${deps.trustDomain}/azure/vm/${doc.subscriptionId}/${doc.vmId}`,
      claims: {
        vm_id: doc.vmId,
        subscription_id: doc.subscriptionId,
        sku: doc.sku,
        license_type: doc.licenseType,
        plan_name: doc.plan.name,
        plan_product: doc.plan.product,
        plan_publisher: doc.plan.publisher,
      },
      expiresAt: Math.floor(doc.expiresOn / 1000),
      noCache: true,
    };
  }

  function loadTrust(c: NonNullable<AzureAttestorConfig['attestedDocument']>): Trust {
    const read = (files: readonly string[], key: string): pkijs.Certificate[] =>
      files.flatMap((file, i) => {
        try {
          return parseCertificates(readFileSync(file));
        } catch (e) {
          throw new ConfigError('ERR_CONFIG_INVALID', at(`attestedDocument.${key}.${i}`), `${file}: not a readable PEM or DER certificate (${(e as NodeJS.ErrnoException).code ?? 'parse error'})`);
        }
      });
    return { roots: read(c.roots, 'roots'), intermediates: read(c.intermediates, 'intermediates'), signerNames: c.signerNames };
  }
}

type Trust = Parameters<typeof verifyAttestedDocument>[1];

/** The azure kind: Entra managed identity tokens and IMDS attested documents. */
export const AZURE_ATTESTOR = defineAttestor({
  kind: 'azure',
  summary: 'Azure managed identity tokens (Microsoft Entra ID) and IMDS attested documents',
  schema: azureAttestorSchema,
  tokenTypes: [...GENERIC_JWT_TOKEN_TYPES, ACCESS_TOKEN_TYPE, AZURE_MSI_TOKEN_TYPE, AZURE_IMDS_TOKEN_TYPE],
  claims: [
    'iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'appid', 'azp', 'idtyp', 'xms_mirid', 'xms_az_rid', 'ver',
    'subscription_id', 'resource_group', 'provider', 'resource_name', 'vm_resource_id', 'vm_resource_group', 'vm_name',
    'vm_id', 'sku', 'license_type', 'plan_name', 'plan_product', 'plan_publisher',
  ],
  lint: { scopeClaims: ['tid', 'subscription_id', 'resource_group'], workloadClaims: ['oid', 'resource_name', 'vm_id', 'vm_name'] },
  create: createAzureAttestor,
  resolvePaths: (config, abs) => {
    const keys = jwtConfigPaths(config, abs);
    const d = keys.attestedDocument;
    return d ? { ...keys, attestedDocument: { ...d, roots: d.roots.map(abs), intermediates: d.intermediates.map(abs) } } : keys;
  },
});
