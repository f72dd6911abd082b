/** JSON-lines logging (pino) to stdout: one object a line, never a token or secret. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Keys never logged (pino's redaction): top level, and one level down (`*.`). */
const REDACTED_KEYS = ['token', 'secret', 'password'] as const;

/** Create the service logger. */
export function createLogger(level: string, destination: NodeJS.WritableStream | number = 1): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ dest: destination, sync: false }) : destination;
  return pino(
    {
      level,
      base: { service: 'stint' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Defence in depth: these keys are never logged even if a caller passes them.
      redact: { paths: ['subject_token', 'subjectToken', ...REDACTED_KEYS, 'access_token', ...REDACTED_KEYS.map((k) => `*.${k}`)], censor: '[redacted]' },
    },
    dest as never,
  );
}

/** Whether `value` (an object logged as a field) holds a key the logger redacts one level down. */
export function hasRedactedKey(value: object): boolean {
  return REDACTED_KEYS.some((k) => Object.prototype.hasOwnProperty.call(value, k));
}

/** The pino internals a preformatted line needs (pino.symbols, part of its typed API). */
interface PinoInternals {
  readonly [pino.symbols.lsCacheSym]?: Record<number, string>;
  readonly [pino.symbols.timeSym]?: () => string;
  readonly [pino.symbols.chindingsSym]?: string;
  readonly [pino.symbols.endSym]?: string;
  readonly [pino.symbols.streamSym]?: { write(line: string): unknown; [k: symbol]: unknown };
  readonly [pino.symbols.messageKeySym]?: string;
  readonly [pino.symbols.mixinSym]?: unknown;
  readonly [pino.symbols.nestedKeySym]?: unknown;
  readonly [pino.symbols.formattersSym]?: { log?: unknown };
  readonly [pino.symbols.hooksSym]?: { streamWrite?: unknown };
}

/**
 * Write one line as `logger[level](fields, msg)` would, the fields given as JSON text already
 * (`"key":value,...`, no braces, no key pino redacts): the audit line reuses the JSON its store row
 * was written with instead of pino serializing (and redaction cloning) the event again. Returns
 * false, writing nothing, when `logger` is not a plain pino logger this can stand in for (a mixin,
 * a log formatter, a nested key, a stream-write hook, a stream that wants metadata): the caller
 * then logs through the logger.
 */
export function writePreformatted(logger: Logger, level: 'info' | 'warn', fields: string, msg: string): boolean {
  const p = logger as unknown as PinoInternals;
  const stream = p[pino.symbols.streamSym];
  const prefix = p[pino.symbols.lsCacheSym]?.[logger.levels.values[level]!];
  const time = p[pino.symbols.timeSym];
  const chindings = p[pino.symbols.chindingsSym];
  const end = p[pino.symbols.endSym];
  if (stream === undefined || prefix === undefined || time === undefined || typeof chindings !== 'string' || typeof end !== 'string') return false;
  if (p[pino.symbols.messageKeySym] !== 'msg' || p[pino.symbols.mixinSym] || p[pino.symbols.nestedKeySym] || p[pino.symbols.formattersSym]?.log || p[pino.symbols.hooksSym]?.streamWrite) return false;
  if (stream[pino.symbols.needsMetadataGsym] === true) return false;
  if (!logger.isLevelEnabled(level)) return true;
  stream.write(`${prefix}${time()}${chindings},${fields},"msg":${JSON.stringify(msg)}${end}`);
  return true;
}
