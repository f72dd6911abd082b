/**
 * The one client of Stint's workload endpoints, shared by stint-sidecar, the GitHub Action step
 * and `stint exchange`: RFC 8693 token exchange (POST /token), renewal in place (POST /renew),
 * self-revocation (POST /revoke), the grant status poll (POST /grants/status) and attestation
 * nonces (POST /attestation/nonce). Plain node:http(s) with keep-alive, TLS with a CA bundle and
 * mTLS re-read when their files change, one deadline per call, bounded answers, no schema library
 * at run time; every refusal is a StintError with Stint's code (src/errors.ts).
 */
import { request as httpRequest } from 'node:http';
import { StintError } from '../errors.js';
import { plainAgents, tlsAgents, type AgentSource, type TlsFiles, type TlsSettingNames } from './agents.js';
import { TOKEN_EXCHANGE_GRANT } from './constants.js';
import { MAX_RESPONSE_BYTES, postForm, type FormAnswer } from './form_post.js';
import { refusalError, type Unsupported } from './refusal.js';
import { renewAfterOf } from './renewal.js';
import type { SubjectProof } from './subject_token/source.js';

/** How to reach Stint. */
export interface StintEndpoint extends TlsFiles {
  /** Base URL; endpoints resolve under it, so a Stint behind a path prefix works. */
  readonly url: string;
  /** Milliseconds for each call. */
  readonly timeout: number;
}

/** Options of a client besides its endpoint. */
export interface StintClientOptions {
  /** Epoch milliseconds (default Date.now). */
  readonly now?: () => number;
  /** Largest answer accepted (default 256 KiB). */
  readonly maxResponseBytes?: number;
  /** The settings the TLS files came from, named in configuration errors (default `stint.caFile`...). */
  readonly settingNames?: TlsSettingNames;
}

/** What to exchange the subject token for. */
export interface ExchangeRequest {
  /** Credential kind, e.g. `stint-jwt`, `aws-sts`. */
  readonly kind: string;
  readonly audience?: string;
  /** RFC 8693 `resource`: role ARN, Vault path... */
  readonly target?: string;
  /** Requested lifetime, milliseconds (sent as whole seconds, at least 1). */
  readonly ttl?: number;
  readonly scopes?: readonly string[];
  /** For the audit trail. */
  readonly reason?: string;
  /** The CI run asking (GitHub Actions `run_id`). */
  readonly runId?: string;
}

/** Stint's answer to an exchange. Times are epoch milliseconds. */
export interface TokenAnswer {
  /** The primary secret (`access_token`). */
  readonly token: string;
  /** The credential kind issued (`credential_kind`, else the one asked for). */
  readonly kind: string;
  readonly grantId: string;
  /** String-valued named fields (AWS access key id, username...). */
  readonly fields: Readonly<Record<string, string>>;
  /** Names of `fields` that are secret (`secret_fields`, else every field). */
  readonly secretFields: readonly string[];
  /** When the request was sent. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** `renew_after`, else two thirds of the way to expiry. */
  readonly renewAfter: number;
  /** Stint can extend this grant in place (POST /renew). */
  readonly renewable: boolean;
  /** The policy rule that allowed it. */
  readonly rule?: string;
  /** The lifetime was capped by policy. */
  readonly ttlCapped: boolean;
  /** The JSON answer as received (for `stint exchange --output json`); holds the secret. */
  readonly body: Readonly<Record<string, unknown>>;
}

/** The state of one grant (POST /grants/status). */
export interface GrantStatus {
  readonly state: 'active' | 'revoked' | 'expired';
  readonly quarantined: boolean;
}

const NO_RENEW: Unsupported = { reason: 'renew_unsupported', message: 'renewal in place is not supported by this Stint version (no POST /renew)' };
const NO_STATUS: Unsupported = { reason: 'status_unsupported', message: 'revocation checks are not supported by this Stint version (no POST /grants/status)' };
const NO_REVOKE: Unsupported = { reason: 'revoke_unsupported', message: 'revoking grants on shutdown is not supported by this Stint version (no POST /revoke)' };

/** A client of one Stint service. */
export class StintClient {
  readonly #base: URL;
  readonly #agents: AgentSource;
  readonly #send: typeof httpRequest;
  readonly #timeout: number;
  readonly #now: () => number;
  readonly #maxBytes: number;

  private constructor(base: URL, agents: AgentSource, send: typeof httpRequest, endpoint: StintEndpoint, options: StintClientOptions) {
    this.#base = base;
    this.#agents = agents;
    this.#send = send;
    this.#timeout = endpoint.timeout;
    this.#now = options.now ?? Date.now;
    this.#maxBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  }

  /** A client of `endpoint`; node:https (and TLS) is loaded only for an https URL. An unreadable TLS file is ERR_CONFIG_INVALID. */
  static async create(endpoint: StintEndpoint, options: StintClientOptions = {}): Promise<StintClient> {
    const base = new URL(endpoint.url.endsWith('/') ? endpoint.url : `${endpoint.url}/`);
    if (base.protocol !== 'https:') return new StintClient(base, plainAgents(), httpRequest, endpoint, options);
    const https = await import('node:https');
    const agents = tlsAgents(endpoint, (agentOptions) => new https.Agent(agentOptions), options.settingNames);
    return new StintClient(base, agents, https.request as unknown as typeof httpRequest, endpoint, options);
  }

  /** Exchange the subject token for one credential (RFC 8693, POST /token). */
  async exchange(subject: SubjectProof, req: ExchangeRequest): Promise<TokenAnswer> {
    const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: subject.value, subject_token_type: subject.type, credential_kind: req.kind });
    if (req.audience) form.set('audience', req.audience);
    if (req.target) form.set('resource', req.target);
    if (req.ttl !== undefined) form.set('ttl_seconds', seconds(req.ttl));
    if (req.scopes?.length) form.set('scope', req.scopes.join(' '));
    if (req.runId) form.set('run_id', req.runId);
    if (req.reason) form.set('reason', req.reason);
    const sentAt = this.#now();
    const { status, body } = await this.#post('token', form);
    if (status !== 200) throw refusalError(status, body);
    const token = body.access_token;
    const expiresAt = Date.parse(String(body.expires_at));
    if (typeof token !== 'string' || !token || !Number.isFinite(expiresAt)) {
      throw new StintError('ERR_UNAVAILABLE', 'Stint answered without access_token or expires_at', { reason: 'bad_response' });
    }
    const fields: Record<string, string> = {};
    if (body.fields && typeof body.fields === 'object') {
      for (const [k, v] of Object.entries(body.fields as Record<string, unknown>)) if (typeof v === 'string') fields[k] = v;
    }
    const secretFields = Array.isArray(body.secret_fields) ? body.secret_fields.filter((f): f is string => typeof f === 'string') : Object.keys(fields);
    return {
      token,
      kind: typeof body.credential_kind === 'string' ? body.credential_kind : req.kind,
      grantId: typeof body.grant_id === 'string' ? body.grant_id : '',
      fields,
      secretFields,
      issuedAt: sentAt,
      expiresAt,
      renewAfter: renewAfterFrom(body, sentAt, expiresAt),
      renewable: body.renewable === true,
      ...(typeof body.rule === 'string' ? { rule: body.rule } : {}),
      ttlCapped: body.ttl_capped === true,
      body,
    };
  }

  /** Extend one of this workload's grants in place (POST /renew); the new expiry and renewal time, epoch ms. `ttl` in ms. */
  async renew(subject: SubjectProof, grantId: string, ttl: number | undefined): Promise<{ expiresAt: number; renewAfter: number }> {
    const form = new URLSearchParams({ subject_token: subject.value, subject_token_type: subject.type, grant_id: grantId });
    if (ttl !== undefined) form.set('ttl_seconds', seconds(ttl));
    const sentAt = this.#now();
    const { status, body } = await this.#post('renew', form);
    if (status !== 200) throw refusalError(status, body, NO_RENEW);
    const expiresAt = Date.parse(String(body.expires_at));
    if (!Number.isFinite(expiresAt)) throw new StintError('ERR_UNAVAILABLE', 'Stint answered the renewal without expires_at', { reason: 'bad_response' });
    return { expiresAt, renewAfter: renewAfterFrom(body, sentAt, expiresAt) };
  }

  /**
   * A fresh server nonce for an attestor kind (POST /attestation/nonce, form `kind`): proofs such
   * as Azure's attested document embed it so they cannot be replayed.
   */
  async nonce(kind: string): Promise<string> {
    const { status, body } = await this.#post('attestation/nonce', new URLSearchParams({ kind }));
    if (status !== 200) throw refusalError(status, body);
    if (typeof body.nonce !== 'string' || !body.nonce) throw new StintError('ERR_UNAVAILABLE', 'Stint answered without a nonce', { reason: 'bad_response' });
    return body.nonce;
  }

  /**
   * The state of one of this workload's grants (POST /grants/status): `revoked` means stop serving
   * it. ERR_NOT_FOUND with reason status_unsupported when the service has no such endpoint.
   */
  async grantStatus(subject: SubjectProof, grantId: string): Promise<GrantStatus> {
    const { status, body } = await this.#post('grants/status', new URLSearchParams({ subject_token: subject.value, subject_token_type: subject.type, grant_id: grantId }));
    if (status !== 200) throw refusalError(status, body, NO_STATUS);
    const state = body.state;
    if (state !== 'active' && state !== 'revoked' && state !== 'expired') throw new StintError('ERR_UNAVAILABLE', 'Stint answered the grant status without a known state', { reason: 'bad_response' });
    return { state, quarantined: body.quarantined === true };
  }

  /**
   * Revoke one of this workload's grants (POST /revoke); Stint's notes (e.g. what stays valid
   * upstream until expiry). ERR_NOT_FOUND with reason revoke_unsupported when the service has no
   * such endpoint.
   */
  async revoke(subject: SubjectProof, grantId: string, reason?: string): Promise<{ notes: string[] }> {
    const form = new URLSearchParams({ subject_token: subject.value, subject_token_type: subject.type, grant_id: grantId });
    if (reason) form.set('reason', reason);
    const { status, body } = await this.#post('revoke', form);
    if (status !== 200) throw refusalError(status, body, NO_REVOKE);
    return { notes: Array.isArray(body.notes) ? body.notes.filter((n): n is string => typeof n === 'string') : [] };
  }

  /** Close kept-alive connections. */
  close(): void {
    this.#agents.close();
  }

  #post(path: string, form: URLSearchParams): Promise<FormAnswer> {
    return postForm(new URL(path, this.#base), form, { send: this.#send, agent: this.#agents.current(), timeoutMs: this.#timeout, maxResponseBytes: this.#maxBytes });
  }
}

/** Whole seconds of a lifetime in ms, at least 1. */
function seconds(ms: number): string {
  return String(Math.max(1, Math.round(ms / 1000)));
}

/** `renew_after` of an answer, else the renewal rule from when the request was sent. */
function renewAfterFrom(body: Readonly<Record<string, unknown>>, sentAt: number, expiresAt: number): number {
  const announced = Date.parse(String(body.renew_after));
  return Number.isFinite(announced) ? announced : renewAfterOf(sentAt, expiresAt);
}
