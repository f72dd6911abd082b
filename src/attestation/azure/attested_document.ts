/**
 * Verification of Azure IMDS attested documents (`/metadata/attested/document`): the JSON
 * `{"encoding":"pkcs7","signature":"<base64 DER>"}` whose PKCS#7 SignedData carries the signed
 * document. pkijs/asn1js parse the envelope and verify the signature (signed attributes and message
 * digest included) and the signer's certificate chain up to the configured roots; node:crypto
 * checks the signer's name. Exactly one signer; the content is attached (never supplied apart).
 */
import { X509Certificate } from 'node:crypto';
import type * as pkijs from 'pkijs';
import { asn1jsLib, pkijsLib } from '../asn1_libs.js';
import { TokenError, type ErrorCode } from '../../errors.js';
import { parseStrictJson } from '../jwt/strict_json.js';

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_DATA = '1.2.840.113549.1.7.1';
/** Largest accepted IMDS answer (real ones are under 8 KiB). */
export const MAX_ATTESTED_BYTES = 32 * 1024;

/** The signed document, as Azure writes it (members Stint reads). */
export interface AttestedContent {
  readonly nonce: string;
  readonly vmId: string;
  readonly subscriptionId: string;
  readonly sku: string;
  readonly licenseType: string;
  readonly plan: { readonly name: string; readonly product: string; readonly publisher: string };
  /** `MM/DD/YY hh:mm:ss -0000`, parsed to epoch milliseconds. */
  readonly createdOn: number;
  readonly expiresOn: number;
}

/** Trust anchors and names of the attested document's signer. */
export interface AttestedTrust {
  readonly roots: readonly pkijs.Certificate[];
  readonly intermediates: readonly pkijs.Certificate[];
  /** DNS names the signer certificate must hold one of (metadata.azure.com). */
  readonly signerNames: readonly string[];
}

/** Parse PEM (one or more certificates) or DER into pkijs certificates; throws on anything else. */
export function parseCertificates(bytes: Buffer): pkijs.Certificate[] {
  const pkijs = pkijsLib();
  const text = bytes.toString('latin1');
  const ders = text.includes('-----BEGIN CERTIFICATE-----')
    ? [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'))
    : [bytes];
  if (ders.length === 0) throw new Error('no certificate');
  return ders.map((der) => {
    new X509Certificate(der); // refuses anything that is not one certificate
    return pkijs.Certificate.fromBER(der);
  });
}

/** Verify one attested document answer; returns its content. Throws TokenError with a stable code. */
export async function verifyAttestedDocument(value: string, trust: AttestedTrust, now: Date, fingerprint: string): Promise<AttestedContent> {
  const pkijs = pkijsLib();
  const asn1js = asn1jsLib();
  const fail = (code: ErrorCode, reason: string, message: string): never => {
    throw new TokenError(code, message, { reason, fingerprint });
  };
  if (Buffer.byteLength(value) > MAX_ATTESTED_BYTES) fail('ERR_TOKEN_TOO_LARGE', 'too_large', `attested document larger than ${MAX_ATTESTED_BYTES} bytes`);
  let envelope: unknown;
  try {
    envelope = parseStrictJson(value);
  } catch {
    fail('ERR_TOKEN_MALFORMED', 'not_json', 'the attested document is not the JSON IMDS serves');
  }
  const env = envelope as Record<string, unknown>;
  if (!isObject(envelope) || env['encoding'] !== 'pkcs7' || typeof env['signature'] !== 'string' || Object.keys(env).some((k) => k !== 'encoding' && k !== 'signature')) {
    fail('ERR_TOKEN_MALFORMED', 'envelope', 'the attested document must be {"encoding":"pkcs7","signature":"<base64>"}');
  }
  const b64 = (env['signature'] as string).replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) fail('ERR_TOKEN_MALFORMED', 'pkcs7_malformed', 'the signature is not base64');
  const der = new Uint8Array(Buffer.from(b64, 'base64'));

  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1 || asn1.offset !== der.byteLength) fail('ERR_TOKEN_MALFORMED', 'pkcs7_malformed', 'the PKCS#7 signature is not one DER structure');
  let signed: pkijs.SignedData;
  try {
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID_SIGNED_DATA) throw new Error('not SignedData');
    signed = new pkijs.SignedData({ schema: info.content });
  } catch {
    return fail('ERR_TOKEN_MALFORMED', 'pkcs7_malformed', 'the PKCS#7 envelope does not parse as CMS SignedData');
  }
  if (signed.signerInfos.length !== 1) fail('ERR_TOKEN_SIGNATURE_INVALID', 'signer_count', `the PKCS#7 envelope has ${signed.signerInfos.length} signers; exactly one is required`);
  if (signed.encapContentInfo.eContentType !== OID_DATA || !signed.encapContentInfo.eContent) {
    fail('ERR_TOKEN_MALFORMED', 'pkcs7_content', 'the PKCS#7 envelope carries no attached data content');
  }
  const embedded = (signed.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);

  // The signature (signed attributes and message digest): pkijs, with the signer found among the embedded certificates.
  let result: pkijs.SignedDataVerifyResult;
  try {
    result = await signed.verify({ signer: 0, checkChain: false, extendedMode: true });
  } catch (e) {
    result = e as pkijs.SignedDataVerifyResult;
  }
  const signer = result?.signerCertificate;
  if (!signer) fail('ERR_TOKEN_KEY_NOT_FOUND', 'signer_certificate_missing', 'the PKCS#7 envelope does not carry its signer certificate');
  if (result.signatureVerified !== true) fail('ERR_TOKEN_SIGNATURE_INVALID', 'signature_invalid', 'the attested document signature does not verify');

  // The signer chains to a configured root, at the current time.
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: [...trust.roots],
    certs: [...trust.intermediates, ...embedded.filter((c) => c !== signer), signer!],
    checkDate: now,
  });
  let chained = false;
  try {
    chained = (await engine.verify()).result === true;
  } catch {
    chained = false;
  }
  if (!chained) fail('ERR_TOKEN_KEY_NOT_FOUND', 'certificate_not_trusted', 'the attested document signer does not chain to a configured root');
  const x509 = new X509Certificate(Buffer.from(signer!.toSchema().toBER(false)));
  if (!trust.signerNames.some((name) => x509.checkHost(name, { wildcards: false }) !== undefined)) {
    fail('ERR_TOKEN_KEY_NOT_FOUND', 'signer_name', 'the attested document signer is not a configured metadata service name');
  }

  const content = Buffer.from(signed.encapContentInfo.eContent!.getValue()).toString('utf8');
  return parseContent(content, fail);
}

function parseContent(text: string, fail: (code: ErrorCode, reason: string, message: string) => never): AttestedContent {
  let doc: unknown;
  try {
    doc = parseStrictJson(text);
  } catch {
    return fail('ERR_TOKEN_MALFORMED', 'content_not_json', 'the signed content is not JSON');
  }
  if (!isObject(doc)) return fail('ERR_TOKEN_MALFORMED', 'content_not_json', 'the signed content is not a JSON object');
  const str = (o: Record<string, unknown>, k: string, path = k): string => {
    const v = o[k];
    if (typeof v !== 'string') fail('ERR_TOKEN_CLAIM_INVALID', 'invalid', `signed member ${path} is missing or not a string`);
    return v as string;
  };
  const plan = isObject(doc['plan']) ? doc['plan'] : {};
  const ts = doc['timeStamp'];
  if (!isObject(ts)) return fail('ERR_TOKEN_CLAIM_INVALID', 'invalid', 'signed member timeStamp is missing');
  const when = (k: string): number => {
    const t = parseImdsTime(str(ts, k, `timeStamp.${k}`));
    if (t === undefined) fail('ERR_TOKEN_CLAIM_INVALID', 'invalid', `timeStamp.${k} is not MM/DD/YY hh:mm:ss -0000`);
    return t as number;
  };
  return {
    nonce: str(doc, 'nonce'),
    vmId: str(doc, 'vmId'),
    subscriptionId: str(doc, 'subscriptionId'),
    sku: typeof doc['sku'] === 'string' ? doc['sku'] : '',
    licenseType: typeof doc['licenseType'] === 'string' ? doc['licenseType'] : '',
    plan: {
      name: typeof plan['name'] === 'string' ? plan['name'] : '',
      product: typeof plan['product'] === 'string' ? plan['product'] : '',
      publisher: typeof plan['publisher'] === 'string' ? plan['publisher'] : '',
    },
    createdOn: when('createdOn'),
    expiresOn: when('expiresOn'),
  };
}

/** Parse IMDS's `MM/DD/YY hh:mm:ss -0000` (UTC) to epoch milliseconds. */
export function parseImdsTime(s: string): number | undefined {
  const m = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) -0000$/.exec(s);
  if (!m) return undefined;
  const [mo, d, y, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(2000 + y, mo - 1, d, h, mi, se);
  const back = new Date(t);
  return back.getUTCMonth() === mo - 1 && back.getUTCDate() === d && h < 24 && mi < 60 && se < 60 ? t : undefined;
}

/** Format epoch milliseconds as IMDS does (for fakes and messages). */
export function formatImdsTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${p(d.getUTCFullYear() % 100)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} -0000`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
