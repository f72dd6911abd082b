/** Test PKI made with the machine's openssl: a CA, server certificates for loopback, client certificates. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files of one certificate and its key. */
export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA in `dir` (files named with `prefix`) that issues server and client certificates. */
export class TestCa {
  readonly caFile: string;
  private readonly caKey: string;

  constructor(
    private readonly dir: string,
    private readonly prefix = '',
    commonName = 'stint-test-ca',
  ) {
    this.caFile = this.f('ca.crt');
    this.caKey = this.f('ca.key');
    execFileSync('openssl', ['req', '-x509', ...EC, '-keyout', this.caKey, '-out', this.caFile, '-days', '2', '-subj', `/CN=${prefix}${commonName}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'pipe' });
  }

  /** A server certificate for 127.0.0.1 and localhost. */
  server(name: string, commonName = name): CertFiles {
    return this.issue(name, commonName, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  }

  /** A client certificate with the given common name. */
  client(name: string, commonName = name): CertFiles {
    return this.issue(name, commonName, 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  }

  private issue(name: string, commonName: string, extensions: string): CertFiles {
    const keyFile = this.f(`${name}.key`);
    const certFile = this.f(`${name}.crt`);
    execFileSync('openssl', ['req', ...EC, '-keyout', keyFile, '-out', this.f(`${name}.csr`), '-subj', `/CN=${commonName}`], { stdio: 'pipe' });
    writeFileSync(this.f(`${name}.ext`), extensions);
    execFileSync('openssl', ['x509', '-req', '-in', this.f(`${name}.csr`), '-CA', this.caFile, '-CAkey', this.caKey, '-CAcreateserial', '-out', certFile, '-days', '2',
      '-extfile', this.f(`${name}.ext`)], { stdio: 'pipe' });
    return { certFile, keyFile };
  }

  private f(n: string): string {
    return join(this.dir, `${this.prefix}${n}`);
  }
}

/** A CA and a server certificate for 127.0.0.1/localhost in `dir`. */
export function makeServerCertificates(dir: string, prefix = '', serverName = 'server'): { caFile: string; certFile: string; keyFile: string } {
  const ca = new TestCa(dir, prefix, `${serverName}-ca`);
  return { caFile: ca.caFile, ...ca.server('server', serverName) };
}
