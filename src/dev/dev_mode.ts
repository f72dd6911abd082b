/**
 * `stint serve --dev`: everything on embedded defaults in a data folder, no setup. Generates the
 * dev issuer key, an admin token (mode 0600) and a configuration around the example policy.
 */
import { existsSync, mkdirSync, readFileSync, chmodSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { validateConfig } from '../config/load.js';
import type { StintConfig } from '../config/schema.js';
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevIssuer, writeFileAtomic } from './dev_issuer.js';

/** The package root (holds examples/ and proto/), from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(resolve(dir, 'package.json')) && existsSync(resolve(dir, 'examples'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('package root not found');
}

/** Listen addresses of a dev service. */
export interface DevListen {
  readonly http: string;
  readonly grpc: string;
  readonly admin: string;
}

/** Prepare the data folder and build the dev configuration. */
export async function prepareDev(dataDir: string, listen: DevListen): Promise<{ config: StintConfig; adminTokenFile: string }> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const jwksFile = await ensureDevIssuer(dir);
  const adminTokenFile = resolve(dir, 'admin.token');
  if (!existsSync(adminTokenFile) || readFileSync(adminTokenFile, 'utf8').trim() === '') {
    writeFileAtomic(adminTokenFile, `${randomBytes(32).toString('base64url')}\n`, 0o600);
  }
  const config = validateConfig(
    {
      issuer: `http://${listen.http}`,
      audience: DEV_AUDIENCE,
      trustDomain: 'stint.local',
      listen,
      store: { kind: 'sqlite', path: resolve(dir, 'stint.db') },
      policy: { file: resolve(packageRoot(), 'examples/policy.dev.yaml') },
      attestors: [{ kind: 'kubernetes', name: 'dev', issuer: DEV_ISSUER, jwksFile, algorithms: ['ES256'], explainDenials: true }],
      admin: { tokens: [{ name: 'dev-admin', secret: { file: adminTokenFile } }] },
    },
    'dev defaults',
  );
  return { config, adminTokenFile };
}

/** The recipe printed at dev start: commands that work verbatim from the repository root. */
export function devRecipe(opts: { httpAddr: string; grpcAddr: string; adminAddr: string; dataDir: string; cwdRelative: boolean }): string {
  const stint = 'node dist/src/cli/main.js';
  const dd = opts.cwdRelative ? '' : ` --data-dir ${opts.dataDir}`;
  return [
    '',
    'Stint is running in development mode. Try an exchange (from the repository root, in another terminal):',
    '',
    `  ${stint} dev token${dd} --namespace default --service-account demo > /tmp/stint-subject.jwt`,
    `  ${stint} exchange --url http://${opts.httpAddr} --subject-token-file /tmp/stint-subject.jwt --audience https://api.example.com`,
    '',
    'or with curl against the RFC 8693 token endpoint:',
    '',
    `  curl -s http://${opts.httpAddr}/token \\`,
    '    -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \\',
    '    -d subject_token_type=urn:ietf:params:oauth:token-type:jwt \\',
    '    --data-urlencode subject_token@/tmp/stint-subject.jwt \\',
    '    -d audience=https://api.example.com',
    '',
    'Then, as an operator (admin token in the data folder):',
    '',
    `  ${stint} grants list${dd}`,
    `  ${stint} audit --since 1h${dd}`,
    `  ${stint} revoke GRANT_ID${dd}`,
    '',
    `Discovery: http://${opts.httpAddr}/.well-known/openid-configuration   gRPC: ${opts.grpcAddr}   admin gRPC: ${opts.adminAddr}`,
    '',
  ].join('\n');
}
