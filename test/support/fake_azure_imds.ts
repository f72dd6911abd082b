/**
 * A local stand-in for an Azure VM's Instance Metadata Service and for Microsoft Entra ID's keys:
 * managed identity tokens (`/metadata/identity/oauth2/token`, `Metadata: true` required,
 * `X-Forwarded-For` refused) minted as RS256 JWTs by a fake tenant issuer
 * (`https://sts.windows.net/<tid>/`) whose discovery document and JWKS it serves under `/<tid>`,
 * and attested documents (`/metadata/attested/document?api-version=2020-09-01&nonce=...`) signed
 * as PKCS#7 SignedData by a test CA with the machine's openssl (`openssl cms -sign -nodetach`).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { formatImdsTime } from '../../src/attestation/azure/attested_document.js';
import { generateTestKey, releaseTestKey, type TestKey } from './test_issuer.js';

/** The VM the metadata service belongs to. */
export interface AzureVm {
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  vmName: string;
  vmId: string;
  /** The system-assigned identity's object and client ids. */
  objectId: string;
  clientId: string;
  sku: string;
}

/** A certificate and key made by openssl. */
export interface PemPair {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Options of one managed identity token. */
export interface MsiMintOptions {
  readonly resource: string;
  readonly iat?: number;
  readonly ttl?: number;
  readonly key?: TestKey;
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** Options of one attested document. */
export interface AttestedOptions {
  readonly nonce: string;
  /** Members merged over the signed content (undefined removes one). */
  readonly content?: Readonly<Record<string, unknown>>;
  /** Signer (default: the metadata.azure.com certificate of the test CA). */
  readonly signer?: PemPair;
  readonly createdOn?: number;
  /** Lifetime in seconds (default 6 h, as IMDS). */
  readonly ttl?: number;
  /** Sign with an extra second signer. */
  readonly extraSigner?: PemPair;
}

const RSA = ['-newkey', 'rsa:2048', '-nodes'];

/** The fake IMDS, Entra tenant and attested-document CA. */
export class FakeAzureImds {
  readonly key: TestKey = generateTestKey('RS256');
  vm: AzureVm = {
    tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    subscriptionId: '8d3b6c1e-0a9c-4d8e-9a51-3c2b1f0e7d6a',
    resourceGroup: 'rg-web',
    vmName: 'web-vm-1',
    vmId: '02aab8a4-74ef-476e-8182-f6d2ba4166a6',
    objectId: '5f0e9c2a-1b3d-4e5f-8a7b-9c0d1e2f3a4b',
    clientId: '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f',
    sku: '22_04-lts-gen2',
  };
  /** Requests received, by path, in order. */
  readonly requests: { path: string; query: Record<string, string> }[] = [];
  /** The CA (root) certificate file Stint trusts, and the metadata.azure.com signer. */
  readonly rootFile: string;
  readonly signer: PemPair;

  private constructor(
    private readonly server: Server,
    /** http://127.0.0.1:port: IMDS endpoint and Entra discovery base. */
    readonly url: string,
    private readonly clock: Clock,
    private readonly dir: string,
  ) {
    this.rootFile = join(dir, 'root.crt');
    execFileSync('openssl', ['req', '-x509', ...RSA, '-keyout', join(dir, 'root.key'), '-out', this.rootFile, '-days', '3650', '-subj', '/CN=Stint Test Azure Root',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'pipe' });
    this.signer = this.issue('signer', 'metadata.azure.com');
  }

  /** The tenant's v1 issuer. */
  get issuer(): string {
    return `https://sts.windows.net/${this.vm.tenantId}/`;
  }

  /** Discovery base for the attestor's `discoveryUrl`. */
  get discoveryUrl(): string {
    return `${this.url}/${this.vm.tenantId}`;
  }

  /** Start on a free loopback port. */
  static async start(options: { clock?: Clock } = {}): Promise<FakeAzureImds> {
    const ref: { self?: FakeAzureImds } = {};
    const server = createServer((req, res) => {
      void ref.self!.handle(req.url ?? '/', req.headers).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(body);
      }, (e: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String(e) }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    ref.self = new FakeAzureImds(server, `http://127.0.0.1:${port}`, options.clock ?? systemClock, mkdtempSync(join(tmpdir(), 'stint-azure-')));
    return ref.self;
  }

  /** A certificate for `dnsName` signed by this CA, or by a foreign self-made CA with `foreign`. */
  issue(name: string, dnsName: string, options: { foreign?: boolean } = {}): PemPair {
    const f = (n: string) => join(this.dir, `${name}.${n}`);
    let caCert = this.rootFile;
    let caKey = join(this.dir, 'root.key');
    if (options.foreign) {
      caCert = f('foreign-ca.crt');
      caKey = f('foreign-ca.key');
      execFileSync('openssl', ['req', '-x509', ...RSA, '-keyout', caKey, '-out', caCert, '-days', '3650', '-subj', '/CN=Stint Test Azure Root',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'pipe' });
    }
    execFileSync('openssl', ['req', ...RSA, '-keyout', f('key'), '-out', f('csr'), '-subj', `/CN=${dnsName}`], { stdio: 'pipe' });
    writeFileSync(f('ext'), `subjectAltName=DNS:${dnsName}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n`);
    execFileSync('openssl', ['x509', '-req', '-in', f('csr'), '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', f('crt'), '-days', '3650', '-extfile', f('ext')], { stdio: 'pipe' });
    return { certFile: f('crt'), keyFile: f('key') };
  }

  /** The signed content IMDS would produce for `nonce`, as JSON text. */
  content(o: AttestedOptions): string {
    const created = o.createdOn ?? this.clock.now();
    const doc: Record<string, unknown> = {
      licenseType: '',
      nonce: o.nonce,
      plan: { name: '', product: '', publisher: '' },
      sku: this.vm.sku,
      subscriptionId: this.vm.subscriptionId,
      timeStamp: { createdOn: formatImdsTime(created), expiresOn: formatImdsTime(created + (o.ttl ?? 6 * 3600) * 1000) },
      vmId: this.vm.vmId,
      ...o.content,
    };
    for (const k of Object.keys(doc)) if (doc[k] === undefined) delete doc[k];
    return JSON.stringify(doc);
  }

  /** Sign `content` as IMDS does: PKCS#7 SignedData (attached, SHA-256 with RSA), base64 DER. */
  sign(content: string, signer: PemPair = this.signer, extraSigner?: PemPair): string {
    const input = join(this.dir, `content-${randomUUID()}.json`);
    const out = `${input}.p7`;
    writeFileSync(input, content);
    const extra = extraSigner ? ['-signer', extraSigner.certFile, '-inkey', extraSigner.keyFile] : [];
    execFileSync('openssl', ['cms', '-sign', '-nodetach', '-binary', '-md', 'sha256', '-in', input, '-signer', signer.certFile, '-inkey', signer.keyFile, ...extra, '-outform', 'DER', '-out', out], { stdio: 'pipe' });
    const der = readFileSync(out);
    rmSync(input);
    rmSync(out);
    return der.toString('base64');
  }

  /** The attested document answer, as IMDS serves it. */
  attested(o: AttestedOptions): string {
    return JSON.stringify({ encoding: 'pkcs7', signature: this.sign(this.content(o), o.signer, o.extraSigner) });
  }

  /** A managed identity token for `resource`, as Entra ID mints one (v1). */
  async mintMsi(o: MsiMintOptions): Promise<string> {
    const vm = this.vm;
    const iat = o.iat ?? Math.floor(this.clock.now() / 1000) - 300;
    const mirid = `/subscriptions/${vm.subscriptionId}/resourcegroups/${vm.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${vm.vmName}`;
    const claims: Record<string, unknown> = {
      aud: o.resource,
      iss: this.issuer,
      iat,
      nbf: iat,
      exp: iat + (o.ttl ?? 86_700),
      aio: 'E2ZgYJi0cP8',
      appid: vm.clientId,
      appidacr: '2',
      idp: this.issuer,
      idtyp: 'app',
      oid: vm.objectId,
      rh: '0.AQEAv4j5cvGGr0GRqy180BHbR0ZgAQ',
      sub: vm.objectId,
      tid: vm.tenantId,
      uti: 'ZqsKxYm2ZUq5',
      ver: '1.0',
      xms_mirid: mirid,
      ...o.claims,
    };
    for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
    const key = o.key ?? this.key;
    return new SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', x5t: key.kid, kid: key.kid }).sign(key.privateKey);
  }

  close(): Promise<void> {
    releaseTestKey(this.key);
    rmSync(this.dir, { recursive: true, force: true });
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(target: string, headers: Record<string, string | string[] | undefined>): Promise<{ status: number; body: string }> {
    const url = new URL(target, 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
    const tid = this.vm.tenantId;
    switch (url.pathname) {
      case `/${tid}/.well-known/openid-configuration`:
        return json(200, { issuer: this.issuer, jwks_uri: `${this.url}/common/discovery/keys`, token_endpoint: `${this.url}/${tid}/oauth2/token`, id_token_signing_alg_values_supported: ['RS256'] });
      case '/common/discovery/keys':
        return json(200, { keys: [{ ...this.key.publicJwk, x5t: this.key.kid }] });
      case '/metadata/identity/oauth2/token':
      case '/metadata/attested/document': {
        this.requests.push({ path: url.pathname, query });
        if (headers['metadata'] !== 'true' || headers['x-forwarded-for'] !== undefined) {
          return json(400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
        }
        if (url.pathname === '/metadata/attested/document') {
          if (query['api-version'] !== '2020-09-01') return json(400, { error: 'Bad request. api-version is invalid.' });
          const nonce = query['nonce'] ?? String(Math.floor(this.clock.now() / 1000));
          if (!/^\d{1,32}$/.test(nonce)) return json(400, { error: 'Bad request. Nonce is invalid.' });
          return { status: 200, body: this.attested({ nonce }) };
        }
        if (query['api-version'] !== '2018-02-01' || !query['resource']) return json(400, { error: 'invalid_request', error_description: 'resource and api-version are required' });
        const token = await this.mintMsi({ resource: query['resource'] });
        const now = Math.floor(this.clock.now() / 1000);
        return json(200, { access_token: token, client_id: this.vm.clientId, expires_in: '86399', expires_on: String(now + 86399), ext_expires_in: '86399', not_before: String(now - 300), resource: query['resource'], token_type: 'Bearer' });
      }
      default:
        return json(404, { error: 'not found' });
    }
  }
}
