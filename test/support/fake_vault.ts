/**
 * A fake HashiCorp Vault on loopback that speaks Vault's real HTTP API, for the `vault` provider's
 * tests: JSON bodies, the `X-Vault-Token` and `X-Vault-Namespace` headers, `{ "errors": [...] }`
 * error bodies with Vault's statuses, and the `LIST` verb (which node:http cannot parse, so this
 * server reads HTTP/1.1 off the socket itself; `GET ?list=true` works too).
 *
 * Endpoints:
 * - `POST|PUT /v1/auth/<mount>/login` `{ role, jwt }`: verifies the JWT as Vault's jwt auth does
 *   with an `oidc_discovery_url` (discovery document whose `issuer` must equal that URL, its JWKS,
 *   jose `jwtVerify`, 60 s leeway), then the role's `bound_audiences`, `bound_subject` and
 *   `bound_claims`; returns `{ auth: { client_token, accessor, lease_duration, renewable, policies } }`.
 * - `GET /v1/<secret path>` (paths added with `secrets`): a dynamic secret with a fresh lease
 *   `{ lease_id: "<path>/<random>", lease_duration, renewable, data: { username, password } }`.
 * - `PUT /v1/sys/leases/revoke` `{ lease_id }` (204, also for unknown leases, as Vault does),
 *   `PUT /v1/sys/leases/renew` `{ lease_id, increment }`, `PUT /v1/sys/leases/lookup` `{ lease_id }`,
 *   `LIST /v1/sys/leases/lookup/<prefix>/` (404 `{ "errors": [] }` when empty, as Vault does).
 *
 * Tokens carry the policy of their role (Vault path globs: a trailing `*` and `+` segments) and
 * expire after the role's `tokenTtl`; as in Vault, a lease dies with the token that created it.
 * Time comes from the `clock` option, so tests share a FakeClock with Stint.
 *
 * Fault injection (`fault`): `deny` (403 permission denied), `throttle` (429 rate limit, with
 * Retry-After), `sealed` (503 Vault is sealed), `standby` (503), `malformed` (200 with truncated
 * JSON), `empty` (200 `{}`), `close` (connection dropped), `hang` (no answer), per operation.
 * Nothing here records a token or a JWT: only who logged in (role, sub, jti) and what was asked.
 */
import { makeServerCertificates } from './certs.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../../src/clock.js';

/** A Vault ACL capability. */
export type Capability = 'read' | 'create' | 'update' | 'delete' | 'list' | 'sudo';

/** The policy Stint's management role needs for leases: revoke, renew, look up, and list for reconciliation. */
export const LEASE_ADMIN_POLICY: Readonly<Record<string, Capability[]>> = {
  'sys/leases/revoke': ['update'],
  'sys/leases/renew': ['update'],
  'sys/leases/lookup': ['update'],
  'sys/leases/lookup/*': ['list', 'sudo'],
};

/** A jwt auth role. */
export interface FakeVaultRole {
  /** `bound_audiences`: the JWT's `aud` must contain one of them. */
  readonly boundAudiences: readonly string[];
  /** `bound_subject`: the JWT's `sub` must equal it. */
  readonly boundSubject?: string;
  /** `bound_claims` (exact values): every named claim must equal one of its values. */
  readonly boundClaims?: Readonly<Record<string, string | readonly string[]>>;
  /** The ACL of tokens of this role: Vault path pattern → capabilities. */
  readonly policy: Readonly<Record<string, readonly Capability[]>>;
  /** `token_ttl`, seconds (default 3600). */
  readonly tokenTtl?: number;
}

/** A dynamic secrets endpoint (e.g. `database/creds/readonly`). */
export interface FakeSecretEngine {
  /** Default lease TTL, seconds (default 3600). */
  readonly leaseDuration?: number;
  /** Longest lease from its issue time, renewals included (default 24 h). */
  readonly maxTtl?: number;
  readonly renewable?: boolean;
  /** The secret's data (default `{ username, password }` as the database engine returns). */
  readonly data?: () => Record<string, unknown>;
  /** A static secret (KV v1): no lease id, a 32-day lease_duration, as Vault answers a KV read. */
  readonly leaseless?: boolean;
}

/** Options of FakeVault.start. */
export interface FakeVaultOptions {
  readonly clock?: Clock;
  /** Mount path of the jwt auth method (default `jwt`). */
  readonly mount?: string;
  /** `oidc_discovery_url` (Stint's issuer); may be set later with `setDiscoveryUrl`. */
  readonly discoveryUrl?: string;
  /** `jwt_supported_algs` (default ES256, EdDSA, RS256). */
  readonly supportedAlgs?: readonly string[];
  readonly roles: Readonly<Record<string, FakeVaultRole>>;
  readonly secrets: Readonly<Record<string, FakeSecretEngine>>;
  /** When set, every request must carry this X-Vault-Namespace. */
  readonly namespace?: string;
  /** Serve https with a certificate for 127.0.0.1 from a fresh CA (made with the machine's openssl); see `caFile`. */
  readonly tls?: boolean;
}

/** What a request does, for fault injection and the request log. */
export type VaultOperation = 'login' | 'read' | 'revoke' | 'renew' | 'lookup' | 'list' | 'other';

/**
 * How the fake misbehaves. `partial` serves the request (a read still creates its lease) but
 * strips `lease_duration` and `auth` from the answer, as a mangling proxy would.
 */
export type VaultFault = 'deny' | 'throttle' | 'sealed' | 'standby' | 'malformed' | 'empty' | 'partial' | 'close' | 'hang';

/** One lease as the fake holds it. */
export interface FakeLease {
  readonly id: string;
  readonly path: string;
  /** Accessor of the token that created it. */
  readonly tokenAccessor: string;
  /** Epoch ms. */
  readonly issueTime: number;
  /** Epoch ms. */
  expireTime: number;
  readonly maxExpireTime: number;
  readonly renewable: boolean;
  state: 'live' | 'revoked' | 'expired';
  /** Why it is no longer live: `revoke` (sys/leases/revoke), `token` (its token ended), `ttl`. */
  endedBy?: 'revoke' | 'token' | 'ttl';
  renewals: number;
}

/** One successful login (never the JWT or the token). */
export interface FakeLogin {
  readonly role: string;
  readonly sub: string;
  readonly jti: string | undefined;
  readonly aud: readonly string[];
  readonly accessor: string;
  readonly namespace: string | undefined;
}

/** One request as received. */
export interface FakeVaultRequest {
  readonly method: string;
  readonly path: string;
  readonly operation: VaultOperation;
  readonly namespace: string | undefined;
  readonly hadToken: boolean;
}

interface TokenEntry {
  readonly accessor: string;
  readonly role: string;
  readonly policy: Readonly<Record<string, readonly Capability[]>>;
  readonly expiresAt: number;
  revoked: boolean;
}

interface Parsed {
  readonly method: string;
  readonly target: string;
  readonly headers: Map<string, string>;
  readonly body: Buffer;
}

interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Raw body text (malformed replies). */
  readonly raw?: string;
  readonly action?: 'close' | 'hang';
}

const LEASE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A Vault-style random id (24 base62 characters). */
function vaultId(): string {
  const bytes = randomBytes(24);
  let out = '';
  for (const b of bytes) out += LEASE_ALPHABET[b % LEASE_ALPHABET.length];
  return out;
}

/** Vault's policy path matching: exact, a trailing `*` prefix glob, `+` for one segment. */
function pathMatches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const body = glob ? pattern.slice(0, -1) : pattern;
  const source = body
    .split('/')
    .map((s) => (s === '+' ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}${glob ? '.*' : ''}$`).test(path);
}

/** A fake Vault server; create with {@link FakeVault.start}. */
export class FakeVault {
  /** `http://127.0.0.1:<port>` (`https://` with `tls`): the provider's `address`. */
  readonly url: string;
  /** With `tls`: the PEM file of the CA that signed the server certificate (the provider's `caFile`). */
  readonly caFile: string | undefined;
  readonly logins: FakeLogin[] = [];
  readonly requests: FakeVaultRequest[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #clock: Clock;
  readonly #mount: string;
  readonly #algs: string[];
  readonly #roles: Map<string, FakeVaultRole>;
  readonly #secrets: Map<string, FakeSecretEngine>;
  readonly #namespace: string | undefined;
  readonly #tokens = new Map<string, TokenEntry>();
  readonly #leases = new Map<string, FakeLease>();
  #discoveryUrl: string | undefined;
  #jwks: { url: string; getKey: JWTVerifyGetKey } | undefined;
  #faults: { mode: VaultFault; on: VaultOperation | 'any'; remaining: number }[] = [];

  readonly #dir: string | undefined;

  private constructor(server: Server, url: string, options: FakeVaultOptions, tls?: { dir: string; caFile: string }) {
    this.#server = server;
    this.url = url;
    this.#dir = tls?.dir;
    this.caFile = tls?.caFile;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#mount = options.mount ?? 'jwt';
    this.#algs = [...(options.supportedAlgs ?? ['ES256', 'EdDSA', 'RS256'])];
    this.#roles = new Map(Object.entries(options.roles));
    this.#secrets = new Map(Object.entries(options.secrets));
    this.#namespace = options.namespace;
    this.#discoveryUrl = options.discoveryUrl;
    server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => this.#serve(socket));
  }

  /** Start on a loopback port chosen by the OS. */
  static async start(options: FakeVaultOptions): Promise<FakeVault> {
    let tls: { dir: string; caFile: string } | undefined;
    let server: Server;
    if (options.tls) {
      const dir = mkdtempSync(join(tmpdir(), 'stint-fake-vault-'));
      const certs = makeServerCertificates(dir, '', 'vault');
      tls = { dir, caFile: certs.caFile };
      server = createTlsServer({ key: readFileSync(certs.keyFile), cert: readFileSync(certs.certFile) });
    } else {
      server = createServer();
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as { port: number };
    return new FakeVault(server, `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, options, tls);
  }

  /** Set `oidc_discovery_url` (Stint's issuer), e.g. once Stint's port is known. */
  setDiscoveryUrl(url: string): void {
    this.#discoveryUrl = url;
    this.#jwks = undefined;
  }

  /** Misbehave on `on` (default every operation) for `times` requests (default until cleared). */
  fault(mode: VaultFault, options: { on?: VaultOperation | 'any'; times?: number } = {}): void {
    this.#faults.push({ mode, on: options.on ?? 'any', remaining: options.times ?? Number.POSITIVE_INFINITY });
  }

  /** Behave again. */
  clearFaults(): void {
    this.#faults = [];
  }

  /** Every lease (after expiring what is due), optionally under a path prefix. */
  leases(prefix = ''): FakeLease[] {
    this.#sweep();
    return [...this.#leases.values()].filter((l) => l.id.startsWith(prefix));
  }

  /** One lease by id. */
  lease(id: string): FakeLease | undefined {
    this.#sweep();
    return this.#leases.get(id);
  }

  /** Live leases, optionally under a path prefix. */
  liveLeases(prefix = ''): FakeLease[] {
    return this.leases(prefix).filter((l) => l.state === 'live');
  }

  /** Create a lease outside Stint (another Vault client reading `path`), e.g. an orphan for reconcile. */
  createLease(path: string, options: { issueTime?: number; leaseDuration?: number } = {}): string {
    const engine = this.#secrets.get(path);
    if (!engine) throw new Error(`fake vault: no secrets engine at ${path}`);
    const now = options.issueTime ?? this.#clock.now();
    const accessor = vaultId();
    this.#tokens.set(`operator-${accessor}`, { accessor, role: '(operator)', policy: {}, expiresAt: Number.POSITIVE_INFINITY, revoked: false });
    return this.#newLease(path, engine, accessor, now, options.leaseDuration).id;
  }

  /** Revoke every token (as `vault token revoke` would): their leases die with them. */
  revokeAllTokens(): void {
    for (const t of this.#tokens.values()) t.revoked = true;
    this.#sweep();
  }

  /** How many tokens are unexpired and unrevoked. */
  liveTokenCount(): number {
    const now = this.#clock.now();
    return [...this.#tokens.values()].filter((t) => !t.revoked && t.expiresAt > now && t.role !== '(operator)').length;
  }

  /** Stop listening and drop every connection. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }

  // ---- HTTP/1.1 off the socket (node:http refuses the LIST method) ----

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    let chain = Promise.resolve();
    let hung = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buffer.length > 65536) socket.destroy();
          return;
        }
        const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', target = ''] = (lines[0] ?? '').split(' ');
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
        }
        if (headers.has('transfer-encoding')) {
          this.#write(socket, { status: 501, body: { errors: ['chunked request bodies are not supported by the fake'] } }, false);
          socket.end();
          return;
        }
        const length = Number(headers.get('content-length') ?? 0);
        if (buffer.length < end + 4 + length) return;
        const body = buffer.subarray(end + 4, end + 4 + length);
        buffer = buffer.subarray(end + 4 + length);
        const request: Parsed = { method: method.toUpperCase(), target, headers, body };
        const keepAlive = (headers.get('connection') ?? '').toLowerCase() !== 'close';
        chain = chain.then(async () => {
          if (hung || socket.destroyed) return;
          let reply: Reply;
          try {
            reply = await this.#handle(request);
          } catch (e) {
            reply = { status: 500, body: { errors: [`fake vault: ${(e as Error).message}`] } };
          }
          if (reply.action === 'close') {
            socket.destroy();
            return;
          }
          if (reply.action === 'hang') {
            hung = true;
            return;
          }
          this.#write(socket, reply, keepAlive);
          if (!keepAlive) socket.end();
        });
      }
    });
  }

  #write(socket: Socket, reply: Reply, keepAlive: boolean): void {
    const text = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
    const head = [`HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Unknown'}`, 'Cache-Control: no-store', `Connection: ${keepAlive ? 'keep-alive' : 'close'}`];
    if (reply.status !== 204) head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`);
    for (const [k, v] of Object.entries(reply.headers ?? {})) head.push(`${k}: ${v}`);
    socket.write(`${head.join('\r\n')}\r\n\r\n${reply.status === 204 ? '' : text}`);
  }

  // ---- Vault ----

  async #handle(req: Parsed): Promise<Reply> {
    const url = new URL(req.target, 'http://vault.invalid');
    const list = req.method === 'LIST' || (req.method === 'GET' && ['true', '1'].includes(url.searchParams.get('list') ?? ''));
    if (!url.pathname.startsWith('/v1/')) return { status: 404, body: { errors: [] } };
    const path = decodeURIComponent(url.pathname.slice(4)).replace(/^\/+/, '');
    const operation = this.#operationOf(req.method, path, list);
    const namespace = req.headers.get('x-vault-namespace');
    const token = req.headers.get('x-vault-token');
    this.requests.push({ method: req.method, path, operation, namespace, hadToken: token !== undefined });
    const fault = this.#takeFault(operation);
    if (fault === 'partial') {
      const reply = await this.#serveVault(req, list, path, operation, namespace, token);
      if (reply.body && typeof reply.body === 'object') {
        const { lease_duration: _d, auth: _a, ...rest } = reply.body as Record<string, unknown>;
        return { ...reply, body: rest };
      }
      return reply;
    }
    if (fault) return fault;
    return this.#serveVault(req, list, path, operation, namespace, token);
  }

  async #serveVault(req: Parsed, list: boolean, path: string, operation: VaultOperation, namespace: string | undefined, token: string | undefined): Promise<Reply> {
    this.#sweep();

    if (path === 'sys/health') return { status: 200, body: { initialized: true, sealed: false, standby: false, version: '1.17.0' } };
    let body: Record<string, unknown> = {};
    if (req.body.length > 0) {
      try {
        const parsed: unknown = JSON.parse(req.body.toString('utf8'));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch (e) {
        return error(400, `failed to parse JSON input: ${(e as Error).message}`);
      }
    }
    const namespaceOk = this.#namespace === undefined || namespace === this.#namespace || namespace === `${this.#namespace}/`;
    if (operation === 'login') {
      if (!['POST', 'PUT'].includes(req.method)) return error(405, 'unsupported operation');
      if (!namespaceOk) return error(400, `role ${JSON.stringify(String(body.role ?? ''))} could not be found`);
      return this.#login(body, namespace);
    }

    const entry = token === undefined ? undefined : this.#tokens.get(token);
    if (!entry || entry.revoked || entry.expiresAt <= this.#clock.now() || !namespaceOk) return error(403, 'permission denied');
    const capability: Capability = list ? 'list' : req.method === 'GET' ? 'read' : req.method === 'DELETE' ? 'delete' : 'update';
    if (!this.#allowed(entry, path, capability) || (operation === 'list' && !this.#allowed(entry, path, 'sudo'))) {
      return error(403, '1 error occurred:\n\t* permission denied\n\n');
    }
    switch (operation) {
      case 'read':
        return this.#read(path, entry);
      case 'revoke':
        return this.#revoke(String(body.lease_id ?? path.slice('sys/leases/revoke/'.length) ?? ''));
      case 'renew':
        return this.#renew(String(body.lease_id ?? ''), body.increment);
      case 'lookup':
        return this.#lookup(String(body.lease_id ?? ''));
      case 'list':
        return this.#list(path.slice('sys/leases/lookup/'.length));
      default:
        return error(404, `no handler for route ${JSON.stringify(path)}. route entry not found.`);
    }
  }

  #operationOf(method: string, path: string, list: boolean): VaultOperation {
    if (path === `auth/${this.#mount}/login`) return 'login';
    if (path === 'sys/leases/revoke' || path.startsWith('sys/leases/revoke/')) return 'revoke';
    if (path === 'sys/leases/renew') return 'renew';
    if (path === 'sys/leases/lookup' && !list) return 'lookup';
    if (path.startsWith('sys/leases/lookup/') && list) return 'list';
    if (method === 'GET' && !list && this.#secrets.has(path)) return 'read';
    return 'other';
  }

  #takeFault(operation: VaultOperation): Reply | 'partial' | null {
    const f = this.#faults.find((x) => x.remaining > 0 && (x.on === 'any' || x.on === operation));
    if (!f) return null;
    f.remaining--;
    switch (f.mode) {
      case 'partial':
        return 'partial';
      case 'deny':
        return error(403, 'permission denied');
      case 'throttle':
        return { ...error(429, 'request path "fake": rate limit quota exceeded'), headers: { 'Retry-After': '7' } };
      case 'sealed':
        return error(503, 'Vault is sealed');
      case 'standby':
        return error(503, 'local node not active but active cluster node not found');
      case 'malformed':
        return { status: 200, raw: '{"request_id":"8f3c","lease_id":"database/creds/readonly/abc","data":{"username":' };
      case 'empty':
        return { status: 200, body: {} };
      case 'close':
        return { status: 0, action: 'close' };
      case 'hang':
        return { status: 0, action: 'hang' };
    }
  }

  async #login(body: Record<string, unknown>, namespace: string | undefined): Promise<Reply> {
    const roleName = body.role;
    const jwt = body.jwt;
    if (typeof roleName !== 'string' || roleName === '') return error(400, 'missing role');
    const role = this.#roles.get(roleName);
    if (!role) return error(400, `role ${JSON.stringify(roleName)} could not be found`);
    if (typeof jwt !== 'string' || jwt === '') return error(400, 'missing token');
    let claims: JWTPayload;
    try {
      claims = await this.#verify(jwt);
    } catch (e) {
      return error(400, `error validating token: ${(e as Error).message}`);
    }
    const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
    if (!aud.some((a) => role.boundAudiences.includes(a))) {
      return error(400, 'error validating token: invalid audience (aud) claim: audience claim does not match any expected audience');
    }
    if (role.boundSubject !== undefined && claims.sub !== role.boundSubject) return error(400, 'sub claim does not match bound subject');
    for (const [name, allowed] of Object.entries(role.boundClaims ?? {})) {
      const values = typeof allowed === 'string' ? [allowed] : allowed;
      const actual = claims[name];
      if (typeof actual !== 'string' || !values.includes(actual)) {
        return error(400, `error validating claims: claim ${JSON.stringify(name)} does not match any associated bound claim values`);
      }
    }
    if (typeof claims.sub !== 'string' || claims.sub === '') return error(400, 'claim "sub" not found in token');
    const token = `hvs.${vaultId()}`;
    const accessor = vaultId();
    const ttl = role.tokenTtl ?? 3600;
    this.#tokens.set(token, { accessor, role: roleName, policy: role.policy, expiresAt: this.#clock.now() + ttl * 1000, revoked: false });
    this.logins.push({ role: roleName, sub: claims.sub, jti: claims.jti, aud, accessor, namespace });
    const policies = ['default', roleName];
    return {
      status: 200,
      body: {
        ...envelope(),
        auth: {
          client_token: token,
          accessor,
          policies,
          token_policies: policies,
          metadata: { role: roleName },
          lease_duration: ttl,
          renewable: true,
          entity_id: randomUUID(),
          token_type: 'service',
          orphan: true,
          mfa_requirement: null,
          num_uses: 0,
        },
      },
    };
  }

  async #verify(jwt: string): Promise<JWTPayload> {
    const discovery = this.#discoveryUrl;
    if (!discovery) throw new Error('no oidc_discovery_url configured');
    if (!this.#jwks) {
      const res = await fetch(`${discovery.replace(/\/+$/, '')}/.well-known/openid-configuration`);
      if (!res.ok) throw new Error(`error fetching discovery document: HTTP ${res.status}`);
      const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      if (doc.issuer !== discovery) throw new Error(`oidc: issuer did not match the issuer returned by provider, expected ${JSON.stringify(discovery)} got ${JSON.stringify(doc.issuer)}`);
      if (typeof doc.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
      this.#jwks = { url: doc.jwks_uri, getKey: createRemoteJWKSet(new URL(doc.jwks_uri)) };
    }
    const { payload } = await jwtVerify(jwt, this.#jwks.getKey, {
      issuer: discovery,
      algorithms: this.#algs,
      clockTolerance: 60,
      currentDate: new Date(this.#clock.now()),
    });
    return payload;
  }

  #allowed(entry: TokenEntry, path: string, capability: Capability): boolean {
    return Object.entries(entry.policy).some(([pattern, caps]) => caps.includes(capability) && pathMatches(pattern, path));
  }

  #read(path: string, entry: TokenEntry): Reply {
    const engine = this.#secrets.get(path)!;
    if (engine.leaseless) return { status: 200, body: { ...envelope(), lease_duration: 2764800, data: engine.data ? engine.data() : { value: vaultId() } } };
    const lease = this.#newLease(path, engine, entry.accessor, this.#clock.now());
    return {
      status: 200,
      body: {
        ...envelope(),
        lease_id: lease.id,
        renewable: lease.renewable,
        lease_duration: Math.round((lease.expireTime - lease.issueTime) / 1000),
        data: engine.data ? engine.data() : { username: `v-jwt-${path.split('/').pop()}-${vaultId().slice(0, 20)}`, password: `${vaultId()}-${vaultId().slice(0, 8)}` },
      },
    };
  }

  #newLease(path: string, engine: FakeSecretEngine, accessor: string, now: number, leaseDuration?: number): FakeLease {
    const ttl = leaseDuration ?? engine.leaseDuration ?? 3600;
    const maxExpireTime = now + (engine.maxTtl ?? 86400) * 1000;
    const lease: FakeLease = {
      id: `${path}/${vaultId()}`,
      path,
      tokenAccessor: accessor,
      issueTime: now,
      expireTime: Math.min(now + ttl * 1000, maxExpireTime),
      maxExpireTime,
      renewable: engine.renewable ?? true,
      state: 'live',
      renewals: 0,
    };
    this.#leases.set(lease.id, lease);
    return lease;
  }

  #revoke(leaseId: string): Reply {
    if (!leaseId) return error(400, 'lease_id must be specified');
    const lease = this.#leases.get(leaseId);
    if (lease?.state === 'live') {
      lease.state = 'revoked';
      lease.endedBy = 'revoke';
    }
    // Vault answers 204 for a lease it does not know: nothing to revoke.
    return { status: 204 };
  }

  #renew(leaseId: string, increment: unknown): Reply {
    if (!leaseId) return error(400, 'lease_id must be specified');
    const lease = this.#leases.get(leaseId);
    if (!lease || lease.state !== 'live') return error(400, 'lease not found');
    if (!lease.renewable) return error(400, 'lease is not renewable');
    const now = this.#clock.now();
    const engine = this.#secrets.get(lease.path);
    const seconds = typeof increment === 'number' && increment > 0 ? increment : (engine?.leaseDuration ?? 3600);
    lease.expireTime = Math.min(now + seconds * 1000, lease.maxExpireTime);
    lease.renewals++;
    return { status: 200, body: { ...envelope(), lease_id: lease.id, renewable: true, lease_duration: Math.round((lease.expireTime - now) / 1000) } };
  }

  #lookup(leaseId: string): Reply {
    if (!leaseId) return error(400, 'lease_id must be specified');
    const lease = this.#leases.get(leaseId);
    if (!lease || lease.state !== 'live') return error(400, 'invalid lease');
    const now = this.#clock.now();
    return {
      status: 200,
      body: {
        ...envelope(),
        data: {
          id: lease.id,
          issue_time: rfc3339Nanos(lease.issueTime),
          expire_time: rfc3339Nanos(lease.expireTime),
          last_renewal: lease.renewals > 0 ? rfc3339Nanos(now) : null,
          renewable: lease.renewable,
          ttl: Math.max(0, Math.round((lease.expireTime - now) / 1000)),
        },
      },
    };
  }

  #list(rawPrefix: string): Reply {
    const prefix = rawPrefix === '' || rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`;
    if (prefix === '') return error(400, 'prefix must be specified');
    const keys = new Set<string>();
    for (const lease of this.#leases.values()) {
      if (lease.state !== 'live' || !lease.id.startsWith(prefix)) continue;
      const rest = lease.id.slice(prefix.length);
      const slash = rest.indexOf('/');
      keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) return { status: 404, body: { errors: [] } };
    return { status: 200, body: { ...envelope(), data: { keys: [...keys].sort() } } };
  }

  /** Expire what is due: leases past their TTL, tokens past theirs (and the leases they created). */
  #sweep(): void {
    const now = this.#clock.now();
    const dead = new Set<string>();
    for (const t of this.#tokens.values()) if (t.revoked || t.expiresAt <= now) dead.add(t.accessor);
    for (const lease of this.#leases.values()) {
      if (lease.state !== 'live') continue;
      if (dead.has(lease.tokenAccessor)) {
        lease.state = 'revoked';
        lease.endedBy = 'token';
      } else if (lease.expireTime <= now) {
        lease.state = 'expired';
        lease.endedBy = 'ttl';
      }
    }
  }
}


function envelope(): Record<string, unknown> {
  return { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings: null, auth: null };
}

function error(status: number, message: string): Reply {
  return { status, body: { errors: [message] } };
}

/** Vault's timestamp format: RFC 3339 with nanoseconds. */
function rfc3339Nanos(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}
