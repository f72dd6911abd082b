/**
 * Verification of the PKCS#7 (CMS SignedData) signatures EC2's IMDS serves over an instance
 * identity document (`/rsa2048`: RSA with SHA-256; `/pkcs7`: DSA), and of the bare RSA
 * `/signature`. The ASN.1 is parsed by pkijs/asn1js; node:crypto does the signature math (WebCrypto
 * has no DSA). Only configured certificates are trusted: an envelope that embeds any other
 * certificate is refused, exactly one signer is required, and the signed content must be
 * byte-equal to the document the caller will parse.
 */
import { createHash, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import type * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { asn1jsLib, pkijsLib } from '../asn1_libs.js';
import { TokenError } from '../../errors.js';

/** A certificate Stint was configured with (AWS's regional public certificate). */
export interface TrustedCertificate {
  /** Where it came from (file and region), for messages. */
  readonly label: string;
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly parsed: pkijs.Certificate;
  readonly publicKey: KeyObject;
}

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_DATA = '1.2.840.113549.1.7.1';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SKI = '2.5.29.14';

/** Digest algorithms accepted, by OID: SHA-256 family, and SHA-1 only for AWS's legacy DSA `/pkcs7`. */
const DIGESTS: Readonly<Record<string, { name: string; dsaOnly: boolean }>> = {
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', dsaOnly: false },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', dsaOnly: false },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', dsaOnly: false },
  '1.3.14.3.2.26': { name: 'sha1', dsaOnly: true },
};
/** Signature algorithm OIDs accepted, with the key type they need. */
const SIGNATURES: Readonly<Record<string, 'rsa' | 'dsa'>> = {
  '1.2.840.113549.1.1.1': 'rsa', // rsaEncryption (hash from digestAlgorithm)
  '1.2.840.113549.1.1.11': 'rsa', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'rsa',
  '1.2.840.113549.1.1.13': 'rsa',
  '1.2.840.10040.4.1': 'dsa', // id-dsa
  '1.2.840.10040.4.3': 'dsa', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.2': 'dsa', // dsa-with-sha256
};

/** Parse one PEM or DER certificate into a TrustedCertificate; throws on anything else. */
export function trustedCertificate(der: Uint8Array, label: string): TrustedCertificate {
  const pkijs = pkijsLib();
  const x509 = new X509Certificate(der);
  const parsed = pkijs.Certificate.fromBER(der);
  return { label, der: new Uint8Array(der), x509, parsed, publicKey: x509.publicKey };
}

/** What a verified envelope yields: the signer's configured certificate. */
export interface VerifiedSignature {
  readonly signer: TrustedCertificate;
}

type Fail = (code: 'ERR_TOKEN_MALFORMED' | 'ERR_TOKEN_KEY_NOT_FOUND' | 'ERR_TOKEN_SIGNATURE_INVALID', reason: string, message: string) => never;

function failWith(fingerprint: string): Fail {
  return (code, reason, message) => {
    throw new TokenError(code, message, { reason, fingerprint });
  };
}

/**
 * Verify a PKCS#7 SignedData (`der`) over `document` with one of `trusted`. The content is the
 * envelope's eContent when present (then byte-equal to `document`), else `document` (detached).
 */
export function verifyPkcs7(der: Uint8Array, document: Uint8Array, trusted: readonly TrustedCertificate[], fingerprint: string): VerifiedSignature {
  const pkijs = pkijsLib();
  const asn1js = asn1jsLib();
  const fail = failWith(fingerprint);
  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1 || asn1.offset !== der.byteLength) fail('ERR_TOKEN_MALFORMED', 'pkcs7_malformed', 'the PKCS#7 signature is not one DER structure');
  let signedData: pkijs.SignedData;
  try {
    const contentInfo = new pkijs.ContentInfo({ schema: asn1.result });
    if (contentInfo.contentType !== OID_SIGNED_DATA) fail('ERR_TOKEN_MALFORMED', 'pkcs7_not_signed_data', 'the PKCS#7 envelope is not SignedData');
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch (e) {
    if (e instanceof TokenError) throw e;
    return fail('ERR_TOKEN_MALFORMED', 'pkcs7_malformed', 'the PKCS#7 envelope does not parse as CMS SignedData');
  }

  // Embedded certificates are never trusted: each must be one Stint was configured with.
  for (const cert of signedData.certificates ?? []) {
    const embedded = new Uint8Array(cert.toSchema().toBER(false));
    if (!(cert instanceof pkijs.Certificate) || !trusted.some((t) => equalBytes(t.der, embedded))) {
      fail('ERR_TOKEN_KEY_NOT_FOUND', 'certificate_not_configured', 'the PKCS#7 envelope embeds a certificate that is not a configured AWS certificate');
    }
  }
  if (signedData.signerInfos.length !== 1) {
    fail('ERR_TOKEN_SIGNATURE_INVALID', 'signer_count', `the PKCS#7 envelope has ${signedData.signerInfos.length} signers; exactly one is required`);
  }

  const encap = signedData.encapContentInfo;
  if (encap.eContentType !== OID_DATA) fail('ERR_TOKEN_MALFORMED', 'pkcs7_content_type', 'the signed content is not of type data');
  let content: Uint8Array;
  if (encap.eContent) {
    content = new Uint8Array(encap.eContent.getValue());
    if (!equalBytes(content, document)) fail('ERR_TOKEN_SIGNATURE_INVALID', 'content_mismatch', 'the signed content differs from the presented document');
  } else {
    content = document;
  }

  const signerInfo = signedData.signerInfos[0]!;
  const signer = findSigner(signerInfo, trusted);
  if (!signer) fail('ERR_TOKEN_KEY_NOT_FOUND', 'certificate_not_configured', 'the PKCS#7 signer is not a configured AWS certificate');
  const digest = DIGESTS[signerInfo.digestAlgorithm.algorithmId];
  const keyType = SIGNATURES[signerInfo.signatureAlgorithm.algorithmId];
  if (!digest || !keyType) fail('ERR_TOKEN_SIGNATURE_INVALID', 'algorithm_not_allowed', 'the PKCS#7 digest or signature algorithm is not accepted');
  if (keyType !== signer!.publicKey.asymmetricKeyType || (digest!.dsaOnly && keyType !== 'dsa')) {
    fail('ERR_TOKEN_SIGNATURE_INVALID', 'algorithm_not_allowed', 'the PKCS#7 signature algorithm does not fit the signer key');
  }

  let signedBytes: Uint8Array;
  if (signerInfo.signedAttrs) {
    // RFC 5652 §5.4: with signed attributes, the signature covers their DER as a SET OF, and the
    // message-digest attribute binds the content.
    const attrs = signerInfo.signedAttrs.attributes;
    const single = (oid: string): pkijs.Attribute | undefined => {
      const found = attrs.filter((a) => a.type === oid);
      if (found.length !== 1 || found[0]!.values.length !== 1) fail('ERR_TOKEN_SIGNATURE_INVALID', 'signed_attributes', `signed attribute ${oid} must appear exactly once`);
      return found[0];
    };
    const md = single(OID_MESSAGE_DIGEST)!.values[0];
    const ct = single(OID_CONTENT_TYPE)!.values[0];
    const expected = createHash(digest!.name).update(content).digest();
    if (!(md instanceof asn1js.OctetString) || !equalBytes(new Uint8Array(md.valueBlock.valueHexView), expected)) {
      fail('ERR_TOKEN_SIGNATURE_INVALID', 'content_mismatch', 'the message digest does not match the presented document');
    }
    if (!(ct instanceof asn1js.ObjectIdentifier) || ct.valueBlock.toString() !== encap.eContentType) {
      fail('ERR_TOKEN_SIGNATURE_INVALID', 'signed_attributes', 'the content-type attribute does not match');
    }
    const raw = new Uint8Array(signerInfo.signedAttrs.encodedValue.slice(0));
    if (raw.byteLength === 0) fail('ERR_TOKEN_MALFORMED', 'pkcs7_malformed', 'signed attributes without their encoding');
    raw[0] = 0x31; // [0] IMPLICIT → SET OF, as signed
    signedBytes = raw;
  } else {
    signedBytes = content;
  }

  const signature = new Uint8Array(signerInfo.signature.valueBlock.valueHexView);
  let ok = false;
  try {
    ok = cryptoVerify(digest!.name, signedBytes, signer!.publicKey, signature);
  } catch {
    ok = false;
  }
  if (!ok) fail('ERR_TOKEN_SIGNATURE_INVALID', 'signature_invalid', 'the PKCS#7 signature does not verify');
  return { signer: signer! };
}

/**
 * Verify the bare base64 `/signature` (RSA PKCS#1 v1.5 with SHA-256 over the document bytes)
 * against each configured RSA certificate; the first that verifies is the signer.
 */
export function verifyRsaSignature(signature: Uint8Array, document: Uint8Array, trusted: readonly TrustedCertificate[], fingerprint: string): VerifiedSignature {
  const fail = failWith(fingerprint);
  const rsa = trusted.filter((t) => t.publicKey.asymmetricKeyType === 'rsa');
  if (rsa.length === 0) fail('ERR_TOKEN_KEY_NOT_FOUND', 'certificate_not_configured', 'no RSA certificate is configured for the signature format');
  for (const cert of rsa) {
    let ok = false;
    try {
      ok = cryptoVerify('sha256', document, cert.publicKey, signature);
    } catch {
      ok = false;
    }
    if (ok) return { signer: cert };
  }
  return fail('ERR_TOKEN_SIGNATURE_INVALID', 'signature_invalid', 'the signature does not verify with any configured AWS certificate');
}

function findSigner(signerInfo: pkijs.SignerInfo, trusted: readonly TrustedCertificate[]): TrustedCertificate | undefined {
  const pkijs = pkijsLib();
  const asn1js = asn1jsLib();
  const sid: unknown = signerInfo.sid;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return trusted.find((t) => t.parsed.issuer.isEqual(sid.issuer) && t.parsed.serialNumber.isEqual(sid.serialNumber));
  }
  if (sid instanceof asn1js.Constructed || sid instanceof asn1js.Primitive) {
    // [0] SubjectKeyIdentifier
    const ski = sid instanceof asn1js.Primitive ? new Uint8Array(sid.valueBlock.valueHexView) : new Uint8Array((sid.valueBlock.value[0] as asn1js.OctetString | undefined)?.valueBlock.valueHexView ?? []);
    return trusted.find((t) => {
      const ext = t.parsed.extensions?.find((e) => e.extnID === OID_SKI);
      const parsed = ext?.parsedValue as asn1js.OctetString | undefined;
      return parsed !== undefined && equalBytes(new Uint8Array(parsed.valueBlock.valueHexView), ski);
    });
  }
  return undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
