/** The `stint` command line: the service, the client and the operator commands (run by main.ts). */
import { Command, CommanderError } from 'commander';
import { toStintError, StintError } from '../errors.js';
import { registerAdmin } from './commands/admin.js';
import { registerBreakGlass } from './commands/break_glass.js';
import { registerDev } from './commands/dev.js';
import { registerExchange } from './commands/exchange.js';
import { registerPolicy } from './commands/policy.js';
import { registerServe } from './commands/serve.js';

const program = new Command('stint')
  .description('Stint: workload identity token exchange')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError();
registerServe(program);
registerDev(program);
registerExchange(program);
registerAdmin(program);
registerBreakGlass(program);
registerPolicy(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const e = err instanceof StintError ? err : toStintError(err);
  const shown = err instanceof StintError ? e.message : (err as Error).message ?? String(err);
  console.error(`stint: ${e.code}: ${shown}`);
  process.exit(e.mapping.exit);
}
