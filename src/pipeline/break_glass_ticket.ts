/**
 * Break-glass "an admin plus a signed ticket": a JWT from the configured ticketing issuer
 * (`breakGlass.ticket`) stands in for one admin approval of a break-glass request. The ticket is
 * verified with jose against the issuer's JWKS or static public key: `iss` and `aud` exact, `exp`
 * required and short (`maxLifetime`), a ticket id claim, and the claim naming the break-glass
 * credential, which must be the request's. A ticket id is accepted once on every replica (claimed
 * in the Store), and at most one ticket counts per request. Each refusal has a stable code
 * (the token codes of src/errors.ts, `details.reason` `ticket_*`); the accepted ticket is audited
 * as a `breakglass.approved` event by its id, issuer and fingerprint, never the ticket itself.
 *
 * Apart from src/pipeline/break_glass.ts: it reads requests through BreakGlassService.status and
 * records the approval event that status() counts (approver `ticket:<issuer>#<id>`).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Auditor } from '../audit/auditor.js';
import { breakGlassApprovedEvent } from '../audit/events.js';
import type { Clock } from '../clock.js';
import type { BreakGlassTicketConfig } from '../config/break_glass.js';
import { ConfigError, StintError, type ErrorCode } from '../errors.js';
import { fingerprint, sha256Hex } from '../fingerprint.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { StintMetrics } from '../telemetry/metrics.js';
import type { BreakGlassService, BreakGlassStatus } from './break_glass.js';

/** A ticket is at most this long (a compact JWS). */
export const MAX_TICKET_BYTES = 16_384;

/** The Store binding kind that makes a ticket id single-use. */
export const TICKET_BINDING_KIND = 'break-glass-ticket';

/** Prefix of the approver name a ticket approval is recorded under. */
export const TICKET_APPROVER_PREFIX = 'ticket:';

const TICKET_ID = /^[\x21-\x7e]{1,128}$/;

/** A verified ticket: what is audited (never the ticket itself). */
export interface VerifiedTicket {
  readonly ticketId: string;
  readonly issuer: string;
  /** The sealed credential the ticket authorizes. */
  readonly credential: string;
  /** Fingerprint of the ticket (sha256). */
  readonly fingerprint: string;
  /** The ticket's `sub`, when it has one (who approved it in the ticketing system). */
  readonly subject: string | null;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** A refused ticket: a stable token code and a `ticket_*` reason. */
function refused(code: ErrorCode, reason: string, message: string, extra: Record<string, unknown> = {}): StintError {
  return new StintError(code, `break-glass ticket refused: ${message}`, { reason, ...extra });
}

/** The key lookup of the configured ticketing issuer. */
function keySource(config: BreakGlassTicketConfig): JWTVerifyGetKey | KeyObject {
  if (config.jwksUrl) return createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  let pem = config.publicKey;
  if (pem === undefined) {
    try {
      pem = readFileSync(config.publicKeyFile!, 'utf8');
    } catch (e) {
      throw new ConfigError('ERR_CONFIG_INVALID', 'breakGlass.ticket.publicKeyFile', `cannot read ${config.publicKeyFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  try {
    const key = createPublicKey(pem);
    if (key.type !== 'public') throw new Error('not a public key');
    return key;
  } catch {
    throw new ConfigError('ERR_CONFIG_INVALID', config.publicKey !== undefined ? 'breakGlass.ticket.publicKey' : 'breakGlass.ticket.publicKeyFile', 'is not a PEM public key');
  }
}

/** Verifies tickets and claims their ids once. */
export class BreakGlassTicketVerifier {
  readonly #config: BreakGlassTicketConfig;
  readonly #key: JWTVerifyGetKey | KeyObject;
  readonly #store: Pick<Store, 'bindAttestation'>;
  readonly #clock: Clock;

  constructor(config: BreakGlassTicketConfig, deps: { store: Pick<Store, 'bindAttestation'>; clock: Clock }) {
    this.#config = config;
    this.#key = keySource(config);
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /** Verify a ticket for the sealed credential `credential`; throws a StintError with a token code. */
  async verify(ticket: string, credential: string): Promise<VerifiedTicket> {
    const config = this.#config;
    if (typeof ticket !== 'string' || ticket.length === 0) throw refused('ERR_INVALID_REQUEST', 'ticket_required', 'a ticket is required');
    if (Buffer.byteLength(ticket) > MAX_TICKET_BYTES) throw refused('ERR_TOKEN_TOO_LARGE', 'ticket_too_large', `a ticket is at most ${MAX_TICKET_BYTES} bytes`);
    const ticketFingerprint = fingerprint(ticket.trim());
    const token = ticket.trim();
    let unverified: JWTPayload;
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      unverified = decodeJwt(token);
    } catch {
      throw refused('ERR_TOKEN_MALFORMED', 'ticket_malformed', 'not a signed JWT (compact JWS)', { fingerprint: ticketFingerprint });
    }
    if (typeof alg !== 'string' || !(config.algorithms as readonly string[]).includes(alg)) {
      throw refused('ERR_TOKEN_ALG_NOT_ALLOWED', 'ticket_alg_not_allowed', `algorithm ${JSON.stringify(String(alg).slice(0, 16))} is not accepted (${config.algorithms.join(', ')})`, { fingerprint: ticketFingerprint });
    }
    // The issuer first: no key is fetched for a ticket from anyone else.
    if (unverified.iss !== config.issuer) throw refused('ERR_TOKEN_ISSUER_UNKNOWN', 'ticket_wrong_issuer', 'not issued by the configured ticketing issuer', { fingerprint: ticketFingerprint });
    const nowMs = this.#clock.now();
    let payload: JWTPayload;
    try {
      const verified = await jwtVerify(token, this.#key as JWTVerifyGetKey, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: [...config.algorithms],
        clockTolerance: config.clockTolerance,
        currentDate: new Date(nowMs),
        requiredClaims: ['exp'],
      });
      payload = verified.payload;
    } catch (err) {
      throw joseRefusal(err, ticketFingerprint, this.#config.jwksUrl !== undefined);
    }
    const now = Math.floor(nowMs / 1000);
    const exp = payload.exp!;
    const start = typeof payload.iat === 'number' ? Math.min(payload.iat, now) : now;
    if (exp - start > config.maxLifetime + config.clockTolerance) {
      throw refused('ERR_TOKEN_LIFETIME_TOO_LONG', 'ticket_lifetime_too_long', `a ticket lives at most ${config.maxLifetime}s (exp - iat)`, { fingerprint: ticketFingerprint });
    }
    const ticketId = payload[config.ticketIdClaim];
    if (typeof ticketId !== 'string' || !TICKET_ID.test(ticketId)) {
      throw refused('ERR_TOKEN_CLAIM_INVALID', 'ticket_id_missing', `claim ${config.ticketIdClaim} must be a ticket id (1-128 printable characters)`, { claim: config.ticketIdClaim, fingerprint: ticketFingerprint });
    }
    const named = payload[config.credentialClaim];
    if (named !== credential) {
      throw refused('ERR_TOKEN_CLAIM_INVALID', 'ticket_wrong_credential', `claim ${config.credentialClaim} does not name break-glass credential ${credential}`, { claim: config.credentialClaim, fingerprint: ticketFingerprint });
    }
    return { ticketId, issuer: config.issuer, credential, fingerprint: ticketFingerprint, subject: typeof payload.sub === 'string' ? payload.sub.slice(0, 256) : null, expiresAt: exp };
  }

  /** Claim the ticket id for request `requestId`, once on every replica; a second use is ERR_TOKEN_REPLAYED. */
  async consume(ticket: VerifiedTicket, requestId: string): Promise<void> {
    const now = this.#clock.now();
    const claim = await this.#store.bindAttestation({
      kind: TICKET_BINDING_KIND,
      key: sha256Hex(`${ticket.issuer}\n${ticket.ticketId}`),
      binding: requestId,
      now,
      // Kept well past the ticket's expiry (an expired ticket is refused anyway).
      expiresAt: Math.max(now, (ticket.expiresAt + this.#config.clockTolerance) * 1000) + 86_400_000,
    });
    if (!claim.firstUse) {
      throw refused('ERR_TOKEN_REPLAYED', 'ticket_replayed', `ticket ${ticket.ticketId} was already used`, { fingerprint: ticket.fingerprint });
    }
  }
}

/** A jose failure as a stable ticket refusal. */
function joseRefusal(err: unknown, ticketFingerprint: string, remote: boolean): StintError {
  const at = { fingerprint: ticketFingerprint };
  if (err instanceof joseErrors.JWTExpired) return refused('ERR_TOKEN_EXPIRED', 'ticket_expired', 'the ticket has expired', at);
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return refused('ERR_TOKEN_AUDIENCE_INVALID', 'ticket_wrong_audience', 'the ticket is not for this audience', at);
    if (err.claim === 'iss') return refused('ERR_TOKEN_ISSUER_UNKNOWN', 'ticket_wrong_issuer', 'not issued by the configured ticketing issuer', at);
    if (err.claim === 'nbf' || err.claim === 'iat') return refused('ERR_TOKEN_NOT_YET_VALID', 'ticket_not_yet_valid', `the ticket is not valid yet (${err.claim})`, at);
    return refused('ERR_TOKEN_CLAIM_INVALID', 'ticket_claim_invalid', `claim ${err.claim} is invalid (${err.reason})`, { ...at, claim: err.claim });
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return refused('ERR_TOKEN_SIGNATURE_INVALID', 'ticket_signature_invalid', 'the signature does not verify', at);
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) return refused('ERR_TOKEN_KEY_NOT_FOUND', 'ticket_key_not_found', 'no key of the ticketing issuer matches', at);
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return refused('ERR_TOKEN_ALG_NOT_ALLOWED', 'ticket_alg_not_allowed', 'the algorithm is not accepted', at);
  // A fetch of the JWKS that failed (jose lets fetch's TypeError through); for a static key a TypeError is a key of another type.
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || (remote && err instanceof TypeError)) {
    return new StintError('ERR_ISSUER_UNAVAILABLE', 'break-glass ticket: the ticketing issuer keys could not be fetched', { reason: 'ticket_issuer_unavailable', ...at });
  }
  if (err instanceof TypeError || (err instanceof joseErrors.JOSEError && err.code === 'ERR_JOSE_NOT_SUPPORTED')) return refused('ERR_TOKEN_ALG_NOT_ALLOWED', 'ticket_alg_not_allowed', 'the algorithm does not fit the key', at);
  return refused('ERR_TOKEN_MALFORMED', 'ticket_malformed', 'not a valid signed JWT', at);
}

/** The approver name a ticket approval is recorded under. */
export function ticketApprover(ticket: Pick<VerifiedTicket, 'issuer' | 'ticketId'>): string {
  return `${TICKET_APPROVER_PREFIX}${ticket.issuer}#${ticket.ticketId}`;
}

/** Dependencies of ticket approvals. */
export interface BreakGlassTicketDeps {
  readonly verifier: BreakGlassTicketVerifier;
  readonly requests: Pick<BreakGlassService, 'status'>;
  readonly auditor: Pick<Auditor, 'record'>;
  readonly logger: Logger;
  readonly metrics: Pick<StintMetrics, 'breakGlass'>;
  readonly trustDomain: string;
}

/** `stint break-glass approve <id> --ticket-file F`: a verified ticket as one approval of a request. */
export class BreakGlassTicketApprovals {
  constructor(private readonly deps: BreakGlassTicketDeps) {}

  /** Approve request `id` with a ticket submitted by admin `actor`; at most one ticket counts per request. */
  async approve(id: string, ticket: string, actor: string): Promise<BreakGlassStatus> {
    const { deps } = this;
    const status = await deps.requests.status(id);
    try {
      if (status.state === 'expired') throw new StintError('ERR_INVALID_REQUEST', `break-glass request ${id} expired`, { reason: 'request_expired' });
      if (status.state === 'released') throw new StintError('ERR_INVALID_REQUEST', `break-glass request ${id} was already released`, { reason: 'already_released' });
      if (status.approvers.some((a) => a.startsWith(TICKET_APPROVER_PREFIX))) {
        throw new StintError('ERR_INVALID_REQUEST', 'a ticket already approved this request: the other approvals must come from distinct admin credentials', { reason: 'ticket_already_counted' });
      }
      const verified = await deps.verifier.verify(ticket, status.credential);
      await deps.verifier.consume(verified, id);
      const approver = ticketApprover(verified);
      await deps.auditor.record(
        breakGlassApprovedEvent(
          { requestId: id, identity: `spiffe://${deps.trustDomain}/break-glass/${status.credential}`, rule: `break-glass:${status.credential}`, credential: status.credential },
          {
            approver,
            requester: status.requester,
            reason: `approved by ticket ${verified.ticketId} from ${verified.issuer}`,
            details: {
              via: 'ticket',
              submittedBy: actor,
              ticketId: verified.ticketId,
              ticketIssuer: verified.issuer,
              ticketSubject: verified.subject,
              ticketFingerprint: verified.fingerprint,
              ticketExpiresAt: verified.expiresAt,
            },
          },
        ),
      );
      deps.logger.warn({ breakGlass: true, id, credential: status.credential, approver, submittedBy: actor, ticketFingerprint: verified.fingerprint }, 'break-glass approved by ticket');
      deps.metrics.breakGlass.inc({ event: 'approved' });
    } catch (err) {
      if (err instanceof StintError) {
        deps.metrics.breakGlass.inc({ event: 'refused' });
        deps.logger.warn({ breakGlass: true, id, credential: status.credential, submittedBy: actor, error: err.code, reason: err.details.reason, ticketFingerprint: err.details.fingerprint }, 'break-glass ticket refused');
      }
      throw err;
    }
    return deps.requests.status(id);
  }
}
