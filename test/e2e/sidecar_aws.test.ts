/**
 * Scenario: an unmodified AWS SDK v3 application gets its credentials from the sidecar's
 * container-credentials endpoint, with only AWS_CONTAINER_CREDENTIALS_FULL_URI and
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE set: real `aws-sts` credentials (Stint's provider
 * against a local STS that verifies SigV4), picked up again after rotation without a restart; a
 * request without the authorization token is refused.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSts } from '../support/fake_sts.js';
import { API_AUDIENCE, ROOT, eventually, freePort, get, startSidecar, startStintServe, tempDir, type RunningSidecar, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';

const AWS_CLIENT = resolve(ROOT, 'dist/test/sidecar/aws_client.js');

/** Run the SDK application with a clean environment naming only the container endpoint. */
function runAwsApp(env: { uri: string; tokenFile: string }, args: string[], home: string): Promise<Record<string, unknown>[]> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [AWS_CLIENT, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: home, AWS_CONTAINER_CREDENTIALS_FULL_URI: env.uri, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: env.tokenFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`aws app exited ${code}: ${err}`));
      resolveRun(out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
    });
  });
}

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('aws-sts credentials through the container-credentials endpoint', () => {
  let sts: FakeSts;
  let stint: StintUnderTest;
  let sidecar: RunningSidecar;
  let uri: string;
  const tokenFile = tmp.path('aws-auth-token');

  beforeAll(async () => {
    sts = await FakeSts.start({ roles: [{ arn: 'arn:aws:iam::123456789012:role/app' }] });
    stint = await startStintServe({
      extraConfig: `providers:\n  aws: { region: us-east-1, endpoint: "${sts.url}" }\n`,
      extraAllow: `      - kind: aws-sts\n        targets: ["arn:aws:iam::123456789012:role/app"]\n        ttl: { default: 15m, max: 1h }\n`,
    });
    sts.trustIssuer(stint.url);
    await stint.writeSubjectToken(tmp.path('subject.jwt'));
    const port = await freePort();
    uri = `http://127.0.0.1:${port}/v1/credentials`;
    const config = writeSidecarConfig(
      tmp.path('aws.yaml'),
      baseConfig(
        stint.url,
        tmp.path('subject.jwt'),
        await freePort(),
        [
          {
            name: 'aws',
            kind: 'aws-sts',
            target: 'arn:aws:iam::123456789012:role/app',
            ttl: '15m',
            outputs: [
              { type: 'aws-container', listen: `127.0.0.1:${port}`, tokenFile },
              { type: 'file', format: 'aws-profile', path: tmp.path('credentials'), profile: 'app' },
            ],
          },
        ],
        // AWS sessions last at least 15 minutes: renew every 2 s so a rotation happens during the test.
        { renewal: { jitter: 0.1, minInterval: '500ms', maxInterval: '2s', initialBackoff: '200ms', maxBackoff: '1s' } },
      ),
    );
    sidecar = startSidecar(['--config', config]);
    await sidecar.waitFor(/credential issued/);
  }, 60_000);

  afterAll(async () => {
    await sidecar?.stop();
    await stint?.close();
    await sts?.close();
  });

  it('an unmodified STSClient resolves the credentials and STS accepts its SigV4 signature', async () => {
    const [line] = await runAwsApp({ uri, tokenFile }, ['us-east-1', sts.url, '1', '0', 'identity'], tmp.dir);
    expect(line?.error).toBeUndefined();
    expect(line?.accessKeyId).toMatch(/^ASIA/);
    expect(sts.sessions.has(String(line!.accessKeyId))).toBe(true);
    expect(line?.arn).toMatch(/^arn:aws:sts::123456789012:assumed-role\/app\//);
    // The same credentials in the shared-credentials profile file.
    const profile = readFileSync(tmp.path('credentials'), 'utf8');
    expect(profile).toMatch(/^\[app\]\naws_access_key_id = ASIA\w+\naws_secret_access_key = \S+\naws_session_token = \S+\n$/);
  });

  it('the endpoint answers the container-credentials JSON shape with an ISO 8601 Expiration', async () => {
    const res = await get(uri, { authorization: readFileSync(tokenFile, 'utf8') });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Token']);
    expect(body.Expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(body.Expiration!)).toBeGreaterThan(Date.now() + 10 * 60_000);
    expect(sts.sessions.get(body.AccessKeyId!)?.sessionToken).toBe(body.Token);
  });

  it('refuses a request without the authorization token, or with a wrong one, and keeps serving', async () => {
    expect((await get(uri)).status).toBe(401);
    expect((await get(uri, { authorization: 'not-the-token' })).status).toBe(401);
    expect((await get(uri, { authorization: `${readFileSync(tokenFile, 'utf8')}x` })).status).toBe(401);
    expect(sidecar.stdout()).toMatch(/aws-container request refused/);
    expect((await get(uri, { authorization: readFileSync(tokenFile, 'utf8') })).status).toBe(200);
  });

  it('after a rotation, a running client signs with the new credentials on its next refresh', async () => {
    const first = JSON.parse((await get(uri, { authorization: readFileSync(tokenFile, 'utf8') })).text) as Record<string, string>;
    const rotated = await eventually(async () => {
      const now = JSON.parse((await get(uri, { authorization: readFileSync(tokenFile, 'utf8') })).text) as Record<string, string>;
      return now.AccessKeyId !== first.AccessKeyId ? now : null;
    }, 10_000);
    const [line] = await runAwsApp({ uri, tokenFile }, ['us-east-1', sts.url, '1', '0', 'identity'], tmp.dir);
    expect(line?.accessKeyId).not.toBe(first.AccessKeyId);
    expect(line?.arn).toMatch(/assumed-role\/app\//);
    expect(sts.sessions.has(String(rotated.AccessKeyId))).toBe(true);
  });
});

describe('rotation picked up by one running SDK client (short-lived Stint JWT behind the endpoint)', () => {
  // AWS sessions last at least 15 minutes and the SDK refreshes 5 minutes before Expiration, so a
  // running client only asks again within seconds when the credential lives seconds: a 3 s
  // stint-jwt, mapped onto the endpoint's fields (AccessKeyId = grant id), shows that the same
  // client process picks up rotated credentials without a restart.
  let stint: StintUnderTest;
  let sidecar: RunningSidecar;

  beforeAll(async () => {
    stint = await startStintServe();
    await stint.writeSubjectToken(tmp.path('subject2.jwt'));
  }, 60_000);

  afterAll(async () => {
    await sidecar?.stop();
    await stint?.close();
  });

  it('the same STSClient resolves new credentials after each rotation', async () => {
    const port = await freePort();
    const tokenFile = tmp.path('aws-auth-token-2');
    const config = writeSidecarConfig(
      tmp.path('aws2.yaml'),
      baseConfig(stint.url, tmp.path('subject2.jwt'), await freePort(), [
        {
          name: 'short',
          audience: API_AUDIENCE,
          ttl: '3s',
          outputs: [{ type: 'aws-container', listen: `127.0.0.1:${port}`, tokenFile, values: { AccessKeyId: 'grant_id', SecretAccessKey: 'token', Token: 'token' } }],
        },
      ]),
    );
    sidecar = startSidecar(['--config', config]);
    await sidecar.waitFor(/credential issued/);
    const lines = await runAwsApp({ uri: `http://127.0.0.1:${port}/v1/credentials`, tokenFile }, ['us-east-1', '', '8', '700'], tmp.dir);
    expect(lines.every((l) => l.error === undefined)).toBe(true);
    const keys = new Set(lines.map((l) => l.accessKeyId));
    expect(keys.size).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(Date.parse(String(l.expiration))).toBeGreaterThan(Date.now() - 10_000);
  });
});
