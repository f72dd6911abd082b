/**
 * Reading a listener's TLS files at startup. A leaf of the configuration: the service and the
 * webhook both read their certificates with it without loading the whole configuration schema.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/** The files of a TLS setting (`tls:`, `admin.tls:`, `webhook.tls:`). */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile?: string;
}

/** PEM material of a TLS setting, read at startup; errors name the key path. */
export function readTls(tls: TlsFiles, keyPath: string): { cert: Buffer; key: Buffer; ca: Buffer | null } {
  const read = (file: string, key: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new ConfigError('ERR_CONFIG_INVALID', `${keyPath}.${key}`, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  return { cert: read(tls.certFile, 'certFile'), key: read(tls.keyFile, 'keyFile'), ca: tls.clientCaFile ? read(tls.clientCaFile, 'clientCaFile') : null };
}
