/**
 * AWS's public certificates for instance identity signatures, read from the files the
 * configuration names (one bundle, or per region). They are the only trust anchors of the aws-iid
 * attestor: nothing in a token can add one.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../errors.js';
import { trustedCertificate, type TrustedCertificate } from './pkcs7.js';

/** The configured certificates: every one, and by region when configured per region. */
export interface CertificateSet {
  /** Certificates that may sign a document of `region`. */
  forRegion(region: string): readonly TrustedCertificate[];
}

const PEM = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/** Read every certificate of the configuration; an unreadable or empty file is a ConfigError naming its key. */
export function loadCertificates(config: readonly string[] | Readonly<Record<string, readonly string[]>>, configPath: string): CertificateSet {
  if (Array.isArray(config)) {
    const all = (config as readonly string[]).flatMap((file, i) => readPemFile(file, `${configPath}.certificates.${i}`));
    return { forRegion: () => all };
  }
  const byRegion = new Map<string, TrustedCertificate[]>();
  for (const [region, files] of Object.entries(config as Readonly<Record<string, readonly string[]>>)) {
    byRegion.set(region, files.flatMap((file, i) => readPemFile(file, `${configPath}.certificates.${region}.${i}`)));
  }
  return { forRegion: (region) => byRegion.get(region) ?? [] };
}

function readPemFile(file: string, path: string): TrustedCertificate[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('ERR_CONFIG_INVALID', path, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const certs: TrustedCertificate[] = [];
  for (const m of text.matchAll(PEM)) {
    try {
      certs.push(trustedCertificate(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'), file));
    } catch {
      throw new ConfigError('ERR_CONFIG_INVALID', path, `${file} holds a certificate that does not parse`);
    }
  }
  if (certs.length === 0) throw new ConfigError('ERR_CONFIG_INVALID', path, `${file} holds no PEM certificate`);
  for (const c of certs) {
    const type = c.publicKey.asymmetricKeyType;
    if (type !== 'rsa' && type !== 'dsa') throw new ConfigError('ERR_CONFIG_INVALID', path, `${file} holds a ${type} certificate; AWS signs with RSA or DSA`);
  }
  return certs;
}
