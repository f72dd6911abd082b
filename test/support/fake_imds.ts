/**
 * A local EC2 instance metadata service (IMDSv2) on loopback, and the AWS-like certificates that
 * sign its instance identity documents, for the aws-iid attestor's tests and the VM journey.
 *
 * Wire format as EC2 serves it: `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`
 * (1..21600) returns a session token; every GET must carry it in `X-aws-ec2-metadata-token` (401
 * otherwise, and after its TTL by the fake's clock); a PUT carrying `X-Forwarded-For` is refused
 * (403), as EC2 does. `/latest/dynamic/instance-identity/document` is the pretty-printed JSON
 * document, `/rsa2048` and `/pkcs7` the base64 of a PKCS#7 SignedData (RSA SHA-256 and DSA, content
 * attached, no certificates, as AWS serves them) wrapped in 64-character lines without PEM armour,
 * and `/signature` the base64 RSA SHA-256 signature of the document bytes. Signing is done by the
 * machine's openssl (`openssl smime -sign -nodetach -binary -outform DER`), never by hand.
 */
import { execFileSync } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/clock.js';

/** One signing certificate of the fake AWS, with its files. */
export interface AwsSigner {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
}

/** The signature formats IMDS serves. */
export type IidFormat = 'rsa2048' | 'pkcs7' | 'signature';

/** Fields of an instance identity document; defaults make a running instance of account 123456789012. */
export interface InstanceDocument {
  accountId: string;
  architecture: string;
  availabilityZone: string;
  imageId: string;
  instanceId: string;
  instanceType: string;
  pendingTime: string;
  privateIp: string;
  region: string;
}

/**
 * Certificates in the style of AWS's regional public certificates (self-signed RSA for `rsa2048`,
 * RSA for `signature`, DSA for `pkcs7`), plus an `impostor` RSA certificate that is never configured.
 */
export class FakeAwsCertificates {
  readonly dir: string;
  readonly rsa2048: AwsSigner;
  readonly rsa: AwsSigner;
  readonly dsa: AwsSigner;
  readonly impostor: AwsSigner;
  readonly impostorDsa: AwsSigner;
  /** PEM bundle of the three genuine certificates (`certificates:` in the aws-iid config). */
  readonly bundleFile: string;

  constructor(dir = mkdtempSync(join(tmpdir(), 'stint-aws-certs-'))) {
    this.dir = dir;
    this.rsa2048 = this.selfSigned('rsa2048', ['-newkey', 'rsa:2048'], 'Amazon Web Services LLC rsa2048');
    this.rsa = this.selfSigned('rsa', ['-newkey', 'rsa:2048'], 'Amazon Web Services LLC signature');
    const dsaParams = join(dir, 'dsa.params');
    execFileSync('openssl', ['dsaparam', '-out', dsaParams, '2048'], { stdio: 'pipe' });
    this.dsa = this.selfSigned('dsa', ['-newkey', `dsa:${dsaParams}`], 'Amazon Web Services LLC pkcs7');
    this.impostor = this.selfSigned('impostor', ['-newkey', 'rsa:2048'], 'Amazon Web Services LLC rsa2048');
    this.impostorDsa = this.selfSigned('impostor-dsa', ['-newkey', `dsa:${dsaParams}`], 'Amazon Web Services LLC pkcs7');
    this.bundleFile = join(dir, 'aws-bundle.pem');
    writeFileSync(this.bundleFile, [this.rsa2048, this.rsa, this.dsa].map((s) => s.certPem).join(''));
  }

  /** The base64 (64-character lines, no armour) PKCS#7 of `document` by `signer`, as IMDS serves it. */
  pkcs7(document: string, signer: AwsSigner, options: { extraSigners?: readonly AwsSigner[]; embedCertificates?: readonly AwsSigner[]; detached?: boolean } = {}): string {
    return wrap(this.pkcs7Der(document, signer, options).toString('base64'));
  }

  /** The DER PKCS#7 of `document` (openssl cms: several signers, embedded certificates, detached on request). */
  pkcs7Der(document: string, signer: AwsSigner, options: { extraSigners?: readonly AwsSigner[]; embedCertificates?: readonly AwsSigner[]; detached?: boolean } = {}): Buffer {
    const tmp = mkdtempSync(join(this.dir, 'sign-'));
    try {
      const docFile = join(tmp, 'document');
      writeFileSync(docFile, document);
      const args = ['cms', '-sign', '-binary', '-outform', 'DER', '-in', docFile, '-md', 'sha256', '-signer', signer.certFile, '-inkey', signer.keyFile];
      for (const s of options.extraSigners ?? []) args.push('-signer', s.certFile, '-inkey', s.keyFile);
      if (options.detached !== true) args.push('-nodetach');
      if (options.embedCertificates && options.embedCertificates.length > 0) {
        // openssl embeds the signers' certificates itself; -certfile adds the others.
        const signers = [signer, ...(options.extraSigners ?? [])];
        const others = options.embedCertificates.filter((c) => !signers.includes(c));
        if (others.length > 0) {
          const certs = join(tmp, 'certs.pem');
          writeFileSync(certs, others.map((c) => c.certPem).join(''));
          args.push('-certfile', certs);
        }
      } else {
        args.push('-nocerts');
      }
      return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** The base64 RSA SHA-256 signature of the document bytes (`/signature`). */
  signature(document: string, signer: AwsSigner = this.rsa): string {
    return wrap(createSign('sha256').update(document).sign(readFileSync(signer.keyFile, 'utf8')).toString('base64'));
  }

  /** The signature of `format` by the genuine certificate for it. */
  sign(document: string, format: IidFormat): string {
    if (format === 'signature') return this.signature(document);
    return this.pkcs7(document, format === 'rsa2048' ? this.rsa2048 : this.dsa);
  }

  /** Remove the files. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private selfSigned(name: string, keyArgs: string[], cn: string): AwsSigner {
    const certFile = join(this.dir, `${name}.crt`);
    const keyFile = join(this.dir, `${name}.key`);
    execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-sha256', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/C=US/ST=Washington State/L=Seattle/O=${cn}`], { stdio: 'pipe' });
    return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8') };
  }
}

/** The document text as IMDS serves it: pretty-printed with `" : "`, AWS's null members included. */
export function documentText(d: InstanceDocument): string {
  const fields: [string, string | null][] = [
    ['accountId', d.accountId], ['architecture', d.architecture], ['availabilityZone', d.availabilityZone],
    ['billingProducts', null], ['devpayProductCodes', null], ['marketplaceProductCodes', null],
    ['imageId', d.imageId], ['instanceId', d.instanceId], ['instanceType', d.instanceType],
    ['kernelId', null], ['pendingTime', d.pendingTime], ['privateIp', d.privateIp], ['ramdiskId', null],
    ['region', d.region], ['version', '2017-09-30'],
  ];
  return `{\n${fields.map(([k, v]) => `  "${k}" : ${v === null ? 'null' : JSON.stringify(v)}`).join(',\n')}\n}`;
}

/** A document for a fresh instance of account 123456789012 in us-east-1 (fields overridable). */
export function instanceDocument(overrides: Partial<InstanceDocument> = {}): InstanceDocument {
  return {
    accountId: '123456789012',
    architecture: 'x86_64',
    availabilityZone: 'us-east-1a',
    imageId: 'ami-0abcdef1234567890',
    instanceId: `i-${randomBytes(8).toString('hex').slice(0, 17)}`,
    instanceType: 'm5.large',
    pendingTime: '2026-01-01T00:00:00Z',
    privateIp: '10.0.1.23',
    region: 'us-east-1',
    ...overrides,
  };
}

function wrap(b64: string): string {
  return b64.replace(/.{1,64}/g, '$&\n').trimEnd();
}

/** Options of {@link FakeImds.start}. */
export interface FakeImdsOptions {
  readonly certificates: FakeAwsCertificates;
  readonly document?: InstanceDocument;
  readonly clock?: Clock;
}

/** A loopback IMDSv2; create with {@link FakeImds.start}. */
export class FakeImds {
  /** `http://127.0.0.1:<port>`: the sidecar's `imdsEndpoint`. */
  readonly url: string;
  /** Requests served, `METHOD path status`, for assertions. */
  readonly requests: string[] = [];
  document: InstanceDocument;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #tokens = new Map<string, number>();
  readonly #clock: Clock;
  readonly #certs: FakeAwsCertificates;
  readonly #signed = new Map<string, string>();

  private constructor(server: Server, url: string, options: FakeImdsOptions) {
    this.#server = server;
    this.url = url;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#certs = options.certificates;
    this.document = options.document ?? instanceDocument();
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res));
  }

  /** Start on a loopback port chosen by the OS. */
  static async start(options: FakeImdsOptions): Promise<FakeImds> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new FakeImds(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, options);
  }

  /** The document text served now. */
  get documentText(): string {
    return documentText(this.document);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const answer = (status: number, body: string, type = 'text/plain'): void => {
      this.requests.push(`${req.method} ${path} ${status}`);
      res.writeHead(status, { 'content-type': type, server: 'EC2ws' }).end(body);
    };
    if (req.method === 'PUT' && path === '/latest/api/token') {
      if (req.headers['x-forwarded-for'] !== undefined) return answer(403, 'Forbidden');
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return answer(400, 'Bad Request');
      const token = randomBytes(42).toString('base64');
      this.#tokens.set(token, this.#clock.now() + ttl * 1000);
      return answer(200, token);
    }
    if (req.method !== 'GET') return answer(405, 'Method Not Allowed');
    const token = req.headers['x-aws-ec2-metadata-token'];
    const until = typeof token === 'string' ? this.#tokens.get(token) : undefined;
    if (until === undefined || until <= this.#clock.now()) return answer(401, 'Unauthorized');
    const doc = this.documentText;
    switch (path) {
      case '/latest/dynamic/instance-identity/document':
        return answer(200, doc, 'text/plain');
      case '/latest/dynamic/instance-identity/rsa2048':
      case '/latest/dynamic/instance-identity/pkcs7':
      case '/latest/dynamic/instance-identity/signature': {
        const format = path.slice(path.lastIndexOf('/') + 1) as IidFormat;
        const key = `${format}\n${doc}`;
        let sig = this.#signed.get(key);
        if (!sig) {
          sig = this.#certs.sign(doc, format);
          this.#signed.set(key, sig);
        }
        return answer(200, sig);
      }
      default:
        return answer(404, 'Not Found');
    }
  }
}
