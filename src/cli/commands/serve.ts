/** `stint serve`: run the service from a config file, or on embedded defaults with --dev. */
import type { Command } from 'commander';
import { loadConfigFile } from '../../config/load.js';
import { devRecipe, prepareDev } from '../../dev/dev_mode.js';
import { startStint } from '../../service.js';
import { serviceListening } from '../../service/v8_heap.js';
import { ConfigError } from '../../errors.js';

/** Register `serve`. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the Stint service')
    .option('--config <file>', 'YAML configuration file')
    .option('--dev', 'development mode: embedded store, generated keys, a dev issuer, the example policy')
    .option('--data-dir <dir>', 'data folder for --dev', '.stint')
    .option('--http <addr>', 'HTTP listen address for --dev', '127.0.0.1:8080')
    .option('--grpc <addr>', 'gRPC listen address for --dev', '127.0.0.1:8081')
    .option('--admin <addr>', 'admin gRPC listen address for --dev', '127.0.0.1:8082')
    .action(async (opts: { config?: string; dev?: boolean; dataDir: string; http: string; grpc: string; admin: string }) => {
      if (!opts.config && !opts.dev) throw new ConfigError('ERR_CONFIG_INVALID', '', 'give --config FILE or --dev');
      let config;
      let recipe = '';
      if (opts.dev) {
        ({ config } = await prepareDev(opts.dataDir, { http: opts.http, grpc: opts.grpc, admin: opts.admin }));
        recipe = devRecipe({ httpAddr: opts.http, grpcAddr: opts.grpc, adminAddr: opts.admin, dataDir: opts.dataDir, cwdRelative: opts.dataDir === '.stint' });
      } else {
        config = loadConfigFile(opts.config!);
      }
      const stint = await startStint(config);
      serviceListening();
      if (recipe) process.stderr.write(recipe);
      const stop = (signal: string): void => {
        process.stderr.write(`received ${signal}, shutting down\n`);
        stint.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
