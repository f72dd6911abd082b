/**
 * A test OIDC issuer on loopback over real HTTP, for attestation and end-to-end tests.
 *
 * It serves `<issuer>/.well-known/openid-configuration` and a JWKS over node:http (port 0),
 * can rotate and add keys, can be switched to fail (HTTP 500, closed connections, hanging) to
 * simulate an outage, counts every request, and mints subject tokens with jose SignJWT in the
 * real claim shapes of Kubernetes projected ServiceAccount tokens, GitHub Actions and GitLab CI
 * `id_tokens`. For attack cases it also signs arbitrary headers (`mintRaw`) and raw JSON text
 * (`signRaw`, e.g. duplicate members), and `tokenParts`/`joinToken` take tokens apart.
 *
 * Time comes from the `clock` option (default: the wall clock); pass the same FakeClock
 * (test/support/fake_clock.ts) to Stint so minted `iat`/`exp` line up with verification time
 * without sleeping.
 *
 * ```ts
 * const clock = new FakeClock();
 * const issuer = await TestIssuer.start({ clock });
 * const token = await issuer.mintKubernetes({ namespace: 'prod', serviceAccount: 'api', audience: 'stint' });
 * issuer.fail('http-500'); // outage
 * await issuer.close();
 * ```
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { constants, createHmac, generateKeyPairSync, randomBytes, randomUUID, sign as signBytes, type KeyObject } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import type { Clock } from '../../src/clock.js';

/** Signature algorithms the test issuer can sign with. */
export type TestAlg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

/** A signing key pair; `publicJwk` is what the JWKS publishes. */
export interface TestKey {
  readonly kid: string;
  readonly alg: TestAlg;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JWK;
}

interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

// RSA-2048 generation takes ~0.5 s on small machines; key pairs of closed issuers are recycled
// (with fresh kids). A recycled pair is never in use by two live issuers at once.
const rsaPool: KeyPair[] = [];

/** Generate a key pair for `alg` (not published anywhere). */
export function generateTestKey(alg: TestAlg = 'RS256', kid: string = `key-${randomUUID()}`): TestKey {
  let pair: KeyPair;
  if (alg.startsWith('RS') || alg.startsWith('PS')) pair = rsaPool.pop() ?? generateKeyPairSync('rsa', { modulusLength: 2048 });
  else if (alg === 'ES256') pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  else if (alg === 'ES384') pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  else if (alg === 'ES512') pair = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  else pair = generateKeyPairSync('ed25519');
  const publicJwk: JWK = { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, publicJwk };
}

/** Return an RSA key no longer in use to the recycling pool (TestIssuer.close does this). */
export function releaseTestKey(key: TestKey): void {
  if (key.publicJwk.kty === 'RSA' && !rsaPool.some((p) => p.privateKey === key.privateKey)) {
    rsaPool.push({ privateKey: key.privateKey, publicKey: key.publicKey });
  }
}

/** How the issuer's HTTP endpoints misbehave: `none` serves normally. */
export type FailureMode = 'none' | 'http-500' | 'close' | 'hang';

/** One request the issuer received. */
export interface RecordedRequest {
  readonly method: string;
  /** The raw request target (path and query). */
  readonly url: string;
}

/** A canned response replacing one endpoint's normal answer. */
export interface CannedResponse {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** A string is sent as-is; anything else as JSON. */
  readonly body?: unknown;
}

/** Options of {@link TestIssuer.start}. */
export interface TestIssuerOptions {
  /** Algorithm of the initial signing key (default RS256, as Kubernetes, GitHub and GitLab use). */
  readonly alg?: TestAlg;
  /** Time source for minted `iat`/`nbf`/`exp` (default: the wall clock). */
  readonly clock?: Clock;
  /** Path of the issuer under the origin, e.g. `/tenant-a` (default: none). */
  readonly path?: string;
  /** Path of the JWKS under the issuer (default `/.well-known/jwks`, GitHub's). */
  readonly jwksPath?: string;
  /** Loopback host to bind and name in URLs (default 127.0.0.1). */
  readonly host?: string;
}

/** Options shared by every mint method. */
export interface MintOptions {
  /** Key to sign with (default: the current signing key; may be unpublished). */
  readonly key?: TestKey;
  /** Header members merged over the default `{ alg, kid }`; `undefined` removes one. */
  readonly header?: Readonly<Record<string, unknown>>;
  /** Claims merged over the generated ones; `undefined` removes one (e.g. `{ exp: undefined }`). */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** `iat` in epoch seconds (default: the clock's now). */
  readonly iat?: number;
  /** Lifetime in seconds, `exp - iat` (default depends on the token kind). */
  readonly ttl?: number;
  /** `iss` (default: this issuer). */
  readonly issuer?: string;
}

/** A Kubernetes projected ServiceAccount token. */
export interface KubernetesTokenOptions extends MintOptions {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly serviceAccountUid?: string;
  /** Bound pod; omitted from the token when not given. */
  readonly podName?: string;
  readonly podUid?: string;
  /** Node of the bound pod (Kubernetes 1.30+); omitted when not given. */
  readonly nodeName?: string;
  readonly nodeUid?: string;
  /** Audience; a string becomes a one-entry array as the API server mints it. */
  readonly audience: string | readonly string[];
}

/** A legacy secret-based ServiceAccount token (iss `kubernetes/serviceaccount`, no exp, no aud). */
export interface LegacyKubernetesTokenOptions extends Omit<MintOptions, 'ttl' | 'issuer'> {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly serviceAccountUid?: string;
  readonly secretName?: string;
}

/** A GitHub Actions OIDC token; ids are numbers or strings and are emitted as strings, as GitHub does. */
export interface GithubTokenOptions extends MintOptions {
  /** `owner/repo`. */
  readonly repository: string;
  readonly repositoryId: string | number;
  /** Default: the owner part of `repository`. */
  readonly owner?: string;
  readonly ownerId: string | number;
  /** Default `refs/heads/main`. */
  readonly ref?: string;
  /** When set, `sub` is `repo:<repository>:environment:<environment>`; else `repo:<repository>:ref:<ref>`. */
  readonly environment?: string;
  readonly audience: string;
  readonly actor?: string;
  readonly actorId?: string | number;
  readonly sha?: string;
  readonly runId?: string | number;
  readonly eventName?: string;
  /** Default `<repository>/.github/workflows/deploy.yml@<ref>`. */
  readonly workflowRef?: string;
  /** Default: the workflow ref (a reusable workflow's ref when called from another repo). */
  readonly jobWorkflowRef?: string;
}

/** A GitLab CI `id_tokens` token. */
export interface GitlabTokenOptions extends MintOptions {
  /** `group/project`. */
  readonly projectPath: string;
  readonly projectId: string | number;
  readonly namespaceId?: string | number;
  /** Default `main`. */
  readonly ref?: string;
  /** Default `branch`. */
  readonly refType?: 'branch' | 'tag';
  readonly audience: string;
  readonly userLogin?: string;
  readonly environment?: string;
}

const DEFAULT_JWKS_PATH = '/.well-known/jwks';
const DISCOVERY_PATH = '/.well-known/openid-configuration';

/** A loopback OIDC issuer; create with {@link TestIssuer.start}. */
export class TestIssuer {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** The issuer (`iss`): origin plus the optional path. Use as the attestor's `issuer`. */
  readonly issuer: string;
  /** Full URL of the discovery document. */
  readonly openidConfigurationUrl: string;
  /** Full URL of the JWKS (usable as an attestor's `jwksUrl`). */
  readonly jwksUrl: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** The key minted tokens are signed with by default. */
  signingKey: TestKey;

  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #clock: Clock;
  readonly #path: string;
  readonly #jwksPath: string;
  #published: TestKey[];
  readonly #generated: TestKey[] = [];
  #failure: FailureMode = 'none';
  #discoveryIssuer: string | undefined;
  #canned = new Map<'discovery' | 'jwks', CannedResponse>();

  private constructor(server: Server, origin: string, options: TestIssuerOptions) {
    this.#server = server;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#path = (options.path ?? '').replace(/\/+$/, '');
    this.#jwksPath = options.jwksPath ?? DEFAULT_JWKS_PATH;
    this.origin = origin;
    this.issuer = `${origin}${this.#path}`;
    this.openidConfigurationUrl = `${this.issuer}${DISCOVERY_PATH}`;
    this.jwksUrl = `${this.issuer}${this.#jwksPath}`;
    this.signingKey = this.#generate(options.alg ?? 'RS256');
    this.#published = [this.signingKey];
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res));
  }

  /** Start an issuer listening on a loopback port chosen by the OS. */
  static async start(options: TestIssuerOptions = {}): Promise<TestIssuer> {
    const host = options.host ?? '127.0.0.1';
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    return new TestIssuer(server, `http://${urlHost}:${port}`, options);
  }

  /** Requests per endpoint so far. */
  get fetches(): { discovery: number; jwks: number; other: number; total: number } {
    let discovery = 0;
    let jwks = 0;
    for (const r of this.requests) {
      const path = r.url.split('?')[0];
      if (path === `${this.#path}${DISCOVERY_PATH}`) discovery++;
      else if (path === `${this.#path}${this.#jwksPath}`) jwks++;
    }
    return { discovery, jwks, other: this.requests.length - discovery - jwks, total: this.requests.length };
  }

  /** Forget recorded requests. */
  resetRequests(): void {
    this.requests.length = 0;
  }

  /** Keys currently published in the JWKS. */
  publishedKeys(): readonly TestKey[] {
    return [...this.#published];
  }

  /** The JWKS document as served. */
  jwks(): { keys: JWK[] } {
    return { keys: this.#published.map((k) => ({ ...k.publicJwk })) };
  }

  /** Generate and publish another key (the signing key stays the same). */
  addKey(alg: TestAlg = this.signingKey.alg, kid?: string): TestKey {
    const key = this.#generate(alg, kid);
    this.#published.push(key);
    return key;
  }

  /** Publish a new key and sign with it from now on; the old key stays published. */
  rotate(alg: TestAlg = this.signingKey.alg, kid?: string): TestKey {
    this.signingKey = this.addKey(alg, kid);
    return this.signingKey;
  }

  /** Remove a key from the JWKS (tokens it signed stop verifying once Stint refetches). */
  unpublish(kid: string): void {
    this.#published = this.#published.filter((k) => k.kid !== kid);
  }

  /** A key this issuer never publishes: tokens it signs must be refused. */
  unpublishedKey(alg: TestAlg = this.signingKey.alg, kid?: string): TestKey {
    return this.#generate(alg, kid);
  }

  /** Make every endpoint fail in `mode` (`none` restores normal service). */
  fail(mode: FailureMode): void {
    this.#failure = mode;
  }

  /** Serve normally again. */
  recover(): void {
    this.#failure = 'none';
  }

  /** Name a different `issuer` in the discovery document (undefined restores the real one). */
  setDiscoveryIssuer(issuer: string | undefined): void {
    this.#discoveryIssuer = issuer;
  }

  /** Replace an endpoint's answer (status, headers, raw body); undefined restores it. */
  setResponse(endpoint: 'discovery' | 'jwks', response: CannedResponse | undefined): void {
    if (response) this.#canned.set(endpoint, response);
    else this.#canned.delete(endpoint);
  }

  /** The discovery document as served. */
  discoveryDocument(): Record<string, unknown> {
    return {
      issuer: this.#discoveryIssuer ?? this.issuer,
      jwks_uri: this.jwksUrl,
      subject_types_supported: ['public', 'pairwise'],
      response_types_supported: ['id_token'],
      id_token_signing_alg_values_supported: [...new Set(this.#published.map((k) => k.alg))],
      claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf'],
      scopes_supported: ['openid'],
    };
  }

  /** Sign `claims` with jose SignJWT (header `{ alg, kid }` plus `options.header`). */
  async mint(claims: Readonly<Record<string, unknown>>, options: Pick<MintOptions, 'key' | 'header'> = {}): Promise<string> {
    const key = options.key ?? this.signingKey;
    const header = prune({ alg: key.alg, kid: key.kid, ...options.header });
    return new SignJWT(prune({ ...claims })).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
  }

  /** A projected ServiceAccount token in the API server's claim shape (default ttl 3600 s). */
  async mintKubernetes(options: KubernetesTokenOptions): Promise<string> {
    const { iat, exp } = this.#times(options, 3600);
    const k8s: Record<string, unknown> = {
      namespace: options.namespace,
      serviceaccount: { name: options.serviceAccount, uid: options.serviceAccountUid ?? randomUUID() },
    };
    if (options.nodeName !== undefined) k8s['node'] = { name: options.nodeName, uid: options.nodeUid ?? randomUUID() };
    if (options.podName !== undefined) k8s['pod'] = { name: options.podName, uid: options.podUid ?? randomUUID() };
    k8s['warnafter'] = iat + Math.floor((exp - iat) * 0.8);
    const claims = {
      aud: typeof options.audience === 'string' ? [options.audience] : [...options.audience],
      exp,
      iat,
      iss: options.issuer ?? this.issuer,
      jti: randomUUID(),
      'kubernetes.io': k8s,
      nbf: iat,
      sub: `system:serviceaccount:${options.namespace}:${options.serviceAccount}`,
      ...options.claims,
    };
    return this.mint(claims, options);
  }

  /** A legacy secret-based ServiceAccount token: iss `kubernetes/serviceaccount`, no exp, no aud. */
  async mintLegacyKubernetes(options: LegacyKubernetesTokenOptions): Promise<string> {
    const secretName = options.secretName ?? `${options.serviceAccount}-token-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const claims = {
      iss: 'kubernetes/serviceaccount',
      'kubernetes.io/serviceaccount/namespace': options.namespace,
      'kubernetes.io/serviceaccount/secret.name': secretName,
      'kubernetes.io/serviceaccount/service-account.name': options.serviceAccount,
      'kubernetes.io/serviceaccount/service-account.uid': options.serviceAccountUid ?? randomUUID(),
      sub: `system:serviceaccount:${options.namespace}:${options.serviceAccount}`,
      ...options.claims,
    };
    return this.mint(claims, options);
  }

  /** A GitHub Actions OIDC token with GitHub's claim set and header (incl. `x5t`); default ttl 300 s. */
  async mintGithub(options: GithubTokenOptions): Promise<string> {
    const { iat, exp } = this.#times(options, 300);
    const owner = options.owner ?? options.repository.split('/')[0] ?? '';
    const ref = options.ref ?? 'refs/heads/main';
    const workflowRef = options.workflowRef ?? `${options.repository}/.github/workflows/deploy.yml@${ref}`;
    const sha = options.sha ?? randomBytes(20).toString('hex');
    const sub = options.environment !== undefined ? `repo:${options.repository}:environment:${options.environment}` : `repo:${options.repository}:ref:${ref}`;
    const claims: Record<string, unknown> = {
      jti: randomUUID(),
      sub,
      aud: options.audience,
      ref,
      sha,
      repository: options.repository,
      repository_owner: owner,
      repository_owner_id: String(options.ownerId),
      run_id: String(options.runId ?? 6543210987),
      run_number: '42',
      run_attempt: '1',
      repository_visibility: 'private',
      repository_id: String(options.repositoryId),
      actor_id: String(options.actorId ?? 583231),
      actor: options.actor ?? 'octocat',
      workflow: 'deploy',
      head_ref: '',
      base_ref: '',
      event_name: options.eventName ?? 'push',
      ref_protected: 'true',
      ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
      workflow_ref: workflowRef,
      workflow_sha: sha,
      job_workflow_ref: options.jobWorkflowRef ?? workflowRef,
      job_workflow_sha: sha,
      runner_environment: 'github-hosted',
      iss: options.issuer ?? this.issuer,
      nbf: iat - 600,
      exp,
      iat,
    };
    if (options.environment !== undefined) claims['environment'] = options.environment;
    const key = options.key ?? this.signingKey;
    return this.mint({ ...claims, ...options.claims }, {
      key,
      header: { typ: 'JWT', alg: key.alg, x5t: randomBytes(20).toString('base64url'), kid: key.kid, ...options.header },
    });
  }

  /** A GitLab CI `id_tokens` token with GitLab's claim set; default ttl 3600 s. */
  async mintGitlab(options: GitlabTokenOptions): Promise<string> {
    const { iat, exp } = this.#times(options, 3600);
    const ref = options.ref ?? 'main';
    const refType = options.refType ?? 'branch';
    const namespacePath = options.projectPath.split('/').slice(0, -1).join('/');
    const claims: Record<string, unknown> = {
      namespace_id: String(options.namespaceId ?? 72),
      namespace_path: namespacePath,
      project_id: String(options.projectId),
      project_path: options.projectPath,
      user_id: '1',
      user_login: options.userLogin ?? 'sample-user',
      user_email: `${options.userLogin ?? 'sample-user'}@example.com`,
      user_access_level: 'developer',
      pipeline_id: '574',
      pipeline_source: 'push',
      job_id: '302',
      ref,
      ref_type: refType,
      ref_path: `refs/${refType === 'tag' ? 'tags' : 'heads'}/${ref}`,
      ref_protected: 'true',
      runner_id: 1,
      runner_environment: 'gitlab-hosted',
      sha: randomBytes(20).toString('hex'),
      project_visibility: 'private',
      ci_config_ref_uri: `gitlab.example.com/${options.projectPath}//.gitlab-ci.yml@refs/heads/${ref}`,
      ci_config_sha: randomBytes(20).toString('hex'),
      jti: randomUUID(),
      iat,
      nbf: iat - 5,
      exp,
      iss: options.issuer ?? this.issuer,
      sub: `project_path:${options.projectPath}:ref_type:${refType}:ref:${ref}`,
      aud: options.audience,
    };
    if (options.environment !== undefined) {
      claims['environment'] = options.environment;
      claims['environment_protected'] = 'false';
    }
    const key = options.key ?? this.signingKey;
    return this.mint({ ...claims, ...options.claims }, { key, header: { typ: 'JWT', ...options.header } });
  }

  /**
   * Sign any header and payload objects, bypassing jose's checks, for attack cases: `alg: none`
   * gives an empty signature, HS* needs `hmacSecret`, anything else signs with `key` (default
   * the signing key) whatever the header says (no kid is added).
   */
  mintRaw(header: Readonly<Record<string, unknown>>, payload: Readonly<Record<string, unknown>>, options: { key?: TestKey; hmacSecret?: string | Uint8Array } = {}): string {
    return this.signRaw(JSON.stringify(header), JSON.stringify(payload), options);
  }

  /**
   * Sign raw JSON text (e.g. with duplicate member names): the algorithm is read from the
   * header text's first `"alg"` value; see {@link mintRaw} for keys.
   */
  signRaw(headerJson: string, payloadJson: string, options: { key?: TestKey; hmacSecret?: string | Uint8Array } = {}): string {
    const signingInput = `${b64url(headerJson)}.${b64url(payloadJson)}`;
    const alg = /"alg"\s*:\s*"([^"]*)"/.exec(headerJson)?.[1] ?? 'none';
    return `${signingInput}.${signWith(alg, signingInput, options.key ?? this.signingKey, options.hmacSecret)}`;
  }

  /** Standard claims for a token of this issuer: iss, sub, aud, iat, nbf, exp (ttl default 600 s). */
  claims(audience: string, extra: Readonly<Record<string, unknown>> = {}, ttl = 600): Record<string, unknown> {
    const iat = Math.floor(this.#clock.now() / 1000);
    return { iss: this.issuer, sub: 'workload', aud: audience, iat, nbf: iat, exp: iat + ttl, ...extra };
  }

  /** Stop listening and drop every connection (including hanging ones). */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const key of this.#generated.splice(0)) releaseTestKey(key);
  }

  #generate(alg: TestAlg, kid?: string): TestKey {
    const key = generateTestKey(alg, kid);
    this.#generated.push(key);
    return key;
  }

  #times(options: MintOptions, defaultTtl: number): { iat: number; exp: number } {
    const iat = options.iat ?? Math.floor(this.#clock.now() / 1000);
    return { iat, exp: iat + (options.ttl ?? defaultTtl) };
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ method: req.method ?? 'GET', url: req.url ?? '' });
    switch (this.#failure) {
      case 'http-500':
        send(res, 500, { error: 'simulated outage' });
        return;
      case 'close':
        req.socket.destroy();
        return;
      case 'hang':
        return;
      case 'none':
        break;
    }
    const path = (req.url ?? '').split('?')[0];
    const endpoint = path === `${this.#path}${DISCOVERY_PATH}` ? 'discovery' : path === `${this.#path}${this.#jwksPath}` ? 'jwks' : undefined;
    if (endpoint === undefined || req.method !== 'GET') {
      send(res, 404, { error: 'not found' });
      return;
    }
    const canned = this.#canned.get(endpoint);
    if (canned) {
      send(res, canned.status ?? 200, canned.body, canned.headers);
      return;
    }
    send(res, 200, endpoint === 'discovery' ? this.discoveryDocument() : this.jwks());
  }
}

/** The three segments of a compact JWS and their decoded header and payload text. */
export function tokenParts(token: string): { header: string; payload: string; signature: string; headerJson: string; payloadJson: string } {
  const [header = '', payload = '', signature = ''] = token.split('.');
  return {
    header,
    payload,
    signature,
    headerJson: Buffer.from(header, 'base64url').toString('utf8'),
    payloadJson: Buffer.from(payload, 'base64url').toString('utf8'),
  };
}

/** Join segments into a compact token. */
export function joinToken(...segments: readonly string[]): string {
  return segments.join('.');
}

/** base64url (no padding) of text or bytes. */
export function b64url(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64url');
}

function signWith(alg: string, signingInput: string, key: TestKey, hmacSecret: string | Uint8Array | undefined): string {
  const data = Buffer.from(signingInput, 'ascii');
  if (alg.toLowerCase() === 'none') return '';
  const bits = alg.slice(2);
  if (alg.startsWith('HS')) {
    if (hmacSecret === undefined) throw new Error('test issuer: HS* needs hmacSecret');
    return createHmac(`sha${bits}`, hmacSecret).update(data).digest('base64url');
  }
  if (alg.startsWith('RS')) return signBytes(`sha${bits}`, data, key.privateKey).toString('base64url');
  if (alg.startsWith('PS')) {
    return signBytes(`sha${bits}`, data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }).toString('base64url');
  }
  if (alg.startsWith('ES')) {
    return signBytes(`sha${bits === '512' ? '512' : bits}`, data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  }
  if (alg === 'EdDSA' || alg === 'Ed25519') return signBytes(null, data, key.privateKey).toString('base64url');
  // Unknown algorithm names (attack cases) get a signature of the signing key's own algorithm.
  return signWith(key.alg, signingInput, key, hmacSecret);
}

function prune(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

function send(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}
