/**
 * `breakGlass:` configuration: the sealed emergency credentials, set up ahead, that two distinct
 * admins can release when policy or an upstream blocks a fix (src/pipeline/break_glass.ts).
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

/** The break-glass section. */
export const breakGlassConfigSchema = z.object({
  /** Distinct admins needed, the requester included (at least 2). */
  approvals: z.number().int().min(2).max(5).default(2),
  /** How long a request waits for its approvals and its release. */
  requestTtl: durationSchema.default(3600),
  credentials: z.array(sealedCredentialSchema).min(1),
}).strict();

/** Validated break-glass configuration. */
export type BreakGlassConfig = z.output<typeof breakGlassConfigSchema>;
