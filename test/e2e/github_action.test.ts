/**
 * Scenario (github-actions-deploy-credential): the action's real entry point runs as the runner
 * would run it, with the runner's environment (INPUT_*, GITHUB_ENV, GITHUB_OUTPUT, GITHUB_STATE,
 * ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN), against a local GitHub OIDC endpoint and the real Stint
 * service; then its post step revokes the grant.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { FakeGithubOidc } from '../support/fake_github_oidc.js';
import { freePort } from '../support/ports.js';
import { ROOT, STINT_BIN } from '../support/programs.js';
import { API_AUDIENCE, AUDIENCE, startE2E, type E2E } from './harness.js';
import { introspectAsResourceServer } from './introspection_client.js';

const run = promisify(execFile);
let env: E2E;
let gh: FakeGithubOidc;
let dir: string;

beforeAll(async () => {
  env = await startE2E({ aws: true, introspection: true });
  gh = await FakeGithubOidc.start(env.github);
  dir = mkdtempSync(join(tmpdir(), 'stint-gha-'));
}, 60_000);

afterAll(async () => {
  await gh?.close();
  await env?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface RunnerResult {
  readonly code: number;
  readonly stdout: string;
  readonly env: string;
  readonly output: string;
  readonly state: string;
}

let runCount = 0;

/** Run `node <script>` the way the Actions runner runs a JavaScript action step. */
async function runAction(script: 'index.js' | 'post.js', inputs: Record<string, string>, extraEnv: Record<string, string> = {}): Promise<RunnerResult> {
  const n = ++runCount;
  const files = { env: join(dir, `env-${n}`), output: join(dir, `output-${n}`), state: join(dir, `state-${n}`) };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const inputEnv = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]));
  const child = spawn(process.execPath, [join(ROOT, 'action', script)], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      GITHUB_ACTIONS: 'true',
      GITHUB_ENV: files.env,
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      RUNNER_TEMP: dir,
      ACTIONS_ID_TOKEN_REQUEST_URL: gh.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: gh.requestToken,
      ...inputEnv,
      ...extraEnv,
    },
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? -1)));
  return { code, stdout, env: readFileSync(files.env, 'utf8'), output: readFileSync(files.output, 'utf8'), state: readFileSync(files.state, 'utf8') };
}

/** Values of `name<<DELIM ... DELIM` entries of a GITHUB_ENV / GITHUB_OUTPUT / GITHUB_STATE file. */
function fileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^\n<]+)<<(ghadelimiter_[\w-]+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) out[m[1]!] = m[3]!;
  return out;
}

const baseInputs = (): Record<string, string> => ({
  'stint-url': env.httpUrl,
  audience: AUDIENCE,
  'credential-kind': 'stint-jwt',
  'credential-audience': API_AUDIENCE,
  'export-env': 'DEPLOY_TOKEN',
  retries: '2',
  'retry-delay-ms': '50',
});

/** Every secret value must first appear in an ::add-mask:: line, and nowhere else in the log. */
function expectMaskedBeforeUse(stdout: string, secret: string): void {
  const lines = stdout.split('\n');
  const first = lines.findIndex((l) => l.includes(secret));
  expect(first).toBeGreaterThanOrEqual(0);
  expect(lines[first]).toBe(`::add-mask::${secret}`);
  for (const l of lines) if (l.includes(secret)) expect(l).toBe(`::add-mask::${secret}`);
}

describe('the GitHub Action', () => {
  it('trades the job OIDC token for AWS credentials through Stint and exports them like configure-aws-credentials', async () => {
    gh.job = { repository: 'acme/deployer', repositoryId: 123456, ownerId: 654321, ref: 'refs/heads/main', environment: 'production' };
    const res = await runAction('index.js', {
      'stint-url': env.httpUrl,
      audience: AUDIENCE,
      'credential-kind': 'aws-sts',
      'role-to-assume': env.awsDeployRole!,
      'aws-region': 'eu-west-1',
      'duration-seconds': '900',
    });
    expect(res.code, res.stdout).toBe(0);
    const exported = fileCommands(res.env);
    expect(exported.AWS_REGION).toBe('eu-west-1');
    expect(exported.AWS_DEFAULT_REGION).toBe('eu-west-1');
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      expect(exported[name]).toBeTruthy();
      expectMaskedBeforeUse(res.stdout, exported[name]!);
    }
    const outputs = fileCommands(res.output);
    expect(outputs['aws-access-key-id']).toBe(exported.AWS_ACCESS_KEY_ID);
    expect(outputs.rule).toBe('deploy-aws-from-main');
    expect(outputs['grant-id']).toMatch(/^[0-9a-f-]{36}$/);
    // The credentials work with a real AWS SDK client against the same STS.
    const client = new STSClient({
      region: 'eu-west-1',
      endpoint: env.sts!.url,
      credentials: { accessKeyId: exported.AWS_ACCESS_KEY_ID!, secretAccessKey: exported.AWS_SECRET_ACCESS_KEY!, sessionToken: exported.AWS_SESSION_TOKEN! },
    });
    const who = await client.send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toContain('github-deploy');
  });


  it('exchanges the job OIDC token for a Stint JWT, masks it first, exports it and its grant, and revokes it in the post step', async () => {
    gh.job = { repository: 'acme/deployer', repositoryId: 123456, ownerId: 654321, ref: 'refs/heads/main', environment: 'production' };
    const res = await runAction('index.js', { ...baseInputs(), 'revoke-on-end': 'true', 'duration-seconds': '600' });
    expect(res.code, res.stdout).toBe(0);
    expect(gh.audiences.at(-1)).toBe(AUDIENCE);
    const outputs = fileCommands(res.output);
    const exported = fileCommands(res.env);
    const token = outputs.token!;
    expect(token).toMatch(/^eyJ/);
    expect(exported.DEPLOY_TOKEN).toBe(token);
    expect(outputs['grant-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(outputs['expires-at']!)).toBeGreaterThan(Date.now());
    expect(outputs.rule).toBe('deploy-from-main');
    expectMaskedBeforeUse(res.stdout, token);
    // The subject token is masked too and never printed.
    const subjectMask = res.stdout.split('\n').find((l) => l.startsWith('::add-mask::') && !l.includes(token));
    expect(subjectMask).toBeDefined();
    expect(fileCommands(res.state)['grant-id']).toBe(outputs['grant-id']);

    const post = await runAction('post.js', baseInputs(), { 'STATE_grant-id': outputs['grant-id']! });
    expect(post.code, post.stdout).toBe(0);
    expect(post.stdout).toContain(`Stint revoked grant ${outputs['grant-id']}`);
    expect((await introspectAsResourceServer(env.httpUrl, token)).body).toEqual({ active: false });
  });

  it('fails a denied repository with Stint code and a hint naming the repository id and ref, never printing the token', async () => {
    gh.job = { repository: 'acme/deployer', repositoryId: 999999, ownerId: 654321, ref: 'refs/heads/feature', environment: 'production' };
    const res = await runAction('index.js', baseInputs());
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/::error::Stint exchange failed: ERR_POLICY_DENIED/);
    expect(res.stdout).toMatch(/repository_id 999999/);
    expect(res.stdout).toMatch(/on ref refs\/heads\/feature/);
    // The issuer explains denials: the hint names the nearest rule and what it pins.
    expect(res.stdout).toMatch(/nearest rule deploy-(aws-)?from-main requires [^\n]*repository_id[^\n]*123456/);
    const unmasked = res.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::'));
    expect(unmasked.join('\n')).not.toMatch(/eyJ[\w-]{10,}/);
    expect(fileCommands(res.env)).toEqual({});
  });

  it('fails a wrong audience with a hint to set the audience input', async () => {
    gh.job = { repository: 'acme/deployer', repositoryId: 123456, ownerId: 654321, ref: 'refs/heads/main', environment: 'production' };
    const res = await runAction('index.js', { ...baseInputs(), audience: 'sts.amazonaws.com' });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/ERR_TOKEN_AUDIENCE_INVALID/);
    expect(res.stdout).toMatch(/set the audience input/);
  });

  it('retries with backoff and fails clearly when Stint is unreachable', async () => {
    const port = await freePort();
    const res = await runAction('index.js', { ...baseInputs(), 'stint-url': `http://127.0.0.1:${port}`, retries: '2', 'retry-delay-ms': '20' });
    expect(res.code).toBe(1);
    expect(res.stdout.match(/retry \d of 2/g)).toHaveLength(2);
    expect(res.stdout).toMatch(/ERR_UNAVAILABLE: Stint at http:\/\/127\.0\.0\.1:\d+\/ unreachable after 3 attempts \(ECONNREFUSED\)/);
  });

  it('fails clearly without id-token: write (no OIDC request variables)', async () => {
    const res = await runAction('index.js', baseInputs(), { ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/id-token: write/);
  });

  it('the committed bundles are built from the current sources', async () => {
    const out = mkdtempSync(join(tmpdir(), 'stint-bundle-'));
    try {
      const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['build:action'] as string).replace(/^rm -rf action && /, '');
      await run('bash', ['-c', script.replace('--outdir=action', `--outdir=${out}`)], { cwd: ROOT, env: { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` } });
      const files = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.js')).sort();
      expect(files(join(ROOT, 'action')), 'action/ is stale: run npm run build:action').toEqual(files(out));
      for (const f of files(out)) expect(readFileSync(join(out, f), 'utf8') === readFileSync(join(ROOT, 'action', f), 'utf8'), `action/${f} is stale: run npm run build:action`).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('stint exchange --github-actions (other CI systems and local use)', () => {
  it('runs the same step from the CLI and writes GITHUB_ENV and GITHUB_OUTPUT', async () => {
    gh.job = { repository: 'acme/deployer', repositoryId: 123456, ownerId: 654321, ref: 'refs/heads/main', environment: 'staging' };
    const files = { env: join(dir, 'cli-env'), output: join(dir, 'cli-output') };
    for (const f of Object.values(files)) writeFileSync(f, '');
    const res = await run(
      process.execPath,
      [STINT_BIN, 'exchange', '--github-actions', '--url', env.httpUrl, '--oidc-audience', AUDIENCE, '--kind', 'stint-jwt', '--audience', API_AUDIENCE, '--export-env', 'API_TOKEN'],
      { env: { PATH: process.env.PATH, GITHUB_ACTIONS: 'true', GITHUB_ENV: files.env, GITHUB_OUTPUT: files.output, ACTIONS_ID_TOKEN_REQUEST_URL: gh.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: gh.requestToken } },
    );
    const token = fileCommands(readFileSync(files.output, 'utf8')).token!;
    expect(fileCommands(readFileSync(files.env, 'utf8')).API_TOKEN).toBe(token);
    expectMaskedBeforeUse(res.stdout, token);
  });
});
