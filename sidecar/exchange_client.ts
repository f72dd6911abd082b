/**
 * The sidecar's client of Stint's RFC 8693 endpoint (POST /token), of renewal in place
 * (POST /renew), of self-revocation (POST /revoke) and of the grant status poll
 * (POST /grants/status: was the served grant revoked?), over node:http / node:https directly: TLS
 * with a CA bundle, mTLS when configured, keep-alive connections. The CA bundle and the client
 * certificate are re-read when their files change (cert-manager or a projected Secret rotates
 * them), before the next request, without a restart.
 */
import type { SubjectProof } from '../src/client/subject_token/source.js';
import { readFileSync, statSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { ConfigError, StintError, errorFromOAuthBody } from '../src/errors.js';
import type { HeldCredential } from './credential.js';

const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const MAX_RESPONSE_BYTES = 256 * 1024;

/** How to reach Stint. */
export interface StintEndpoint {
  readonly url: string;
  readonly caFile?: string;
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
  /** Milliseconds. */
  readonly timeout: number;
}

/** One credential request. */
export interface SidecarCredentialRequest {
  readonly name: string;
  readonly kind: string;
  readonly audience?: string;
  readonly target?: string;
  /** Milliseconds (sent as whole seconds). */
  readonly ttl?: number;
  readonly scopes?: readonly string[];
  /** Extend renewable grants in place rather than exchanging again (default true). */
  readonly renewInPlace?: boolean;
}

/** A client of one Stint service. */
export class StintClient {
  readonly #base: URL;
  readonly #agents: AgentSource;
  readonly #timeout: number;
  readonly #send: typeof httpRequest;

  private constructor(base: URL, agents: AgentSource, send: typeof httpRequest, timeout: number) {
    this.#base = base;
    this.#agents = agents;
    this.#send = send;
    this.#timeout = timeout;
  }

  /** A client of `endpoint`; node:https (and TLS) is loaded only for an https URL. */
  static async create(endpoint: StintEndpoint): Promise<StintClient> {
    const base = new URL(endpoint.url);
    if (base.protocol !== 'https:') {
      const agent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
      return new StintClient(base, { current: () => agent, close: () => agent.destroy() }, httpRequest, endpoint.timeout);
    }
    const https = await import('node:https');
    const agents = new TlsAgents(endpoint, (options) => new https.Agent({ keepAlive: true, maxSockets: 4, ...options }));
    return new StintClient(base, agents, https.request as unknown as typeof httpRequest, endpoint.timeout);
  }

  /** Exchange the subject token for one credential. */
  async exchange(subject: SubjectProof, req: SidecarCredentialRequest): Promise<HeldCredential> {
    const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: subject.value, subject_token_type: subject.type, credential_kind: req.kind });
    if (req.audience) form.set('audience', req.audience);
    if (req.target) form.set('resource', req.target);
    if (req.ttl !== undefined) form.set('ttl_seconds', String(Math.max(1, Math.round(req.ttl / 1000))));
    if (req.scopes?.length) form.set('scope', req.scopes.join(' '));
    const sentAt = Date.now();
    const { status, body } = await this.#post('/token', form);
    if (status !== 200) throw errorFromOAuthBody(status, body);
    const token = body.access_token;
    const expiresAt = Date.parse(String(body.expires_at));
    if (typeof token !== 'string' || !token || !Number.isFinite(expiresAt)) {
      throw new StintError('ERR_UNAVAILABLE', 'Stint answered without access_token or expires_at', { reason: 'bad_response' });
    }
    const renewParsed = Date.parse(String(body.renew_after));
    const fields: Record<string, string> = {};
    if (body.fields && typeof body.fields === 'object') {
      for (const [k, v] of Object.entries(body.fields as Record<string, unknown>)) if (typeof v === 'string') fields[k] = v;
    }
    return {
      name: req.name,
      kind: typeof body.credential_kind === 'string' ? body.credential_kind : req.kind,
      token,
      grantId: typeof body.grant_id === 'string' ? body.grant_id : '',
      fields,
      issuedAt: sentAt,
      expiresAt,
      renewAfter: Number.isFinite(renewParsed) ? renewParsed : sentAt + ((expiresAt - sentAt) * 2) / 3,
      renewable: body.renewable === true,
      lifetime: expiresAt - sentAt,
    };
  }

  /** Extend one of this workload's grants in place (POST /renew); the new expiry and renewal time, epoch ms. */
  async renew(subject: SubjectProof, grantId: string, ttl: number | undefined): Promise<{ expiresAt: number; renewAfter: number }> {
    const form = new URLSearchParams({ subject_token: subject.value, subject_token_type: subject.type, grant_id: grantId });
    if (ttl !== undefined) form.set('ttl_seconds', String(Math.max(1, Math.round(ttl / 1000))));
    const sentAt = Date.now();
    const { status, body } = await this.#post('/renew', form);
    if (status !== 200) {
      if ((status === 404 || status === 405) && body.stint_code === undefined) {
        throw new StintError('ERR_NOT_FOUND', 'renewal in place is not supported by this Stint version (no POST /renew)', { reason: 'renew_unsupported' });
      }
      throw errorFromOAuthBody(status, body);
    }
    const expiresAt = Date.parse(String(body.expires_at));
    if (!Number.isFinite(expiresAt)) throw new StintError('ERR_UNAVAILABLE', 'Stint answered the renewal without expires_at', { reason: 'bad_response' });
    const renewAfter = Date.parse(String(body.renew_after));
    return { expiresAt, renewAfter: Number.isFinite(renewAfter) ? renewAfter : sentAt + ((expiresAt - sentAt) * 2) / 3 };
  }

  /**
   * A fresh server nonce for an attestor kind (POST /attestation/nonce, form `kind`): proofs such
   * as Azure's attested document embed it so they cannot be replayed.
   */
  async nonce(kind: string): Promise<string> {
    const { status, body } = await this.#post('/attestation/nonce', new URLSearchParams({ kind }));
    if (status !== 200) throw errorFromOAuthBody(status, body);
    if (typeof body.nonce !== 'string' || !body.nonce) throw new StintError('ERR_UNAVAILABLE', 'Stint answered without a nonce', { reason: 'bad_response' });
    return body.nonce;
  }

  /**
   * The state of one of this workload's grants (POST /grants/status): `revoked` means stop serving
   * it. ERR_NOT_FOUND with reason status_unsupported when the service has no such endpoint.
   */
  async grantStatus(subject: SubjectProof, grantId: string): Promise<{ state: 'active' | 'revoked' | 'expired'; quarantined: boolean }> {
    const { status, body } = await this.#post('/grants/status', new URLSearchParams({ subject_token: subject.value, subject_token_type: subject.type, grant_id: grantId }));
    if (status !== 200) {
      if ((status === 404 || status === 405) && body.stint_code === undefined) {
        throw new StintError('ERR_NOT_FOUND', 'revocation checks are not supported by this Stint version (no POST /grants/status)', { reason: 'status_unsupported' });
      }
      throw errorFromOAuthBody(status, body);
    }
    const state = body.state;
    if (state !== 'active' && state !== 'revoked' && state !== 'expired') throw new StintError('ERR_UNAVAILABLE', 'Stint answered the grant status without a known state', { reason: 'bad_response' });
    return { state, quarantined: body.quarantined === true };
  }

  /** Revoke one of this workload's grants (POST /revoke); ERR_NOT_FOUND with reason revoke_unsupported when the service has no such endpoint. */
  async revoke(subject: SubjectProof, grantId: string, reason: string): Promise<void> {
    const { status, body } = await this.#post('/revoke', new URLSearchParams({ subject_token: subject.value, subject_token_type: subject.type, grant_id: grantId, reason }));
    if (status === 200) return;
    if ((status === 404 || status === 405) && body.stint_code === undefined) {
      throw new StintError('ERR_NOT_FOUND', 'revoking grants on shutdown is not supported by this Stint version (no POST /revoke)', { reason: 'revoke_unsupported' });
    }
    throw errorFromOAuthBody(status, body);
  }

  /** Close kept-alive connections. */
  close(): void {
    this.#agents.close();
  }

  #post(path: string, form: URLSearchParams): Promise<{ status: number; body: Record<string, unknown> }> {
    const payload = Buffer.from(form.toString());
    const url = new URL(path, this.#base);
    const send = this.#send;
    return new Promise((resolvePost, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          agent: this.#agents.current(),
          timeout: this.#timeout,
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': payload.length, accept: 'application/json' },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response too large'));
            else chunks.push(c);
          });
          res.on('end', () => {
            let body: Record<string, unknown> = {};
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            } catch {
              if (res.statusCode === 200) return reject(new StintError('ERR_UNAVAILABLE', `unexpected response from Stint (HTTP ${res.statusCode})`, { reason: 'bad_response' }));
            }
            resolvePost({ status: res.statusCode ?? 0, body });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeout} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => reject(new StintError('ERR_UNAVAILABLE', `cannot reach Stint at ${this.#base.origin}: ${e.code ?? e.message}`, { reason: 'unreachable' })));
      req.end(payload);
    });
  }
}

/** The agent for the next request. */
interface AgentSource {
  current(): HttpAgent | HttpsAgent;
  close(): void;
}

type TlsFileKey = 'caFile' | 'clientCertFile' | 'clientKeyFile';

/**
 * The https agent, rebuilt when the CA bundle or the client certificate or key changes on disk
 * (inode, size or modification time: a projected Secret swaps a symlink, cert-manager rewrites).
 * At start an unreadable file is a configuration error; later, a file caught mid-rotation keeps
 * the previous agent until the next request.
 */
class TlsAgents implements AgentSource {
  readonly #files: [TlsFileKey, string][];
  readonly #build: (options: { ca?: Buffer; cert?: Buffer; key?: Buffer }) => HttpsAgent;
  #agent: HttpsAgent;
  #stamp: string;

  constructor(endpoint: StintEndpoint, build: (options: { ca?: Buffer; cert?: Buffer; key?: Buffer }) => HttpsAgent) {
    this.#build = build;
    this.#files = [];
    if (endpoint.caFile) this.#files.push(['caFile', endpoint.caFile]);
    if (endpoint.clientCertFile && endpoint.clientKeyFile) this.#files.push(['clientCertFile', endpoint.clientCertFile], ['clientKeyFile', endpoint.clientKeyFile]);
    this.#stamp = this.#stampNow();
    try {
      this.#agent = this.#load();
    } catch (e) {
      const { key, file, code } = e as { key: TlsFileKey; file: string; code: string };
      throw new ConfigError('ERR_CONFIG_INVALID', `stint.${key}`, `cannot read ${file}: ${code}`);
    }
  }

  current(): HttpsAgent {
    if (this.#files.length === 0) return this.#agent;
    const stamp = this.#stampNow();
    if (stamp === this.#stamp) return this.#agent;
    try {
      const next = this.#load();
      this.#agent.destroy();
      this.#agent = next;
      this.#stamp = stamp;
    } catch {
      // Mid-rotation (a file missing or unreadable for a moment): the previous agent, retry next time.
    }
    return this.#agent;
  }

  close(): void {
    this.#agent.destroy();
  }

  #stampNow(): string {
    return this.#files
      .map(([, file]) => {
        try {
          const s = statSync(file);
          return `${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  }

  #load(): HttpsAgent {
    const read: Partial<Record<TlsFileKey, Buffer>> = {};
    for (const [key, file] of this.#files) {
      try {
        read[key] = readFileSync(file);
      } catch (e) {
        throw Object.assign(new Error(`cannot read ${file}`), { key, file, code: (e as NodeJS.ErrnoException).code ?? 'error' });
      }
    }
    return this.#build({ ...(read.caFile ? { ca: read.caFile } : {}), ...(read.clientCertFile && read.clientKeyFile ? { cert: read.clientCertFile, key: read.clientKeyFile } : {}) });
  }
}
