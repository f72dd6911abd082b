/**
 * A fake Kubernetes API server on loopback over real HTTPS (a CA and server certificate made
 * with the machine's `openssl` at start), speaking the Kubernetes REST API's JSON for what Stint
 * uses: the TokenRequest subresource (tokens are real ES256 JWTs with the claims of ServiceAccount
 * tokens), and RoleBindings / ClusterRoleBindings (create, get, replace, delete, list in one or all
 * namespaces with `labelSelector`, `limit` and `continue`), and TokenReview (the attestor's
 * check): a reviewed token is verified against the trusted issuers' JWKS (`trustIssuer`, e.g. a
 * TestIssuer), its audiences against `spec.audiences` (or the API server's own), and, like the
 * real API server, its ServiceAccount (by uid), bound pod (by uid) and, for a legacy token, its
 * ServiceAccount must still exist; the answer carries the user info and `extra` a real API server
 * returns, or `authenticated` unset and an `error`. Errors are metav1.Status bodies. Every
 * request must carry the bearer token in `tokenFile`; RBAC denials, throttling (429 +
 * Retry-After), outages, malformed replies, hangs and resets can be injected, and the whole
 * server can go down (`goDown`: connections refused) and come back on the same port.
 *
 * ```ts
 * const kube = await FakeKubeApiServer.start({ clock, serviceAccounts: ['payments/deployer'] });
 * // providers.kubernetes: { server: kube.url, caFile: kube.caFile, tokenFile: kube.tokenFile }
 * kube.fail('throttled', { times: 1 });
 * // TokenReview of tokens minted by a TestIssuer, bound to a pod that can be deleted:
 * kube.trustIssuer(issuer);
 * const podUid = kube.addPod('payments', 'api-0', { serviceAccount: 'api' });
 * kube.deletePod('payments', 'api-0');
 * await kube.close();
 * ```
 */
import { makeServerCertificates } from './certs.js';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { Clock } from '../../src/clock.js';

/** Faults the server can inject. */
export type KubeFault =
  | 'forbidden'
  | 'unauthorized'
  | 'not-found'
  | 'throttled'
  | 'unavailable'
  | 'internal'
  | 'malformed'
  | 'not-json'
  | 'empty-object'
  | 'hang'
  | 'reset';

/** One request the server received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly authorization: string | undefined;
}

/** Options of FakeKubeApiServer.start. */
export interface FakeKubeOptions {
  readonly clock?: Clock;
  /** ServiceAccounts that exist, as `namespace/name` (their namespaces exist too). */
  readonly serviceAccounts?: readonly string[];
  /** Further namespaces that exist. */
  readonly namespaces?: readonly string[];
  /** The API server's cap on token lifetimes (`--service-account-max-token-expiration`), default 48 h. */
  readonly maxTokenSeconds?: number;
  /** Issuers whose ServiceAccount tokens TokenReview accepts (see trustIssuer). */
  readonly tokenIssuers?: readonly ReviewedIssuer[];
}

/** An issuer of ServiceAccount tokens the fake's TokenReview verifies (a TestIssuer is one). */
export interface ReviewedIssuer {
  /** The `iss` of its tokens (`--service-account-issuer`). */
  readonly issuer: string;
  /** Its public keys (`--service-account-key-file`), read at each review (rotation works). */
  jwks(): { keys: JWK[] };
}

/** A pod that exists in the fake. */
interface FakePod {
  readonly uid: string;
  readonly serviceAccount: string;
  readonly nodeName: string | undefined;
}

/** Which requests a fault or a denial applies to. */
export interface RequestMatch {
  readonly verb?: 'create' | 'get' | 'list' | 'update' | 'delete';
  readonly resource?: 'serviceaccounts/token' | 'rolebindings' | 'clusterrolebindings' | 'tokenreviews';
  readonly namespace?: string;
}

interface Fault {
  readonly fault: KubeFault;
  remaining: number;
  readonly match: RequestMatch;
  readonly retryAfter: number | undefined;
}

interface Route {
  readonly verb: NonNullable<RequestMatch['verb']>;
  readonly resource: NonNullable<RequestMatch['resource']>;
  readonly namespace: string | null;
  readonly name: string | null;
  readonly group: string;
}

type KubeObject = Record<string, unknown> & { metadata: Record<string, unknown> & { name: string; namespace?: string } };

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const AUTHN_GROUP = 'authentication.k8s.io';
const LEGACY_ISSUER = 'kubernetes/serviceaccount';
const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';
const STINT_USER = 'system:serviceaccount:stint-system:stint';
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;


function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** Parse a label selector of equality and existence requirements (`a=b,c!=d,e,!f`). */
function parseSelector(selector: string): ((labels: Record<string, string>) => boolean) | null {
  const tests: ((labels: Record<string, string>) => boolean)[] = [];
  for (const raw of selector.split(',')) {
    const req = raw.trim();
    if (!req) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([A-Za-z0-9./_-]+)\s*!=\s*([A-Za-z0-9._-]*)$/.exec(req))) {
      const [, k, v] = m;
      tests.push((l) => l[k!] !== v);
    } else if ((m = /^([A-Za-z0-9./_-]+)\s*==?\s*([A-Za-z0-9._-]*)$/.exec(req))) {
      const [, k, v] = m;
      tests.push((l) => Object.hasOwn(l, k!) && l[k!] === v);
    } else if ((m = /^!([A-Za-z0-9./_-]+)$/.exec(req))) {
      const k = m[1]!;
      tests.push((l) => !Object.hasOwn(l, k));
    } else if ((m = /^([A-Za-z0-9./_-]+)$/.exec(req))) {
      const k = m[1]!;
      tests.push((l) => Object.hasOwn(l, k));
    } else {
      return null;
    }
  }
  return (labels) => tests.every((t) => t(labels));
}

/** A fake kube-apiserver over HTTPS on 127.0.0.1. */
export class FakeKubeApiServer {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** The `iss` of the tokens it mints. */
  readonly issuer = API_AUDIENCE;
  private readonly namespaces = new Set<string>();
  private readonly serviceAccounts = new Map<string, string>();
  private readonly pods = new Map<string, FakePod>();
  private readonly tokenIssuers: ReviewedIssuer[] = [];
  private reviewTamper: ((status: Record<string, unknown>) => Record<string, unknown>) | undefined;
  private port = 0;
  private readonly roleBindingStore = new Map<string, KubeObject>();
  private readonly clusterRoleBindingStore = new Map<string, KubeObject>();
  private readonly faults: Fault[] = [];
  private readonly denials: RequestMatch[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private resourceVersion = 1000;
  private acceptedToken: string;

  private constructor(
    private readonly server: Server,
    /** Base URL, `https://127.0.0.1:<port>`. */
    readonly url: string,
    /** Temporary folder holding the certificates, token and kubeconfigs. */
    readonly dir: string,
    /** The CA that signed the server certificate (PEM file). */
    readonly caFile: string,
    /** A CA that did not sign it (for TLS failure tests). */
    readonly untrustedCaFile: string,
    /** File holding the bearer token the server accepts (what Stint presents). */
    readonly tokenFile: string,
    private readonly clock: Clock,
    private readonly signingKey: KeyObject,
    private readonly verifyKey: KeyObject,
    private readonly maxTokenSeconds: number,
  ) {
    this.acceptedToken = readFileSync(tokenFile, 'utf8').trim();
  }

  /** Start on an ephemeral port. */
  static async start(options: FakeKubeOptions = {}): Promise<FakeKubeApiServer> {
    const dir = mkdtempSync(join(tmpdir(), 'fake-kube-'));
    const certs = makeServerCertificates(dir, '', 'kube-apiserver');
    const untrusted = makeServerCertificates(dir, 'untrusted-', 'kube-apiserver');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `stint-api-token-${randomUUID()}`, { mode: 0o600 });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const holder: { self?: FakeKubeApiServer } = {};
    const server = createServer({ key: readFileSync(certs.keyFile), cert: readFileSync(certs.certFile) }, (req, res) => {
      void holder.self!.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const clock = options.clock ?? { now: () => Date.now() };
    const self = new FakeKubeApiServer(server, `https://127.0.0.1:${port}`, dir, certs.caFile, untrusted.caFile, tokenFile, clock, privateKey, publicKey, options.maxTokenSeconds ?? 48 * 3600);
    holder.self = self;
    server.on('secureConnection', (socket: Socket) => {
      self.sockets.add(socket);
      socket.on('close', () => self.sockets.delete(socket));
    });
    for (const sa of options.serviceAccounts ?? []) {
      const [ns, name] = sa.split('/');
      self.addServiceAccount(ns!, name!);
    }
    for (const ns of options.namespaces ?? []) self.addNamespace(ns);
    for (const issuer of options.tokenIssuers ?? []) self.trustIssuer(issuer);
    self.port = port;
    return self;
  }

  /** Create a namespace. */
  addNamespace(namespace: string): void {
    this.namespaces.add(namespace);
  }

  /** Create a ServiceAccount (and its namespace); returns its uid (new on every creation). */
  addServiceAccount(namespace: string, name: string, uid: string = randomUUID()): string {
    this.namespaces.add(namespace);
    this.serviceAccounts.set(`${namespace}/${name}`, uid);
    return uid;
  }

  /** Delete a ServiceAccount. */
  deleteServiceAccount(namespace: string, name: string): void {
    this.serviceAccounts.delete(`${namespace}/${name}`);
  }

  /** The uid of an existing ServiceAccount. */
  serviceAccountUid(namespace: string, name: string): string | undefined {
    return this.serviceAccounts.get(`${namespace}/${name}`);
  }

  /**
   * Create a pod running as `serviceAccount` (default `default`), creating the ServiceAccount when
   * it does not exist; returns the pod's uid (new on every creation, as for a recreated pod).
   */
  addPod(namespace: string, name: string, options: { serviceAccount?: string; uid?: string; nodeName?: string } = {}): string {
    const serviceAccount = options.serviceAccount ?? 'default';
    if (!this.serviceAccounts.has(`${namespace}/${serviceAccount}`)) this.addServiceAccount(namespace, serviceAccount);
    const uid = options.uid ?? randomUUID();
    this.pods.set(`${namespace}/${name}`, { uid, serviceAccount, nodeName: options.nodeName });
    return uid;
  }

  /** Delete a pod: the API server then refuses the tokens bound to it. */
  deletePod(namespace: string, name: string): void {
    this.pods.delete(`${namespace}/${name}`);
  }

  /** Accept (in TokenReview) the ServiceAccount tokens of `issuer`. */
  trustIssuer(issuer: ReviewedIssuer): void {
    this.tokenIssuers.push(issuer);
  }

  /**
   * Rewrite the `status` of every TokenReview answer (a misbehaving or audience-unaware
   * authenticator); undefined restores honest answers.
   */
  tamperTokenReview(fn: ((status: Record<string, unknown>) => Record<string, unknown>) | undefined): void {
    this.reviewTamper = fn;
  }

  /** Stop accepting connections (clients get ECONNREFUSED) and drop open ones; comeBack() undoes it. */
  async goDown(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Listen again on the same port after goDown(). */
  async comeBack(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Accept only `token` from now on, and write it to tokenFile (a rotated projected token). */
  rotateToken(token: string = `stint-api-token-${randomUUID()}`): void {
    this.acceptedToken = token;
    writeFileSync(this.tokenFile, token, { mode: 0o600 });
  }

  /** The bearer token the server accepts now. */
  acceptedBearer(): string {
    return this.acceptedToken;
  }

  /** Accept a different token than tokenFile holds (Stint's credentials go stale). */
  acceptOnly(token: string): void {
    this.acceptedToken = token;
  }

  /** Write a kubeconfig for this server (by default with the right CA and token); returns its path. */
  kubeconfig(options: { caFile?: string; token?: string; name?: string; context?: string } = {}): string {
    const file = join(this.dir, `${options.name ?? 'kubeconfig'}.yaml`);
    const ca = readFileSync(options.caFile ?? this.caFile).toString('base64');
    const context = options.context ?? 'fake';
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        `current-context: ${context}`,
        'clusters:',
        '  - name: fake-cluster',
        '    cluster:',
        `      server: ${this.url}`,
        `      certificate-authority-data: ${ca}`,
        'users:',
        '  - name: stint',
        '    user:',
        `      token: ${options.token ?? this.acceptedToken}`,
        'contexts:',
        `  - name: ${context}`,
        '    context: { cluster: fake-cluster, user: stint }',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return file;
  }

  /**
   * Inject `fault` into the next `times` matching requests (default: every one until
   * clearFaults). `retryAfter` is the Retry-After of `throttled` (seconds, default 7, also in
   * the Status details) and of `unavailable` (header only, none by default).
   */
  fail(fault: KubeFault, options: { times?: number; match?: RequestMatch; retryAfter?: number } = {}): void {
    this.faults.push({ fault, remaining: options.times ?? Infinity, match: options.match ?? {}, retryAfter: options.retryAfter });
  }

  /** Remove injected faults, RBAC denials and TokenReview tampering; release hanging requests. */
  clearFaults(): void {
    this.faults.length = 0;
    this.denials.length = 0;
    this.reviewTamper = undefined;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  /** Deny Stint (403 Forbidden, as RBAC would) every matching request until clearFaults. */
  forbid(match: RequestMatch): void {
    this.denials.push(match);
  }

  /** A stored RoleBinding, as the API would return it. */
  roleBinding(namespace: string, name: string): KubeObject | undefined {
    return this.roleBindingStore.get(`${namespace}/${name}`);
  }

  /** A stored ClusterRoleBinding. */
  clusterRoleBinding(name: string): KubeObject | undefined {
    return this.clusterRoleBindingStore.get(name);
  }

  /** Every stored RoleBinding. */
  roleBindings(): KubeObject[] {
    return [...this.roleBindingStore.values()];
  }

  /** Every stored ClusterRoleBinding. */
  clusterRoleBindings(): KubeObject[] {
    return [...this.clusterRoleBindingStore.values()];
  }

  /** Store a binding directly (as another actor, or Stint in a previous life, created it). */
  seed(object: { kind: 'RoleBinding' | 'ClusterRoleBinding'; metadata: Record<string, unknown> & { name: string; namespace?: string }; roleRef: unknown; subjects?: unknown }, creationTimestampMs?: number): void {
    const stored = this.stamp({ apiVersion: `${RBAC_GROUP}/v1`, ...object } as KubeObject, creationTimestampMs);
    if (object.kind === 'RoleBinding') {
      this.namespaces.add(object.metadata.namespace!);
      this.roleBindingStore.set(`${object.metadata.namespace}/${object.metadata.name}`, stored);
    } else {
      this.clusterRoleBindingStore.set(object.metadata.name, stored);
    }
  }

  /** Verify a token this server minted; returns its claims. */
  async verifyToken(token: string, audience?: string): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, this.verifyKey, {
      issuer: this.issuer,
      ...(audience ? { audience } : {}),
      currentDate: new Date(this.clock.now()),
    });
    return payload;
  }

  /** Requests to one resource (e.g. `rolebindings`), optionally of one verb. */
  requestsTo(resource: string, method?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.includes(`/${resource}`) && (!method || r.method === method));
  }

  /** Stop the server and remove its files. */
  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private stamp(object: KubeObject, creationTimestampMs?: number): KubeObject {
    const meta = object.metadata;
    return {
      ...object,
      metadata: {
        ...meta,
        uid: randomUUID(),
        resourceVersion: String(++this.resourceVersion),
        creationTimestamp: new Date(Math.floor((creationTimestampMs ?? this.clock.now()) / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', this.url);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: url.searchParams, body, authorization: req.headers.authorization });
    const send = (code: number, payload: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };

    if (req.headers.authorization !== `Bearer ${this.acceptedToken}`) {
      return send(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
    }
    const route = this.route(method, url.pathname);
    if (!route) return send(404, statusBody(404, 'NotFound', 'the server could not find the requested resource', {}));

    const fault = this.faults.find((f) => f.remaining > 0 && matches(f.match, route));
    if (fault) {
      fault.remaining--;
      if (this.inject(fault, route, res, send)) return;
    }
    if (this.denials.some((d) => matches(d, route))) return send(403, forbidden(route));

    try {
      if (route.resource === 'serviceaccounts/token') return send(...(await this.tokenRequest(route, body)));
      if (route.resource === 'tokenreviews') return send(...(await this.tokenReview(body)));
      return send(...this.bindings(route, body, url.searchParams));
    } catch (e) {
      return send(500, statusBody(500, 'InternalError', `fake apiserver: ${(e as Error).message}`));
    }
  }

  /** Apply a fault; false when the request should proceed normally. */
  private inject(fault: Fault, route: Route, res: ServerResponse, send: (code: number, payload: unknown, headers?: Record<string, string>) => void): boolean {
    const ok = route.verb === 'create' ? 201 : 200;
    switch (fault.fault) {
      case 'forbidden':
        send(403, forbidden(route));
        return true;
      case 'unauthorized':
        send(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
        return true;
      case 'not-found':
        send(404, statusBody(404, 'NotFound', `${route.resource} "${route.name ?? ''}" not found`, { name: route.name ?? '', kind: route.resource }));
        return true;
      case 'throttled':
        send(429, statusBody(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: fault.retryAfter ?? 7 }), { 'retry-after': String(fault.retryAfter ?? 7) });
        return true;
      case 'unavailable':
        // Retry-After only as a header here (no Status details), as a proxy or APF would send it.
        send(503, statusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request'), fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {});
        return true;
      case 'internal':
        send(500, statusBody(500, 'InternalError', 'Internal error occurred: etcdserver: request timed out'));
        return true;
      case 'malformed':
        res.writeHead(ok, { 'content-type': 'application/json' });
        res.end('{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","status":{"token":');
        return true;
      case 'not-json':
        res.writeHead(ok, { 'content-type': 'text/html' });
        res.end('<html><body>502 Bad Gateway</body></html>');
        return true;
      case 'empty-object':
        send(ok, {});
        return true;
      case 'hang':
        this.hanging.add(res);
        return true;
      case 'reset':
        res.socket?.destroy();
        return true;
    }
  }

  private route(method: string, path: string): Route | null {
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)\/token$/.exec(path))) {
      return method === 'POST' ? { verb: 'create', resource: 'serviceaccounts/token', namespace: decodeURIComponent(m[1]!), name: decodeURIComponent(m[2]!), group: '' } : null;
    }
    if (path === `/apis/${AUTHN_GROUP}/v1/tokenreviews`) {
      return method === 'POST' ? { verb: 'create', resource: 'tokenreviews', namespace: null, name: null, group: AUTHN_GROUP } : null;
    }
    const rbac = `/apis/${RBAC_GROUP}/v1`;
    if (!path.startsWith(rbac)) return null;
    const rest = path.slice(rbac.length);
    let namespace: string | null = null;
    let resource: string;
    let name: string | null = null;
    if ((m = /^\/namespaces\/([^/]+)\/rolebindings(?:\/([^/]+))?$/.exec(rest))) {
      namespace = decodeURIComponent(m[1]!);
      resource = 'rolebindings';
      name = m[2] ? decodeURIComponent(m[2]) : null;
    } else if ((m = /^\/(rolebindings|clusterrolebindings)(?:\/([^/]+))?$/.exec(rest))) {
      resource = m[1]!;
      name = m[2] ? decodeURIComponent(m[2]) : null;
      if (resource === 'rolebindings' && name !== null) return null;
    } else {
      return null;
    }
    const verb = name === null ? ({ GET: 'list', POST: 'create' } as const)[method as 'GET' | 'POST'] : ({ GET: 'get', PUT: 'update', DELETE: 'delete' } as const)[method as 'GET' | 'PUT' | 'DELETE'];
    if (!verb) return null;
    if (resource === 'rolebindings' && namespace === null && verb !== 'list') return null;
    return { verb, resource: resource as Route['resource'], namespace, name, group: RBAC_GROUP };
  }

  private async tokenRequest(route: Route, body: unknown): Promise<[number, unknown]> {
    const ns = route.namespace!;
    const name = route.name!;
    if (!this.namespaces.has(ns)) return [404, statusBody(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' })];
    const uid = this.serviceAccounts.get(`${ns}/${name}`);
    if (!uid) return [404, statusBody(404, 'NotFound', `serviceaccounts "${name}" not found`, { name, kind: 'serviceaccounts' })];
    const spec = ((body as { spec?: Record<string, unknown> } | undefined)?.spec ?? {}) as { audiences?: unknown; expirationSeconds?: unknown };
    const requested = typeof spec.expirationSeconds === 'number' ? spec.expirationSeconds : 3600;
    if (requested < 600) {
      return [422, statusBody(422, 'Invalid', `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${requested}: may not specify a duration less than 10 minutes`, { name, group: 'authentication.k8s.io', kind: 'TokenRequest' })];
    }
    const seconds = Math.min(requested, this.maxTokenSeconds);
    const audiences = Array.isArray(spec.audiences) && spec.audiences.length > 0 ? (spec.audiences as string[]) : [API_AUDIENCE];
    const now = Math.floor(this.clock.now() / 1000);
    const token = await new SignJWT({ 'kubernetes.io': { namespace: ns, serviceaccount: { name, uid } } })
      .setProtectedHeader({ alg: 'ES256', kid: 'fake-kube-sa-key' })
      .setIssuer(this.issuer)
      .setSubject(`system:serviceaccount:${ns}:${name}`)
      .setAudience(audiences)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + seconds)
      .setJti(randomUUID())
      .sign(this.signingKey);
    return [
      201,
      {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { name, namespace: ns, creationTimestamp: null },
        spec: { audiences, expirationSeconds: seconds, boundObjectRef: null },
        status: { token, expirationTimestamp: new Date((now + seconds) * 1000).toISOString().replace('.000Z', 'Z') },
      },
    ];
  }

  /**
   * TokenReview as the API server answers it: 201 with `status.authenticated`, the user and the
   * audiences when the token is valid, else `status.error` and an empty user. A ServiceAccount
   * token is valid when a trusted issuer signed it, it is unexpired, its audiences meet
   * `spec.audiences` (or the API server's own), and its ServiceAccount and bound pod still exist
   * with the uids it names (`service account token has been invalidated` otherwise).
   */
  private async tokenReview(body: unknown): Promise<[number, unknown]> {
    const spec = (body as { spec?: { token?: unknown; audiences?: unknown } } | undefined)?.spec;
    const kind = (body as { kind?: unknown } | undefined)?.kind;
    if (kind !== 'TokenReview' || typeof spec !== 'object' || spec === null) {
      return [400, statusBody(400, 'BadRequest', 'the body of the request was in an unknown format')];
    }
    const token = typeof spec.token === 'string' ? spec.token : '';
    const requested = Array.isArray(spec.audiences) ? spec.audiences.filter((a): a is string => typeof a === 'string') : [];
    const answer = (status: Record<string, unknown>): [number, unknown] => [
      201,
      { kind: 'TokenReview', apiVersion: `${AUTHN_GROUP}/v1`, metadata: { creationTimestamp: null }, spec: { token, ...(requested.length ? { audiences: requested } : {}) }, status: this.reviewTamper ? this.reviewTamper(structuredClone(status)) : status },
    ];
    const refuse = (error: string): [number, unknown] => answer({ user: {}, error: `[invalid bearer token, ${error}]` });
    if (!token) return [422, statusBody(422, 'Invalid', 'TokenReview.authentication.k8s.io "" is invalid: spec.token: Required value', { group: AUTHN_GROUP, kind: 'TokenReview' })];

    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      return refuse('square/go-jose: compact JWS format must have three parts');
    }
    const legacy = unverified.iss === LEGACY_ISSUER;
    // The legacy authenticator is audience-agnostic: it only answers requests for the API server's audiences.
    const implicit = [API_AUDIENCE];
    let payload: JWTPayload;
    try {
      const trusted = legacy ? this.tokenIssuers : this.tokenIssuers.filter((i) => i.issuer === unverified.iss);
      if (trusted.length === 0) return refuse('token issuer is not trusted');
      payload = await this.verifyWithAny(token, trusted, legacy);
    } catch (e) {
      const expired = (e as { code?: string }).code === 'ERR_JWT_EXPIRED';
      return refuse(expired ? 'service account token has expired' : 'square/go-jose: error in cryptographic primitive');
    }
    let audiences: string[];
    if (legacy) {
      audiences = requested.length === 0 ? implicit : requested.filter((a) => implicit.includes(a));
      if (audiences.length === 0) return refuse(`token audiences ${JSON.stringify(implicit)} is invalid for the target audiences ${JSON.stringify(requested)}`);
    } else {
      const tokenAud = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
      const wanted = requested.length > 0 ? requested : implicit;
      audiences = wanted.filter((a) => tokenAud.includes(a));
      if (audiences.length === 0) return refuse(`token audiences ${JSON.stringify(tokenAud)} is invalid for the target audiences ${JSON.stringify(wanted)}`);
    }

    const invalidated = refuse('service account token has been invalidated');
    const claims = payload as Record<string, unknown>;
    let ns: unknown;
    let saName: unknown;
    let saUid: unknown;
    let pod: { name?: unknown; uid?: unknown } | undefined;
    let node: { name?: unknown; uid?: unknown } | undefined;
    if (legacy) {
      ns = claims['kubernetes.io/serviceaccount/namespace'];
      saName = claims['kubernetes.io/serviceaccount/service-account.name'];
      saUid = claims['kubernetes.io/serviceaccount/service-account.uid'];
    } else {
      const k8s = claims['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown; uid?: unknown }; pod?: { name?: unknown; uid?: unknown }; node?: { name?: unknown; uid?: unknown } } | undefined;
      ns = k8s?.namespace;
      saName = k8s?.serviceaccount?.name;
      saUid = k8s?.serviceaccount?.uid;
      pod = k8s?.pod;
      node = k8s?.node;
    }
    if (typeof ns !== 'string' || typeof saName !== 'string') return refuse('service account token claims are missing');
    const existingSa = this.serviceAccounts.get(`${ns}/${saName}`);
    if (existingSa === undefined || existingSa !== saUid) return invalidated;
    const extra: Record<string, string[]> = {};
    if (pod) {
      const found = typeof pod.name === 'string' ? this.pods.get(`${ns}/${pod.name}`) : undefined;
      if (!found || found.uid !== pod.uid) return invalidated;
      extra['authentication.kubernetes.io/pod-name'] = [String(pod.name)];
      extra['authentication.kubernetes.io/pod-uid'] = [String(pod.uid)];
    }
    if (node && typeof node.name === 'string') {
      extra['authentication.kubernetes.io/node-name'] = [node.name];
      if (typeof node.uid === 'string') extra['authentication.kubernetes.io/node-uid'] = [node.uid];
    }
    if (typeof payload.jti === 'string') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${payload.jti}`];
    return answer({
      authenticated: true,
      user: {
        username: `system:serviceaccount:${ns}:${saName}`,
        uid: existingSa,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
        ...(Object.keys(extra).length > 0 ? { extra } : {}),
      },
      audiences,
    });
  }

  /** Verify a reviewed token with the first trusted issuer whose keys accept it. */
  private async verifyWithAny(token: string, issuers: readonly ReviewedIssuer[], legacy: boolean): Promise<JWTPayload> {
    let last: unknown = new Error('no trusted issuer');
    for (const issuer of issuers) {
      try {
        const { payload } = await jwtVerify(token, createLocalJWKSet(issuer.jwks()), {
          ...(legacy ? { issuer: LEGACY_ISSUER } : { issuer: issuer.issuer, requiredClaims: ['exp'] }),
          currentDate: new Date(this.clock.now()),
        });
        return payload;
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  private bindings(route: Route, body: unknown, query: URLSearchParams): [number, unknown] {
    const cluster = route.resource === 'clusterrolebindings';
    const kind = cluster ? 'ClusterRoleBinding' : 'RoleBinding';
    const store = cluster ? this.clusterRoleBindingStore : this.roleBindingStore;
    const key = (ns: string | null | undefined, name: string): string => (cluster ? name : `${ns}/${name}`);
    const notFound = (name: string): [number, unknown] => [404, statusBody(404, 'NotFound', `${route.resource}.${RBAC_GROUP} "${name}" not found`, { name, group: RBAC_GROUP, kind: route.resource })];
    if (route.namespace !== null && !this.namespaces.has(route.namespace) && route.verb !== 'list') {
      return [404, statusBody(404, 'NotFound', `namespaces "${route.namespace}" not found`, { name: route.namespace, kind: 'namespaces' })];
    }
    switch (route.verb) {
      case 'list': {
        const selector = parseSelector(query.get('labelSelector') ?? '');
        if (!selector) return [400, statusBody(400, 'BadRequest', `unable to parse requirement: ${query.get('labelSelector')}`)];
        const items = [...store.values()]
          .filter((o) => route.namespace === null || o.metadata.namespace === route.namespace)
          .filter((o) => selector((o.metadata['labels'] as Record<string, string> | undefined) ?? {}))
          .sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)))
          .map((o) => {
            const { kind: _k, apiVersion: _a, ...rest } = o;
            return rest;
          });
        const limit = Number(query.get('limit') ?? 0);
        const start = query.get('continue') ? Number(Buffer.from(query.get('continue')!, 'base64url').toString()) : 0;
        const page = limit > 0 ? items.slice(start, start + limit) : items.slice(start);
        const next = limit > 0 && start + limit < items.length ? Buffer.from(String(start + limit)).toString('base64url') : undefined;
        return [200, { kind: `${kind}List`, apiVersion: `${RBAC_GROUP}/v1`, metadata: { resourceVersion: String(this.resourceVersion), ...(next ? { continue: next } : {}) }, items: page }];
      }
      case 'get': {
        const found = store.get(key(route.namespace, route.name!));
        return found ? [200, found] : notFound(route.name!);
      }
      case 'delete': {
        const k = key(route.namespace, route.name!);
        const found = store.get(k);
        if (!found) return notFound(route.name!);
        store.delete(k);
        return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: route.name, group: RBAC_GROUP, kind: route.resource, uid: found.metadata['uid'] } }];
      }
      case 'create':
      case 'update': {
        const object = body as KubeObject | undefined;
        const name = object?.metadata?.name;
        const invalid = (message: string): [number, unknown] => [422, statusBody(422, 'Invalid', `${kind}.${RBAC_GROUP} "${name ?? ''}" is invalid: ${message}`, { name: name ?? '', group: RBAC_GROUP, kind })];
        if (typeof object !== 'object' || object === null || typeof name !== 'string') return invalid('metadata.name: Required value: name or generateName is required');
        if (!DNS_SUBDOMAIN.test(name)) return invalid(`metadata.name: Invalid value: "${name}": must be a lowercase RFC 1123 subdomain`);
        if (object.metadata.namespace !== undefined && object.metadata.namespace !== (route.namespace ?? undefined)) {
          return [400, statusBody(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request')];
        }
        if (route.verb === 'update' && name !== route.name) return [400, statusBody(400, 'BadRequest', 'the name of the object does not match the name on the URL')];
        const roleRef = object['roleRef'] as { apiGroup?: unknown; kind?: unknown; name?: unknown } | undefined;
        if (!roleRef || roleRef.apiGroup !== RBAC_GROUP || typeof roleRef.name !== 'string' || !roleRef.name) return invalid('roleRef: Invalid value');
        if (roleRef.kind !== 'ClusterRole' && (cluster || roleRef.kind !== 'Role')) return invalid(`roleRef.kind: Unsupported value: "${String(roleRef.kind)}"`);
        const subjects = (object['subjects'] ?? []) as { kind?: unknown; name?: unknown; namespace?: unknown; apiGroup?: unknown }[];
        if (!Array.isArray(subjects)) return invalid('subjects: Invalid value');
        for (const [i, s] of subjects.entries()) {
          if (typeof s.name !== 'string' || !s.name) return invalid(`subjects[${i}].name: Required value`);
          if (s.kind === 'ServiceAccount') {
            if (typeof s.namespace !== 'string' || !DNS_LABEL.test(s.namespace)) return invalid(`subjects[${i}].namespace: Required value`);
            if (s.apiGroup !== undefined && s.apiGroup !== '') return invalid(`subjects[${i}].apiGroup: Unsupported value`);
          } else if (s.kind === 'User' || s.kind === 'Group') {
            if (s.apiGroup !== RBAC_GROUP) return invalid(`subjects[${i}].apiGroup: Unsupported value: "${String(s.apiGroup)}"`);
          } else {
            return invalid(`subjects[${i}].kind: Unsupported value: "${String(s.kind)}"`);
          }
        }
        const k = key(route.namespace, name);
        const existing = store.get(k);
        if (route.verb === 'create' && existing) {
          return [409, statusBody(409, 'AlreadyExists', `${route.resource}.${RBAC_GROUP} "${name}" already exists`, { name, group: RBAC_GROUP, kind: route.resource })];
        }
        if (route.verb === 'update' && !existing) return notFound(name);
        const stored = this.stamp({ ...object, kind, apiVersion: `${RBAC_GROUP}/v1`, metadata: { ...object.metadata, ...(cluster ? {} : { namespace: route.namespace! }) } });
        if (existing) stored.metadata['creationTimestamp'] = existing.metadata['creationTimestamp'];
        store.set(k, stored);
        return [route.verb === 'create' ? 201 : 200, stored];
      }
    }
  }
}

function matches(m: RequestMatch, route: Route): boolean {
  return (!m.verb || m.verb === route.verb) && (!m.resource || m.resource === route.resource) && (!m.namespace || m.namespace === route.namespace);
}

function forbidden(route: Route): Record<string, unknown> {
  const [resource, subresource] = route.resource.split('/');
  const qualified = route.group ? `${resource}.${route.group}` : resource;
  const where = route.namespace ? ` in the namespace "${route.namespace}"` : ' at the cluster scope';
  return statusBody(
    403,
    'Forbidden',
    `${qualified}${route.name ? ` "${route.name}"` : ''} is forbidden: User "${STINT_USER}" cannot ${route.verb} resource "${route.resource}" in API group "${route.group}"${where}`,
    { ...(route.name ? { name: route.name } : {}), group: route.group, kind: subresource ? resource : route.resource },
  );
}
