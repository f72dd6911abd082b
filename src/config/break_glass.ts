/**
 * `breakGlass:` configuration: the sealed emergency credentials, set up ahead, that two distinct
 * admins (or one admin and a signed ticket from the configured ticketing issuer) can release when
 * policy or an upstream blocks a fix (src/pipeline/break_glass.ts, break_glass_ticket.ts).
 */
import { z } from 'zod';
import { durationSchema } from './fields.js';

/** One sealed credential: what is issued when a request for it is approved. */
const sealedCredentialSchema = z.object({
  /** Name operators request it by. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  /** Credential kind (a configured provider). */
  kind: z.string().min(1),
  audience: z.string().min(1).optional(),
  target: z.string().min(1).optional(),
  scopes: z.array(z.string().min(1)).optional(),
  /** Lifetime of the released credential (short: default 15 minutes, at most 1 hour). */
  ttl: durationSchema.default(900).refine((s) => s <= 3600, 'a break-glass credential lives at most 1h'),
}).strict();

const JWS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
const CLAIM_NAME = /^[A-Za-z_][\w.:/-]{0,127}$/;

/**
 * The ticketing system whose signed tickets (JWTs) count as one approval: `iss`, `aud`, a short
 * `exp`, a ticket id claim and the claim naming the break-glass credential (set) it authorizes.
 * Keys from a JWKS URL or a static public key (PEM, inline or by file); exactly one.
 */
export const breakGlassTicketSchema = z
  .object({
    /** The ticketing system's `iss`, compared exactly. */
    issuer: z.string().min(1).max(512),
    /** The `aud` tickets must carry (e.g. `stint-break-glass`). */
    audience: z.string().min(1).max(512),
    /** HTTPS URL of its JWKS (http only for loopback, in tests). */
    jwksUrl: z.string().url().refine((u) => /^https:\/\//.test(u) || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(u), 'must be an https URL (http only on loopback)').optional(),
    /** A static public key, PEM (SPKI). */
    publicKey: z.string().includes('-----BEGIN PUBLIC KEY-----', { message: 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)' }).optional(),
    /** A file holding the static public key, PEM (SPKI). */
    publicKeyFile: z.string().min(1).optional(),
    /** Signature algorithms accepted (never `none` nor HMAC). */
    algorithms: z.array(z.enum(JWS_ALGORITHMS)).min(1).default(['ES256', 'RS256', 'EdDSA']),
    /** Longest a ticket may live (`exp` - `iat`, and `exp` - now when it has no `iat`): short. */
    maxLifetime: durationSchema.default(900).refine((s) => s >= 1 && s <= 3600, 'a ticket lives 1s to 1h'),
    /** Allowed clock skew with the ticketing system. */
    clockTolerance: durationSchema.default(30).refine((s) => s <= 300, 'at most 5m'),
    /** Claim holding the ticket id (used once). */
    ticketIdClaim: z.string().regex(CLAIM_NAME).default('jti'),
    /** Claim naming the break-glass credential the ticket authorizes (breakGlass.credentials[].name). */
    credentialClaim: z.string().regex(CLAIM_NAME).default('break_glass_credential'),
  })
  .strict()
  .superRefine((t, ctx) => {
    const sources = [t.jwksUrl, t.publicKey, t.publicKeyFile].filter((v) => v !== undefined).length;
    if (sources !== 1) ctx.addIssue({ code: 'custom', path: ['jwksUrl'], message: 'set exactly one of jwksUrl, publicKey, publicKeyFile' });
  });

/** Validated ticketing issuer configuration. */
export type BreakGlassTicketConfig = z.output<typeof breakGlassTicketSchema>;

/** The break-glass section. */
export const breakGlassConfigSchema = z.object({
  /** Distinct approvals needed, the requester included (at least 2); a verified ticket counts as one. */
  approvals: z.number().int().min(2).max(5).default(2),
  /** How long a request waits for its approvals and its release. */
  requestTtl: durationSchema.default(3600),
  credentials: z.array(sealedCredentialSchema).min(1),
  /** Optional: a signed ticket from this issuer may stand in for one admin approval. */
  ticket: breakGlassTicketSchema.optional(),
}).strict();

/** Validated break-glass configuration. */
export type BreakGlassConfig = z.output<typeof breakGlassConfigSchema>;
