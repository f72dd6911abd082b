/**
 * `npm run build:sidecar`: the stint-sidecar bundle the slim sidecar image runs, in
 * dist/sidecar-bundle/ (esbuild; no node_modules at run time). The image carries the whole folder:
 * - main.js, the program (sidecar/main.ts), and its chunks: code it imports only when the
 *   configuration asks for it (an output or subject token kind, exec mode) is in its own file,
 *   so a start reads and compiles ~60 KB instead of 1 MB before it spawns the configuration check;
 * - check.js, the configuration check run in a child process at start (config/code_cache_check.ts):
 *   it runs check-lib.cjs (config/validate.ts with yaml and zod) through check.cache, a V8 code
 *   cache written here by running the check on sample configurations with this node binary
 *   (one V8 rejects, such as another Node.js version's, only costs the compile it would save);
 * - package.json (`"type": "module"`).
 * esbuild's metafile of both builds goes beside the folder: dist/sidecar-bundle.meta.json.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const OUT = 'dist/sidecar-bundle';
const common = { bundle: true, platform: 'node', target: 'node20', legalComments: 'none', metafile: true, logLevel: 'warning' };

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const program = await build({
  ...common,
  entryPoints: { main: 'sidecar/main.ts', check: 'sidecar/config/code_cache_check.ts' },
  format: 'esm',
  outdir: OUT,
  splitting: true,
  chunkNames: '[name]-[hash]',
  banner: { js: "import { createRequire as __stintCreateRequire } from 'node:module'; const require = __stintCreateRequire(import.meta.url);" },
});
const check = await build({ ...common, entryPoints: { 'check-lib': 'sidecar/config/validate.ts' }, format: 'cjs', outdir: OUT, outExtension: { '.js': '.cjs' } });
writeFileSync(join(OUT, 'package.json'), '{"type":"module"}\n');
const meta = { inputs: { ...program.metafile.inputs, ...check.metafile.inputs }, outputs: { ...program.metafile.outputs, ...check.metafile.outputs } };
writeFileSync(`${OUT}.meta.json`, JSON.stringify(meta));

// The code cache: the check run on one valid configuration with every output kind and one invalid one.
const samples = mkdtempSync(join(tmpdir(), 'stint-sidecar-build-'));
try {
  const valid = join(samples, 'valid.yaml');
  writeFileSync(
    valid,
    `stint:
  url: https://stint.example:8443
  timeout: 2s
subjectToken:
  file: token.jwt
ops:
  listen: 127.0.0.1:8099
renewal:
  jitter: 0.1
  minInterval: 100ms
  initialBackoff: 200ms
  maxBackoff: 1s
credentials:
  - name: api
    audience: https://api.example.com
    ttl: 10m
    outputs:
      - type: file
        path: api.jwt
      - type: file
        path: api.json
        format: json
      - type: env-file
        path: api.env
        variables:
          TOKEN: token
      - type: aws-container
        listen: 127.0.0.1:9911
        tokenFile: aws.token
        values:
          AccessKeyId: grant_id
          SecretAccessKey: token
          Token: token
      - type: gcp-metadata
        listen: 127.0.0.1:9912
        projectId: build
`,
  );
  const invalid = join(samples, 'invalid.yaml');
  writeFileSync(invalid, 'stint:\n  url: 3\ncredentials: []\n');
  const made = spawnSync(process.execPath, [join(OUT, 'check.js'), '--write-code-cache', valid, invalid], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`the check's code cache was not written: ${made.stderr}`);
  const status = spawnSync(process.execPath, [join(OUT, 'check.js'), '--code-cache-status'], { encoding: 'utf8' }).stdout.trim();
  if (status !== 'accepted') throw new Error(`V8 does not use the check's code cache it just wrote (${status || 'no answer'})`);
} finally {
  rmSync(samples, { recursive: true, force: true });
}
