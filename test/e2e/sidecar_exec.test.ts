/**
 * Scenario: `stint-sidecar exec -- CMD ARGS...` runs an application with its credentials in the
 * environment (and the endpoints' variables), restarts it or signals it on rotation as
 * configured, forwards signals to it, and exits with its status.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_AUDIENCE, eventually, freePort, startSidecar, startStintServe, tempDir, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';

const tmp = tempDir();
let stint: StintUnderTest;

/** The application: records its start, its environment (fingerprinted) and the signals it gets. */
const APP = `
const { appendFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const log = process.argv[2];
const fp = (v) => v ? createHash('sha256').update(v).digest('hex').slice(0, 12) : null;
const record = (event, extra = {}) => appendFileSync(log, JSON.stringify({ event, pid: process.pid, ...extra }) + '\\n');
record('start', { token: fp(process.env.API_TOKEN), grant: process.env.API_GRANT_ID, aws: process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI ?? null, awsFile: process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ?? null, inherited: process.env.INHERITED_VAR ?? null });
for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGUSR2']) process.on(sig, () => record(sig));
process.on('SIGTERM', () => { record('SIGTERM'); process.exit(Number(process.argv[3] ?? 0)); });
if (process.argv[4] === 'exit-now') process.exit(Number(process.argv[3]));
if (process.argv[4] === 'kill-self') process.kill(process.pid, 'SIGKILL');
setInterval(() => {}, 1 << 30);
`;

function events(file: string): Record<string, unknown>[] {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

beforeAll(async () => {
  stint = await startStintServe();
  await stint.writeSubjectToken(tmp.path('subject.jwt'));
  writeFileSync(tmp.path('app.cjs'), APP);
}, 60_000);

afterAll(async () => {
  await stint?.close();
  tmp.cleanup();
});

function execConfig(name: string, exec: Record<string, unknown>, ttl = '3s', extraOutputs: Record<string, unknown>[] = []): string {
  return writeSidecarConfig(
    tmp.path(`${name}.yaml`),
    baseConfig(stint.url, tmp.path('subject.jwt'), false, [{ name: 'api', audience: API_AUDIENCE, ttl, outputs: [{ type: 'env', variables: { API_TOKEN: 'token', API_GRANT_ID: 'grant_id' } }, ...extraOutputs] }], { exec }),
  );
}

describe('exec mode', () => {
  it('the child sees the credential and endpoint variables beside its inherited environment, and its exit status passes through', async () => {
    const log = tmp.path('env.log');
    const awsPort = await freePort();
    const config = execConfig('env', { onRotation: 'none' }, '1h', [{ type: 'aws-container', listen: `127.0.0.1:${awsPort}`, tokenFile: tmp.path('aws.token'), values: { AccessKeyId: 'grant_id', SecretAccessKey: 'token', Token: 'token' } }]);
    const sidecar = startSidecar(['exec', '--config', config, '--', process.execPath, tmp.path('app.cjs'), log, '7', 'exit-now'], { env: { INHERITED_VAR: 'kept' } });
    expect(await sidecar.exited).toBe(7);
    const [start] = events(log);
    expect(start?.token).toMatch(/^[0-9a-f]{12}$/);
    expect(start?.grant).toMatch(/^[0-9a-f-]{36}$/);
    expect(start?.aws).toBe(`http://127.0.0.1:${awsPort}/v1/credentials`);
    expect(start?.awsFile).toBe(tmp.path('aws.token'));
    expect(start?.inherited).toBe('kept');
  });

  it('a child killed by a signal gives 128 + its number', async () => {
    const sidecar = startSidecar(['exec', '--config', execConfig('killed', { onRotation: 'none' }, '1h'), '--', process.execPath, tmp.path('app.cjs'), tmp.path('killed.log'), '0', 'kill-self']);
    expect(await sidecar.exited).toBe(137);
  });

  it('a command that does not exist exits 127', async () => {
    const sidecar = startSidecar(['exec', '--config', execConfig('missing', { onRotation: 'none' }, '1h'), '--', tmp.path('no-such-command')]);
    expect(await sidecar.exited).toBe(127);
  });

  it('onRotation restart: the child is restarted with the fresh credential in its environment', async () => {
    const log = tmp.path('restart.log');
    const sidecar = startSidecar(['exec', '--config', execConfig('restart', { onRotation: 'restart', gracePeriod: '2s' }), '--', process.execPath, tmp.path('app.cjs'), log, '0']);
    try {
      await eventually(() => events(log).filter((e) => e.event === 'start').length >= 3, 15_000);
      const starts = events(log).filter((e) => e.event === 'start');
      expect(new Set(starts.map((s) => s.pid)).size).toBe(starts.length);
      expect(new Set(starts.map((s) => s.token)).size).toBe(starts.length);
      // Each replaced child was stopped with SIGTERM first.
      expect(events(log).filter((e) => e.event === 'SIGTERM').length).toBeGreaterThanOrEqual(starts.length - 1);
    } finally {
      sidecar.child.kill('SIGTERM');
    }
    // SIGTERM is forwarded; the child exits 0 on it, so the sidecar does too.
    expect(await sidecar.exited).toBe(0);
  });

  it('onRotation signal: the same child gets the configured signal on each rotation; other signals are forwarded; exit status passes through', async () => {
    const log = tmp.path('signal.log');
    const sidecar = startSidecar(['exec', '--config', execConfig('signal', { onRotation: 'signal', signal: 'SIGUSR2' }), '--', process.execPath, tmp.path('app.cjs'), log, '3']);
    await eventually(() => events(log).filter((e) => e.event === 'SIGUSR2').length >= 2, 15_000);
    sidecar.child.kill('SIGHUP');
    sidecar.child.kill('SIGUSR1');
    await eventually(() => events(log).some((e) => e.event === 'SIGUSR1') && events(log).some((e) => e.event === 'SIGHUP'), 5_000);
    const all = events(log);
    expect(all.filter((e) => e.event === 'start')).toHaveLength(1);
    expect(new Set(all.map((e) => e.pid)).size).toBe(1);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(3);
  });

  it('SIGTERM while the first credential is still being retried: the command never starts, status 143', async () => {
    const log = tmp.path('never.log');
    const config = writeSidecarConfig(
      tmp.path('never.yaml'),
      baseConfig(`http://127.0.0.1:${await freePort()}`, tmp.path('subject.jwt'), false, [{ name: 'api', audience: API_AUDIENCE, outputs: [{ type: 'env', variables: { API_TOKEN: 'token' } }] }], {
        renewal: { jitter: 0, minInterval: '100ms', initialBackoff: '200ms', maxBackoff: '500ms' },
      }),
    );
    const sidecar = startSidecar(['exec', '--config', config, '--', process.execPath, tmp.path('app.cjs'), log, '0']);
    await sidecar.waitFor(/exchange failed/);
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(143);
    expect(events(log)).toEqual([]);
  });
});
