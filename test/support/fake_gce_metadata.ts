/**
 * A local stand-in for a Compute Engine VM's metadata server and for Google's token keys: it serves
 * the instance identity endpoint (`/computeMetadata/v1/instance/service-accounts/default/identity`,
 * `Metadata-Flavor: Google` required, `X-Forwarded-For` refused, `audience`, `format=full`,
 * `licenses`), minting Google-style RS256 ID tokens (`iss` https://accounts.google.com, the
 * `google.compute_engine` claim with format=full), and Google's discovery document and JWKS for
 * that issuer, so the gcp-instance attestor is pointed here with `discoveryUrl`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { generateTestKey, releaseTestKey, type TestKey } from './test_issuer.js';

/** Google's ID token issuer. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

/** The VM the metadata server belongs to. */
export interface GceInstance {
  projectId: string;
  projectNumber: number;
  zone: string;
  instanceId: string;
  instanceName: string;
  instanceCreationTimestamp: number;
  /** The default service account. */
  email: string;
  /** Its unique numeric id (`sub`, `azp`). */
  uniqueId: string;
}

/** How a token is minted. */
export interface GceMintOptions {
  readonly audience: string;
  /** `full` adds google.compute_engine (default full); `standard` does not. */
  readonly format?: 'full' | 'standard';
  readonly licenses?: boolean;
  /** `iat` (default now). */
  readonly iat?: number;
  readonly ttl?: number;
  readonly key?: TestKey;
  /** Claims merged over the generated ones; undefined removes one. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Fields merged over google.compute_engine. */
  readonly computeEngine?: Readonly<Record<string, unknown>>;
  readonly instance?: Partial<GceInstance>;
}

/** The fake metadata server and Google key endpoints. */
export class FakeGceMetadata {
  readonly key: TestKey = generateTestKey('RS256');
  instance: GceInstance = {
    projectId: 'acme-prod',
    projectNumber: 123456789012,
    zone: 'europe-west1-b',
    instanceId: '4567890123456789012',
    instanceName: 'web-1',
    instanceCreationTimestamp: 1_890_000_000,
    email: '123456789012-compute@developer.gserviceaccount.com',
    uniqueId: '109876543210987654321',
  };
  /** Identity requests received (audience and format), in order. */
  readonly requests: { audience: string | null; format: string | null }[] = [];

  private constructor(
    private readonly server: Server,
    /** host:port, for GCE_METADATA_HOST / metadataHost. */
    readonly host: string,
    private readonly clock: Clock,
  ) {}

  /** Base URL (discoveryUrl of the attestor). */
  get url(): string {
    return `http://${this.host}`;
  }

  /** JWKS URL. */
  get jwksUrl(): string {
    return `${this.url}/oauth2/v3/certs`;
  }

  /** Start on a free loopback port. */
  static async start(options: { clock?: Clock } = {}): Promise<FakeGceMetadata> {
    const ref: { self?: FakeGceMetadata } = {};
    const server = createServer((req, res) => {
      void ref.self!.handle(req.url ?? '/', req.headers).then(({ status, type, body }) => {
        res.writeHead(status, { 'content-type': type, 'metadata-flavor': 'Google' });
        res.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    ref.self = new FakeGceMetadata(server, `127.0.0.1:${port}`, options.clock ?? systemClock);
    return ref.self;
  }

  /** Mint an instance identity token as the metadata server would. */
  async mint(o: GceMintOptions): Promise<string> {
    const vm = { ...this.instance, ...o.instance };
    const iat = o.iat ?? Math.floor(this.clock.now() / 1000);
    const google: Record<string, unknown> = {};
    if ((o.format ?? 'full') === 'full') {
      google['compute_engine'] = {
        instance_creation_timestamp: vm.instanceCreationTimestamp,
        instance_id: vm.instanceId,
        instance_name: vm.instanceName,
        project_id: vm.projectId,
        project_number: vm.projectNumber,
        zone: vm.zone,
        ...o.computeEngine,
      };
      if (o.licenses) google['license_id'] = ['1000204'];
    }
    const claims: Record<string, unknown> = {
      aud: o.audience,
      azp: vm.uniqueId,
      email: vm.email,
      email_verified: true,
      exp: iat + (o.ttl ?? 3600),
      ...(Object.keys(google).length ? { google } : {}),
      iat,
      iss: GOOGLE_ISSUER,
      sub: vm.uniqueId,
      ...o.claims,
    };
    for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
    const key = o.key ?? this.key;
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
  }

  close(): Promise<void> {
    releaseTestKey(this.key);
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(target: string, headers: Record<string, string | string[] | undefined>): Promise<{ status: number; type: string; body: string }> {
    const url = new URL(target, 'http://x');
    const json = (body: unknown) => ({ status: 200, type: 'application/json', body: JSON.stringify(body) });
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return json({ issuer: GOOGLE_ISSUER, jwks_uri: this.jwksUrl, id_token_signing_alg_values_supported: ['RS256'], response_types_supported: ['id_token'], subject_types_supported: ['public'] });
      case '/oauth2/v3/certs':
        return json({ keys: [this.key.publicJwk] });
      case '/computeMetadata/v1/instance/service-accounts/default/identity': {
        if (headers['metadata-flavor'] !== 'Google' || headers['x-forwarded-for'] !== undefined) {
          return { status: 403, type: 'text/html', body: 'Missing Metadata-Flavor:Google header.' };
        }
        const audience = url.searchParams.get('audience');
        const format = url.searchParams.get('format');
        this.requests.push({ audience, format });
        if (!audience) return { status: 400, type: 'text/html', body: 'non-empty audience parameter required' };
        const token = await this.mint({ audience, format: format === 'full' ? 'full' : 'standard', licenses: url.searchParams.get('licenses') === 'TRUE' });
        return { status: 200, type: 'text/html; charset=utf-8', body: token };
      }
      default:
        return { status: 404, type: 'text/html', body: 'Not Found' };
    }
  }
}
