/** The sidecar configuration schema: defaults, and invalid files named by key path. */
import { describe, expect, it } from 'vitest';
import { validateSidecarConfig } from '../../sidecar/config/schema.js';

const minimal = { stint: { url: 'https://stint.example' }, subjectToken: { file: '/var/run/secrets/stint/token' }, credentials: [{ name: 'api', audience: 'https://api.example.com' }] };

describe('sidecar configuration', () => {
  it('fills defaults: 0600 files, 10 % jitter, 1 s..30 s backoff, ops on :8099, no revoke', () => {
    const r = validateSidecarConfig({ ...minimal, credentials: [{ name: 'api', audience: 'a', outputs: [{ type: 'file', path: '/x' }] }] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.renewal).toEqual({ jitter: 0.1, minInterval: 1000, initialBackoff: 1000, maxBackoff: 30_000 });
    expect(r.config.ops.listen).toBe('0.0.0.0:8099');
    expect(r.config.shutdown.revokeGrants).toBe(false);
    expect(r.config.credentials[0]!.outputs[0]).toMatchObject({ type: 'file', format: 'raw', mode: 0o600 });
    expect(r.config.subjectToken.type).toBe('urn:ietf:params:oauth:token-type:jwt');
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['mTLS half configured', { ...minimal, stint: { url: 'https://s', clientCertFile: '/c' } }, 'stint.clientKeyFile', /go together/],
    ['a CA with plain http', { ...minimal, stint: { url: 'http://s', caFile: '/ca' } }, 'stint.url', /need an https URL/],
    ['two outputs on one path', { ...minimal, credentials: [{ name: 'a', outputs: [{ type: 'file', path: '/x' }, { type: 'env-file', path: '/x', variables: { A: 'token' } }] }] }, 'credentials[0].outputs[1].path', /written by another output/],
    ['duplicate names', { ...minimal, credentials: [{ name: 'a' }, { name: 'a' }] }, 'credentials[1].name', /duplicate credential name/],
    ['a bad value source', { ...minimal, credentials: [{ name: 'a', outputs: [{ type: 'env', variables: { A: 'password' } }] }] }, 'credentials[0].outputs[0].variables.A', /expected token, grant_id/],
    ['kubeconfig without a server', { ...minimal, credentials: [{ name: 'a', outputs: [{ type: 'file', path: '/k', format: 'kubeconfig' }] }] }, 'credentials[0].outputs[0].kubeconfig', /needs kubeconfig.server/],
    ['backoff above its cap', { ...minimal, renewal: { initialBackoff: '1m', maxBackoff: '10s' } }, 'renewal.initialBackoff', /above maxBackoff/],
    ['no credentials', { ...minimal, credentials: [] }, 'credentials', /too_small|at least|>=1/i],
    ['both file and env subject token', { ...minimal, subjectToken: { file: '/t', env: 'T' } }, 'subjectToken', /./],
  ];
  for (const [what, raw, path, message] of bad) {
    it(`refuses ${what} at ${path}`, () => {
      const r = validateSidecarConfig(raw);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.path).toBe(path);
      expect(r.message).toMatch(message);
    });
  }
});
