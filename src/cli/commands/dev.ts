/** `stint dev token`: mint a test subject token from the development issuer. */
import type { Command } from 'commander';
import { mintDevToken } from '../../dev/dev_issuer.js';

/** Register `dev`. */
export function registerDev(program: Command): void {
  const dev = program.command('dev').description('development helpers (dev mode only)');
  dev
    .command('token')
    .description('mint a Kubernetes-shaped subject token from the dev issuer of `stint serve --dev`')
    .option('--data-dir <dir>', 'data folder of the dev service', '.stint')
    .option('--namespace <ns>', 'Kubernetes namespace', 'default')
    .option('--service-account <sa>', 'ServiceAccount name', 'demo')
    .option('--pod <name>', 'pod name')
    .option('--audience <aud>', 'audience of the subject token', 'stint')
    .option('--ttl <seconds>', 'lifetime in seconds', '600')
    .action(async (opts: { dataDir: string; namespace: string; serviceAccount: string; pod?: string; audience: string; ttl: string }) => {
      const token = await mintDevToken(opts.dataDir, {
        namespace: opts.namespace,
        serviceAccount: opts.serviceAccount,
        podName: opts.pod,
        audience: opts.audience,
        ttlSeconds: Number(opts.ttl),
      });
      // No trailing newline into a file, so `curl --data-urlencode subject_token@FILE` sends the token exactly.
      process.stdout.write(process.stdout.isTTY ? `${token}\n` : token);
    });
}
