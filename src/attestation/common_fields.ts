/** Configuration fields every attestor kind has, JWT or not: its instance name and what a denial may explain. */
import { z } from 'zod';

/** Fields shared by every attestor kind's schema. */
export const attestorCommonFields = {
  /** Unique name of this attestor instance (defaults to its kind). */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/).optional(),
  /** What the caller sees on denial: the reason code only (default) or the nearest rule too. */
  explainDenials: z.boolean().default(false),
};
