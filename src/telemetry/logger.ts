/** JSON-lines logging (pino) to stdout: one object a line, never a token or secret. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Create the service logger. */
export function createLogger(level: string, destination: NodeJS.WritableStream | number = 1): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ dest: destination, sync: false }) : destination;
  return pino(
    {
      level,
      base: { service: 'stint' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Defence in depth: these keys are never logged even if a caller passes them.
      redact: { paths: ['subject_token', 'subjectToken', 'token', 'access_token', 'secret', 'password', '*.token', '*.secret', '*.password'], censor: '[redacted]' },
    },
    dest as never,
  );
}
