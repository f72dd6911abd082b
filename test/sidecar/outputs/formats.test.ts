/** Named file formats of the sidecar, each against what its reader expects. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HeldCredential } from '../../../sidecar/credential.js';
import { render, type FormatOptions } from '../../../sidecar/outputs/formats.js';
import { shellQuote } from '../../../sidecar/outputs/env_file.js';

const base: HeldCredential = { name: 'c', kind: 'stint-jwt', token: 'tok.en.sig', grantId: 'g-1', fields: {}, issuedAt: 0, expiresAt: Date.UTC(2030, 0, 1), renewAfter: Date.UTC(2029, 11, 31) };
const opts: FormatOptions = { profile: 'default' };

describe('file formats', () => {
  it('raw is the token alone, with no newline', () => {
    expect(render('raw', base, opts)).toBe('tok.en.sig');
  });

  it('json carries the token, grant, times and fields', () => {
    expect(JSON.parse(render('json', base, opts))).toEqual({ kind: 'stint-jwt', token: 'tok.en.sig', grant_id: 'g-1', expires_at: '2030-01-01T00:00:00.000Z', renew_after: '2029-12-31T00:00:00.000Z', fields: {} });
  });

  it('aws-profile is a shared-credentials profile from the aws-sts fields', () => {
    const aws = { ...base, kind: 'aws-sts', fields: { access_key_id: 'ASIAEXAMPLE', secret_access_key: 's/k+', session_token: 'FwoG==' } };
    expect(render('aws-profile', aws, { profile: 'app' })).toBe('[app]\naws_access_key_id = ASIAEXAMPLE\naws_secret_access_key = s/k+\naws_session_token = FwoG==\n');
    expect(() => render('aws-profile', base, opts)).toThrow(/has no fields.access_key_id/);
  });

  it('dotenv double-quotes and escapes', () => {
    const odd = { ...base, token: 'a"b\\c$d\ne' };
    expect(render('dotenv', odd, { ...opts, variables: { T: 'token', G: 'grant_id' } })).toBe('T="a\\"b\\\\c\\$d\\ne"\nG="g-1"\n');
    expect(render('dotenv', base, opts)).toBe('STINT_TOKEN="tok.en.sig"\n');
  });

  it('dotenv: a shell sourcing the file gets the value as it is and runs nothing a value carries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-dotenv-'));
    try {
      const marker = join(dir, 'pwned');
      const value = `a\`touch ${marker}\`b$(touch ${marker})c\${HOME}d"e\\f'g`;
      writeFileSync(join(dir, 'x.env'), render('dotenv', { ...base, fields: { password: value } }, { ...opts, variables: { PW: 'fields.password' } }));
      const out = execFileSync('sh', ['-c', `. ${join(dir, 'x.env')} && printf %s "$PW"`], { encoding: 'utf8' });
      expect(out).toBe(value);
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kubeconfig names the server, CA and the token as the user credential', () => {
    const k = JSON.parse(render('kubeconfig', { ...base, fields: { namespace: 'apps' } }, { ...opts, kubeconfig: { server: 'https://k8s.example:6443', caFile: '/ca.pem', name: 'stint' } })) as Record<string, unknown>;
    expect(k).toMatchObject({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stint', cluster: { server: 'https://k8s.example:6443', 'certificate-authority': '/ca.pem' } }],
      users: [{ name: 'stint', user: { token: 'tok.en.sig' } }],
      contexts: [{ name: 'stint', context: { cluster: 'stint', user: 'stint', namespace: 'apps' } }],
      'current-context': 'stint',
    });
  });

  it('postgres-url and pgpass from a postgres credential, escaping what each syntax needs', () => {
    const pg = { ...base, kind: 'postgres', token: 'p@ss:w\\rd', fields: { username: 'stint_u1', password: 'p@ss:w\\rd', host: 'db.internal', port: '5432', database: 'orders' } };
    expect(render('postgres-url', pg, { ...opts, postgres: { sslmode: 'verify-full' } })).toBe('postgresql://stint_u1:p%40ss%3Aw%5Crd@db.internal:5432/orders?sslmode=verify-full\n');
    expect(render('pgpass', pg, opts)).toBe('db.internal:5432:orders:stint_u1:p@ss\\:w\\\\rd\n');
    expect(render('pgpass', pg, { ...opts, postgres: { host: 'override', port: 6432 } })).toBe('override:6432:orders:stint_u1:p@ss\\:w\\\\rd\n');
    expect(() => render('pgpass', base, opts)).toThrow(/has no host/);
  });
});

describe('env-file quoting', () => {
  it('single-quotes for a POSIX shell, including embedded quotes', () => {
    expect(shellQuote(`it's $HOME`)).toBe(`'it'\\''s $HOME'`);
  });
});
