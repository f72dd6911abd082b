/** The sidecar configuration schema: defaults, and invalid files named by key path. */
import { describe, expect, it } from 'vitest';
import { validateSidecarConfig } from '../../../sidecar/config/schema.js';
import { withEnvironmentDefaults } from '../../../sidecar/config/check.js';

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
    expect((r.config.subjectToken as { type?: string }).type).toBe('urn:ietf:params:oauth:token-type:jwt');
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

describe('defaults from the environment (set by the admission webhook)', () => {
  const env = { STINT_URL: 'https://stint.stint-system.svc:8080', STINT_SUBJECT_TOKEN_FILE: '/var/run/secrets/stint/token', STINT_SIDECAR_OPS_LISTEN: '0.0.0.0:9100' };
  const credentials = [{ name: 'api', audience: 'https://api.example.com', outputs: [{ type: 'file', path: '/var/run/stint/api.jwt' }] }];

  it('fill what the file leaves out, and the result validates', () => {
    const filled = withEnvironmentDefaults({ credentials }, env);
    expect(filled).toEqual({ credentials, stint: { url: env.STINT_URL }, subjectToken: { file: env.STINT_SUBJECT_TOKEN_FILE }, ops: { listen: '0.0.0.0:9100' } });
    const result = validateSidecarConfig(filled);
    expect(result.ok && result.config.stint.url).toBe(env.STINT_URL);
  });

  it('never override what the file says', () => {
    const raw = { stint: { url: 'https://other.example.com', timeout: '5s' }, subjectToken: { env: 'TOKEN' }, ops: { listen: false }, credentials };
    expect(withEnvironmentDefaults(raw, env)).toEqual(raw);
    expect(withEnvironmentDefaults({ stint: { timeout: '5s' }, credentials }, env)).toMatchObject({ stint: { url: env.STINT_URL, timeout: '5s' } });
  });

  it('leave a file without them, or a malformed one, for validation to refuse', () => {
    expect(validateSidecarConfig(withEnvironmentDefaults({ credentials }, {}))).toMatchObject({ ok: false, path: 'stint' });
    expect(withEnvironmentDefaults({ stint: 'nope', credentials }, env)).toEqual({ stint: 'nope', credentials, subjectToken: { file: env.STINT_SUBJECT_TOKEN_FILE }, ops: { listen: '0.0.0.0:9100' } });
    expect(withEnvironmentDefaults([1], env)).toEqual([1]);
  });
});
