/**
 * Scenario: unmodified google-auth-library code (Application Default Credentials) with only
 * GCE_METADATA_HOST pointing at the sidecar detects the metadata server, reads the project id and
 * obtains access tokens from the sidecar, picking up rotated ones; the endpoint refuses requests
 * without `Metadata-Flavor: Google` like the real one.
 *
 * The credential behind the endpoint is a short-lived Stint JWT (the endpoint serves whatever
 * token the credential carries; with the gcp-access-token provider it is a Google access token).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, freePort, get, startSidecar, startStintServe, tempDir, type RunningSidecar, type StintUnderTest } from '../sidecar/harness.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';
import { runJsonLinesProgram } from '../support/stint_under_test.js';
import { eventually } from '../support/eventually.js';

const GCP_CLIENT = resolve(ROOT, 'dist/test/sidecar/gcp_client.js');
const tmp = tempDir();
let stint: StintUnderTest;
let sidecar: RunningSidecar;
let host: string;

function runGcpApp(args: string[]): Promise<Record<string, unknown>[]> {
  return runJsonLinesProgram(GCP_CLIENT, args, { HOME: tmp.dir, GCE_METADATA_HOST: host });
}

beforeAll(async () => {
  stint = await startStintServe();
  await stint.writeSubjectToken(tmp.path('subject.jwt'));
  host = `127.0.0.1:${await freePort()}`;
  const config = writeSidecarConfig(
    tmp.path('gcp.yaml'),
    baseConfig(stint.url, tmp.path('subject.jwt'), await freePort(), [
      {
        name: 'gcp',
        audience: 'https://gcp.example.com',
        ttl: '3s',
        outputs: [
          { type: 'gcp-metadata', listen: host, projectId: 'stint-test-project', numericProjectId: '123456789', serviceAccountEmail: 'app@stint-test-project.iam.gserviceaccount.com' },
          { type: 'file', path: tmp.path('gcp.token') },
        ],
      },
    ]),
  );
  sidecar = startSidecar(['--config', config]);
  await sidecar.waitFor(/credential issued/);
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await stint?.close();
  tmp.cleanup();
});

const sha = (v: string): string => createHash('sha256').update(v).digest('hex').slice(0, 16);

describe('GCE metadata server on loopback', () => {
  it('google-auth-library detects it, reads the project id, gets access tokens and picks up rotated ones', async () => {
    const lines = await runGcpApp(['6', '700']);
    expect(lines[0]).toEqual({ projectId: 'stint-test-project', client: 'Compute' });
    const tokens = lines.slice(1).map((l) => l.token);
    expect(tokens).toHaveLength(6);
    expect(tokens.every((t) => typeof t === 'string')).toBe(true);
    expect(new Set(tokens).size).toBeGreaterThanOrEqual(2);
    // The tokens are the sidecar's credentials (the file output holds the same current token).
    const { readFileSync } = await import('node:fs');
    // The credential rotates every two seconds: a slow runner may see two rotations while the app starts,
    // so the check is repeated until one run falls between two reads of the file (never a sleep).
    const matched = await eventually(async () => {
      const before = sha(readFileSync(tmp.path('gcp.token'), 'utf8'));
      const again = await runGcpApp(['1', '0']);
      const after = sha(readFileSync(tmp.path('gcp.token'), 'utf8'));
      return [before, after].includes(again[1]!.token as string) ? again[1]!.token : null;
    }, 30_000, 0);
    expect(typeof matched).toBe('string');
  }, 60_000);

  it('serves the token JSON with expires_in and the Metadata-Flavor header', async () => {
    const res = await get(`http://${host}/computeMetadata/v1/instance/service-accounts/default/token?scopes=x`, { 'metadata-flavor': 'Google' });
    expect(res.status).toBe(200);
    expect(res.headers.get('metadata-flavor')).toBe('Google');
    const body = JSON.parse(res.text) as Record<string, unknown>;
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBeGreaterThanOrEqual(0);
    expect(body.expires_in).toBeLessThanOrEqual(3);
    const email = await get(`http://${host}/computeMetadata/v1/instance/service-accounts/default/email`, { 'metadata-flavor': 'Google' });
    expect(email.text).toBe('app@stint-test-project.iam.gserviceaccount.com');
    const byEmail = await get(`http://${host}/computeMetadata/v1/instance/service-accounts/app@stint-test-project.iam.gserviceaccount.com/token`, { 'metadata-flavor': 'Google' });
    expect(byEmail.status).toBe(200);
    expect((await get(`http://${host}/computeMetadata/v1/project/numeric-project-id`, { 'metadata-flavor': 'Google' })).text).toBe('123456789');
    expect((await get(`http://${host}/computeMetadata/v1/universe/universe-domain`, { 'metadata-flavor': 'Google' })).text).toBe('googleapis.com');
  });

  it('refuses requests without Metadata-Flavor: Google or with X-Forwarded-For, and unknown accounts', async () => {
    const path = `http://${host}/computeMetadata/v1/instance/service-accounts/default/token`;
    expect((await get(path)).status).toBe(403);
    expect((await get(path, { 'metadata-flavor': 'google' })).status).toBe(403);
    expect((await get(path, { 'metadata-flavor': 'Google', 'x-forwarded-for': '10.0.0.1' })).status).toBe(403);
    expect((await get(`http://${host}/computeMetadata/v1/instance/service-accounts/other@x.iam.gserviceaccount.com/token`, { 'metadata-flavor': 'Google' })).status).toBe(404);
    expect((await get(path, { 'metadata-flavor': 'Google' })).status).toBe(200);
  });

});
