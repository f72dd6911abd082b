/** JSON logs, one object a line on stdout. Never pass a token: at most a fingerprint. */

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
/** A log level. */
export type LogLevel = keyof typeof LEVELS;

/** A structured logger. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  setLevel(level: LogLevel): void;
}

/** A logger writing JSON lines to stdout (every level: one stream keeps them in order). */
export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  let min: number = LEVELS[level];
  return {
    log(lvl, msg, fields = {}) {
      if (LEVELS[lvl] < min) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
    },
    setLevel(l) {
      min = LEVELS[l];
    },
  };
}
