/**
 * The zod field of a duration in the configuration files of both programs (the service's
 * policy tests, the sidecar; src/config/fields.ts's durationSchema can be the same): a string or a
 * number read by one of the grammars of src/duration.ts, whose message becomes the issue. Only
 * schema modules import it (it loads zod; src/duration.ts stays dependency-free).
 */
import { z } from 'zod';

/** A duration field read by `parse` (parseDuration: seconds, parseDurationMs: milliseconds). */
export function durationField(parse: (input: string | number) => number) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
}
