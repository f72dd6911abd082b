/**
 * Scenario: the real `stint-sidecar` with a gcp-metadata, an aws-container and its operations
 * listener gets the request that used to kill it (`%E0%A4%A` in the service-account segment) and
 * a bounded fuzz of random requests on every listener; the process is still running afterwards
 * and serves the token, the AWS credentials and /readyz.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startSidecar, startStintServe, tempDir, type RunningSidecar, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';
import { rawRequest, requestArb } from '../transport/raw_http.js';

const tmp = tempDir();
let stint: StintUnderTest;
let sidecar: RunningSidecar;
let gcpPort: number;
let awsPort: number;
let opsPort: number;

beforeAll(async () => {
  stint = await startStintServe();
  await stint.writeSubjectToken(tmp.path('subject.jwt'));
  [gcpPort, awsPort, opsPort] = [await freePort(), await freePort(), await freePort()];
  const config = writeSidecarConfig(
    tmp.path('sidecar.yaml'),
    baseConfig(stint.url, tmp.path('subject.jwt'), opsPort, [
      {
        name: 'gcp',
        audience: 'https://gcp.example.com',
        ttl: '10m',
        outputs: [{ type: 'gcp-metadata', listen: `127.0.0.1:${gcpPort}`, projectId: 'stint-test-project', serviceAccountEmail: 'app@stint-test-project.iam.gserviceaccount.com' }],
      },
      {
        name: 'aws',
        audience: 'sts.amazonaws.com',
        ttl: '10m',
        outputs: [{ type: 'aws-container', listen: `127.0.0.1:${awsPort}`, path: '/creds', tokenFile: tmp.path('aws.token'), values: { AccessKeyId: 'grant_id', SecretAccessKey: 'token', Token: 'token' } }],
      },
    ]),
  );
  sidecar = startSidecar(['--config', config]);
  await sidecar.waitFor(/credential issued[\s\S]*credential issued/);
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await stint?.close();
  tmp.cleanup();
});

const alive = (): boolean => sidecar.child.exitCode === null && sidecar.child.signalCode === null;
const tokenRequest = (account: string) => rawRequest(gcpPort, { method: 'GET', path: `/computeMetadata/v1/instance/service-accounts/${account}/token`, headers: [['Metadata-Flavor', 'Google']], body: new Uint8Array() });

describe('the real sidecar survives hostile requests', () => {
  it('GET .../service-accounts/%E0%A4%A/token is 404 and the sidecar goes on serving the token', async () => {
    expect((await tokenRequest('%E0%A4%A')).status).toBe(404);
    expect(alive()).toBe(true);
    const good = await tokenRequest('default');
    expect(good.status).toBe(200);
    expect(JSON.parse(good.body)).toMatchObject({ token_type: 'Bearer' });
  });

  it('a bounded fuzz of every listener leaves the process up, then every listener serves a good request', async () => {
    const targets: [number, readonly string[]][] = [
      [gcpPort, ['/computeMetadata/v1/instance/service-accounts/', '/computeMetadata/v1/', '/']],
      [awsPort, ['/creds', '/']],
      [opsPort, ['/healthz', '/readyz', '/metrics']],
    ];
    for (const [port, prefixes] of targets) {
      await fc.assert(
        fc.asyncProperty(requestArb(prefixes), async (req) => {
          const r = await rawRequest(port, req);
          expect(r.status === null || r.status < 500).toBe(true);
        }),
        { numRuns: 60, seed: 14 },
      );
    }
    expect(alive()).toBe(true);
    expect(sidecar.logs().filter((l) => l.msg === 'request handler failed')).toEqual([]);
    expect((await tokenRequest('default')).status).toBe(200);
    expect((await rawRequest(awsPort, { method: 'GET', path: '/creds', headers: [['Authorization', readFileSync(tmp.path('aws.token'), 'utf8')]], body: new Uint8Array() })).status).toBe(200);
    expect((await rawRequest(opsPort, { method: 'GET', path: '/readyz', headers: [], body: new Uint8Array() })).status).toBe(200);
  });
});
