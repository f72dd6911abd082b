#!/usr/bin/env node
/**
 * `stint-sidecar`: keeps fresh credentials where unmodified applications read them.
 *
 *   stint-sidecar [sidecar] [--config FILE]        long-running (the default)
 *   stint-sidecar init [--config FILE]             fetch once, write, exit
 *   stint-sidecar exec [--config FILE] -- CMD...   run CMD with credentials in its environment
 *
 * The configuration file defaults to $STINT_SIDECAR_CONFIG, else /etc/stint/sidecar.yaml.
 * Exit status: 0, the child's status (exec), 64 usage, 78 invalid configuration, or the exit code
 * of the Stint error that stopped init (e.g. 4 denied by policy, 69 unavailable).
 */
import './v8_flags.js';
import { ConfigError, StintError, toStintError } from '../src/errors.js';
import { loadSidecarConfig } from './config/load.js';
import { createLogger } from './log.js';

const USAGE = `usage: stint-sidecar [sidecar|init] [--config FILE]
       stint-sidecar exec [--config FILE] -- COMMAND [ARGS...]`;

interface Args {
  mode: 'sidecar' | 'init' | 'exec';
  config: string;
  command: string[];
}

function parseArgs(argv: string[]): Args | string {
  const args: Args = { mode: 'sidecar', config: process.env.STINT_SIDECAR_CONFIG ?? '/etc/stint/sidecar.yaml', command: [] };
  let i = 0;
  if (argv[0] === 'sidecar' || argv[0] === 'init' || argv[0] === 'exec') args.mode = argv[i++] as Args['mode'];
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.command = argv.slice(i + 1);
      break;
    }
    if (a === '--config' || a === '-c') {
      const v = argv[++i];
      if (!v) return '--config needs a file';
      args.config = v;
    } else if (a.startsWith('--config=')) args.config = a.slice('--config='.length);
    else if (a === '--help' || a === '-h') return '';
    else return `unknown argument ${a}`;
  }
  if (args.mode === 'exec' && args.command.length === 0) return 'exec needs a command after --';
  if (args.mode !== 'exec' && args.command.length > 0) return `a command is only taken in exec mode`;
  return args;
}

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (typeof parsed === 'string') {
    if (parsed) console.error(`stint-sidecar: ${parsed}`);
    console.error(USAGE);
    return parsed ? 64 : 0;
  }
  // The configuration check (a child process, the longest step of a start) begins first; loading
  // the program overlaps with it, neither waits for the other.
  const checked = loadSidecarConfig(parsed.config);
  const log = createLogger('info');
  const [config, run] = await Promise.all([checked, import('./run.js')]);
  log.setLevel(config.log.level);
  if (parsed.mode === 'init') return run.runInit(config, log);
  if (parsed.mode === 'exec') return run.runExec(config, log, parsed.command);
  return run.runSidecar(config, log);
}

main().then(
  (status) => {
    process.exitCode = status;
    // Anything still open (a stuck socket) must not keep a finished sidecar alive.
    setTimeout(() => process.exit(status), 2000).unref();
  },
  (e: unknown) => {
    const err = e instanceof StintError ? e : toStintError(e);
    const message = err instanceof ConfigError ? `invalid configuration: ${err.message}` : err.message;
    console.error(`stint-sidecar: ${message}${err.code === 'ERR_INTERNAL' && err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ''}`);
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'stint-sidecar failed', code: err.code, error: message })}\n`);
    process.exitCode = err.mapping.exit;
    setTimeout(() => process.exit(err.mapping.exit), 2000).unref();
  },
);
