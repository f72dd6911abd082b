/**
 * The slim sidecar image runs `stint-sidecar` from the esbuild bundle (`npm run build:sidecar`,
 * dist/sidecar-bundle/) with no node_modules: the bundle must build, must not pull in the
 * service's dependencies, and must run on its own (usage, configuration check in its child
 * process, a real exchange against the real `stint` program); its configuration check gives the
 * same answers without its V8 code cache or with one V8 rejects.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, spawnProgram, startStintServe, tempDir, API_AUDIENCE, type StintUnderTest } from './harness.js';
import { baseConfig, writeSidecarConfig } from './config.js';

const BUNDLE = join(ROOT, 'dist/sidecar-bundle');
const BIN = join(BUNDLE, 'main.js');
/** Packages of the service that the sidecar never loads; none may be in the bundle. */
const SERVER_ONLY = [
  '@kubernetes/client-node',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  'better-sqlite3',
  'pg',
  'jose',
  'pino',
  'prom-client',
  'node-vault',
  'google-auth-library',
  '@aws-sdk/client-sts',
  '@aws-sdk/client-ec2',
  '@marcbachmann/cel-js',
  'commander',
  'lru-cache',
];

/** The npm package an esbuild metafile input belongs to (undefined for the repository's own files). */
function packageOf(input: string): string | undefined {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return undefined;
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

let stint: StintUnderTest;
const tmp = tempDir('stint-sidecar-bundle-');

beforeAll(async () => {
  // What `npm run build:sidecar` runs.
  const build = spawnSync(process.execPath, ['sidecar/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
  stint = await startStintServe();
});

afterAll(async () => {
  await stint?.close();
  tmp.cleanup();
});

describe('the stint-sidecar bundle', () => {
  it('is built as the program (with its chunks) and its configuration check (with its code cache), under 3 MB with no service dependency', () => {
    expect(existsSync(BIN)).toBe(true);
    expect(existsSync(join(BUNDLE, 'check.js'))).toBe(true);
    // Every file of the bundle together: the image carries the whole folder.
    const files = readdirSync(BUNDLE, { recursive: true }).map(String).filter((f) => statSync(join(BUNDLE, f)).isFile());
    expect(files).toEqual(expect.arrayContaining(['main.js', 'check.js', 'check-lib.cjs', 'check.cache', 'package.json']));
    expect(files.reduce((n, f) => n + statSync(join(BUNDLE, f)).size, 0)).toBeLessThan(3 * 1024 * 1024);
    const meta = JSON.parse(readFileSync(`${BUNDLE}.meta.json`, 'utf8')) as { inputs: Record<string, unknown> };
    const packages = new Set(Object.keys(meta.inputs).map(packageOf).filter((p): p is string => p !== undefined));
    for (const p of SERVER_ONLY) expect(packages.has(p), `${p} is in the sidecar bundle`).toBe(false);
    expect([...packages]).toEqual(expect.arrayContaining(['zod', 'yaml']));
  });

  it('refuses a bad configuration with exit 78 and ERR_CONFIG_INVALID, then fetches a credential with a good one', async () => {
    const subject = tmp.path('subject.jwt');
    await stint.writeSubjectToken(subject);
    const bad = writeSidecarConfig(tmp.path('bad.yaml'), { stint: { url: stint.url } });
    const refused = spawnSync(process.execPath, [BIN, 'init', '--config', bad], { encoding: 'utf8', cwd: tmp.dir });
    expect(refused.status).toBe(78);
    expect(refused.stdout).toContain('"code":"ERR_CONFIG_INVALID"');

    const out = tmp.path('api.jwt');
    const good = writeSidecarConfig(tmp.path('good.yaml'), baseConfig(stint.url, subject, await freePort(), [{ name: 'api', audience: API_AUDIENCE, ttl: '10m', outputs: [{ type: 'file', path: out }] }]));
    const sidecar = spawnProgram(BIN, ['init', '--config', good], { cwd: tmp.dir });
    expect(await sidecar.exited).toBe(0);
    expect(readFileSync(out, 'utf8').split('.')).toHaveLength(3);
  });

  it('uses its code cache, and checks a configuration alike without it and with a cache V8 rejects', () => {
    const good = writeSidecarConfig(tmp.path('check-good.yaml'), baseConfig(stint.url, tmp.path('subject.jwt'), false, [{ name: 'api', audience: API_AUDIENCE, outputs: [{ type: 'file', path: tmp.path('x.jwt') }] }]));
    const bad = writeSidecarConfig(tmp.path('check-bad.yaml'), { stint: { url: stint.url } });
    const answers = (dir: string): string[] =>
      [bad, good].map((file) => {
        const run = spawnSync(process.execPath, [join(dir, 'check.js'), file], { encoding: 'utf8' });
        expect(run.status, run.stderr).toBe(0);
        return run.stdout;
      });
    const cacheStatus = (dir: string): string => spawnSync(process.execPath, [join(dir, 'check.js'), '--code-cache-status'], { encoding: 'utf8' }).stdout.trim();
    expect(cacheStatus(BUNDLE)).toBe('accepted');
    const shipped = answers(BUNDLE);
    expect(JSON.parse(shipped[0]!)).toMatchObject({ ok: false, path: expect.any(String), message: expect.any(String) });
    expect(JSON.parse(shipped[1]!)).toMatchObject({ ok: true, config: { credentials: [{ name: 'api' }] } });
    const copy = tmp.path('bundle-copy');
    cpSync(BUNDLE, copy, { recursive: true });
    rmSync(join(copy, 'check.cache'));
    expect(cacheStatus(copy)).toBe('missing');
    expect(answers(copy)).toEqual(shipped);
    writeFileSync(join(copy, 'check.cache'), Buffer.alloc(4096, 7));
    expect(cacheStatus(copy)).toBe('rejected');
    expect(answers(copy)).toEqual(shipped);
  });

  it('prints its usage with --help', () => {
    const help = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stderr).toContain('usage: stint-sidecar');
  });
});
