/**
 * Scenario: the sidecar reaches Stint over TLS with a CA bundle and a client certificate (mTLS),
 * through a TLS-terminating proxy in front of the real service (as an ingress or service mesh
 * would); without the CA or without the client certificate it cannot. On SIGTERM with
 * `shutdown.revokeGrants`, it revokes its grants through POST /revoke, or says plainly that this
 * Stint version cannot. When the PKI is rotated (the proxy moves to a new CA; the sidecar's mounted
 * CA bundle and client certificate are replaced as a projected Secret would), the running sidecar
 * picks up the new files and recovers without a restart.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_AUDIENCE, eventually, freePort, get, metricValue, runSidecar, startSidecar, startStintServe, tempDir, type StintUnderTest } from '../sidecar/harness.js';
import { introspectionConfig, introspectionSecret } from './introspection_client.js';
import { baseConfig, writeSidecarConfig } from '../sidecar/config.js';

const tmp = tempDir();
let stint: StintUnderTest;
let proxy: Server;
let proxyUrl: string;
let clientCertsSeen = 0;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: tmp.dir, stdio: 'ignore' });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all from openssl; file names start with `prefix`. */
function makePki(prefix = ''): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${prefix}ca.key`, '-out', `${prefix}ca.pem`, '-days', '1', '-subj', `/CN=stint-test-${prefix}ca`]);
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    const file = `${prefix}${name}`;
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=stint-sidecar-${name}`]);
    writeFileSync(tmp.path(`${file}.ext`), `${ext}\n`);
    openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', `${prefix}ca.pem`, '-CAkey', `${prefix}ca.key`, '-CAcreateserial', '-out', `${file}.pem`, '-days', '1', '-extfile', `${file}.ext`]);
  }
}

/** The proxy's TLS context from the PKI named by `prefix`. */
function proxyContext(prefix = ''): { key: Buffer; cert: Buffer; ca: Buffer } {
  return { key: readFileSync(tmp.path(`${prefix}server.key`)), cert: readFileSync(tmp.path(`${prefix}server.pem`)), ca: readFileSync(tmp.path(`${prefix}ca.pem`)) };
}

beforeAll(async () => {
  stint = await startStintServe({ extraConfig: introspectionConfig() });
  await stint.writeSubjectToken(tmp.path('subject.jwt'));
  makePki();
  const target = new URL(stint.url);
  proxy = createHttpsServer(
    { ...proxyContext(), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      if ((req.socket as TLSSocket).getPeerCertificate()?.subject?.CN === 'stint-sidecar-client') clientCertsSeen++;
      const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    },
  );
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  proxyUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  proxy?.close();
  await stint?.close();
  tmp.cleanup();
});

function tlsConfig(name: string, stintPart: Record<string, unknown>): string {
  return writeSidecarConfig(
    tmp.path(`${name}.yaml`),
    { ...baseConfig(proxyUrl, tmp.path('subject.jwt'), false, [{ name: 'api', audience: API_AUDIENCE, outputs: [{ type: 'file', path: tmp.path(`${name}.jwt`) }] }], { init: { timeout: '1s' } }), stint: { url: proxyUrl, timeout: '2s', ...stintPart } },
  );
}

describe('TLS and mTLS to Stint', () => {
  it('with the CA bundle and a client certificate: the credential is obtained over mTLS', async () => {
    const res = await runSidecar(['init', '--config', tlsConfig('mtls', { caFile: tmp.path('ca.pem'), clientCertFile: tmp.path('client.pem'), clientKeyFile: tmp.path('client.key') })]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(readFileSync(tmp.path('mtls.jwt'), 'utf8')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(clientCertsSeen).toBeGreaterThan(0);
  });

  it('without the CA bundle the server certificate is not trusted', async () => {
    const res = await runSidecar(['init', '--config', tlsConfig('noca', { clientCertFile: tmp.path('client.pem'), clientKeyFile: tmp.path('client.key') })]);
    expect(res.code).toBe(69);
    expect(res.stderr).toMatch(/cannot reach Stint at https:\/\/127\.0\.0\.1:\d+: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)/);
  });

  it('without a client certificate the proxy refuses the handshake', async () => {
    const res = await runSidecar(['init', '--config', tlsConfig('nocert', { caFile: tmp.path('ca.pem') })]);
    expect(res.code).toBe(69);
    expect(res.stderr).toMatch(/cannot reach Stint at https:/);
  });

  it('an unreadable CA file is a configuration error naming stint.caFile', async () => {
    const res = await runSidecar(['init', '--config', tlsConfig('badca', { caFile: tmp.path('absent.pem') })]);
    expect(res.code).toBe(78);
    expect(res.stderr).toContain(`stint.caFile: cannot read ${tmp.path('absent.pem')}: ENOENT`);
  });
});

describe('shutdown.revokeGrants', () => {
  it('against a Stint without POST /revoke, says so plainly on SIGTERM and exits 0', async () => {
    // An older Stint: everything but /revoke, which it does not route (404 without a stint_code).
    const target = new URL(stint.url);
    const old = createHttpServer((req, res) => {
      if (req.url?.startsWith('/revoke')) {
        req.resume();
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not_found' }));
        return;
      }
      const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(old.address() as AddressInfo).port}`;
      const config = writeSidecarConfig(
        tmp.path('old.yaml'),
        baseConfig(url, tmp.path('subject.jwt'), false, [{ name: 'api', audience: API_AUDIENCE, outputs: [{ type: 'file', path: tmp.path('old.jwt') }] }], { shutdown: { revokeGrants: true } }),
      );
      const sidecar = startSidecar(['--config', config]);
      await sidecar.waitFor(/credential issued/);
      expect(await sidecar.stop()).toBe(0);
      const line = sidecar.logs().find((l) => l.msg === 'grant not revoked');
      expect(line?.error).toBe('revoking grants on shutdown is not supported by this Stint version (no POST /revoke)');
      expect(sidecar.logs().some((l) => l.msg === 'grant revoked')).toBe(false);
    } finally {
      old.close();
    }
  });

  it('on SIGTERM revokes the served grant through POST /revoke and exits 0', async () => {
    const discovery = JSON.parse((await get(`${stint.url}/.well-known/openid-configuration`)).text) as Record<string, unknown>;
    const config = writeSidecarConfig(
      tmp.path('revoke.yaml'),
      baseConfig(stint.url, tmp.path('subject.jwt'), false, [{ name: 'api', audience: API_AUDIENCE, outputs: [{ type: 'file', path: tmp.path('revoke.jwt') }] }], { shutdown: { revokeGrants: true } }),
    );
    const sidecar = startSidecar(['--config', config]);
    await sidecar.waitFor(/credential issued/);
    expect(await sidecar.stop()).toBe(0);
    const logs = sidecar.logs();
    // This Stint has POST /revoke and says so in discovery: the served grant is revoked.
    expect(discovery.revocation_endpoint).toBe(`${stint.url}/revoke`);
    const revoked = logs.find((l) => l.msg === 'grant revoked');
    expect(revoked?.grant_id).toBe(logs.find((l) => l.msg === 'credential issued')?.grant_id);
    // Introspection reports the token inactive from now on.
    const res = await fetch(`${stint.url}/introspect`, { method: 'POST', headers: { authorization: `Bearer ${introspectionSecret()}` }, body: new URLSearchParams({ token: readFileSync(tmp.path('revoke.jwt'), 'utf8') }) });
    expect(((await res.json()) as { active: boolean }).active).toBe(false);
  });
});

describe('PKI rotation', () => {
  it('re-reads a replaced CA bundle and client certificate and recovers without a restart', async () => {
    // The files as a Secret volume holds them.
    const mnt = tmp.path('mnt');
    mkdirSync(mnt);
    for (const f of ['ca.pem', 'client.pem', 'client.key']) copyFileSync(tmp.path(f), `${mnt}/${f}`);
    const ops = await freePort();
    const config = writeSidecarConfig(tmp.path('rotate.yaml'), {
      ...baseConfig(proxyUrl, tmp.path('subject.jwt'), ops, [{ name: 'api', audience: API_AUDIENCE, ttl: '2s', outputs: [{ type: 'file', path: tmp.path('rotate.jwt') }] }], {
        renewal: { jitter: 0, minInterval: '100ms', initialBackoff: '100ms', maxBackoff: '300ms' },
      }),
      stint: { url: proxyUrl, timeout: '2s', caFile: `${mnt}/ca.pem`, clientCertFile: `${mnt}/client.pem`, clientKeyFile: `${mnt}/client.key` },
    });
    const sidecar = startSidecar(['--config', config]);
    const metric = async (name: string): Promise<number> => metricValue((await get(`http://127.0.0.1:${ops}/metrics`)).text, name, { credential: 'api' }) ?? 0;
    const failures = async (): Promise<number> => {
      const text = (await get(`http://127.0.0.1:${ops}/metrics`)).text;
      return [...text.matchAll(/^stint_sidecar_renewal_failures_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    try {
      await sidecar.waitFor(/credential issued/);
      // The server moves to a new CA and drops its connections: the old bundle no longer verifies it.
      makePki('new-');
      proxy.setSecureContext(proxyContext('new-'));
      proxy.closeAllConnections();
      await eventually(async () => ((await failures()) > 0 ? true : null), 10_000);
      // The mounted files are replaced (write + rename, as the kubelet swaps a Secret's files).
      for (const f of ['ca.pem', 'client.pem', 'client.key']) {
        copyFileSync(tmp.path(`new-${f}`), `${mnt}/.${f}.tmp`);
        renameSync(`${mnt}/.${f}.tmp`, `${mnt}/${f}`);
      }
      const before = await metric('stint_sidecar_renewals_total');
      await eventually(async () => ((await metric('stint_sidecar_renewals_total')) > before ? true : null), 10_000);
      expect(await metric('stint_sidecar_credential_ready')).toBe(1);
      expect(sidecar.child.exitCode).toBeNull();
      expect(sidecar.logs().filter((l) => l.msg === 'stint-sidecar running')).toHaveLength(1);
    } finally {
      await sidecar.stop();
      proxy.setSecureContext(proxyContext());
    }
  }, 40_000);
});
