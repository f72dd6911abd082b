/** The precheck in isolation: order of checks, canonical base64url, header rules. */
import { describe, expect, it } from 'vitest';
import { precheckToken } from '../../../src/attestation/jwt/precheck.js';
import { decodeBase64urlStrict } from '../../../src/attestation/jwt/base64url.js';
import { TokenError } from '../../../src/errors.js';

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const opts = { maxTokenBytes: 16384, algorithms: ['RS256', 'ES256'] };
const rsaSig = Buffer.alloc(256, 7).toString('base64url');
const code = (token: unknown, options = opts): string => {
  try {
    precheckToken(token, options);
  } catch (err) {
    expect(err).toBeInstanceOf(TokenError);
    return (err as TokenError).code;
  }
  return 'OK';
};

describe('precheckToken', () => {
  it('returns the decoded header, payload, alg, kid, issuer and a fingerprint', () => {
    const token = `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ iss: 'https://i.example', sub: 's' })}.${rsaSig}`;
    const result = precheckToken(token, opts);
    expect(result).toMatchObject({ alg: 'RS256', kid: 'k1', issuer: 'https://i.example', payload: { sub: 's' } });
    expect(result.fingerprint).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it('checks the size before anything else', () => {
    expect(code('{'.repeat(20000))).toBe('ERR_TOKEN_TOO_LARGE');
    expect(code('x'.repeat(101), { ...opts, maxTokenBytes: 100 })).toBe('ERR_TOKEN_TOO_LARGE');
  });

  it('refuses non-strings', () => {
    expect(code(undefined)).toBe('ERR_TOKEN_MALFORMED');
    expect(code(42)).toBe('ERR_TOKEN_MALFORMED');
    expect(code(Buffer.from('a.b.c'))).toBe('ERR_TOKEN_MALFORMED');
  });

  it('checks the header before the payload (a forbidden header wins over a broken payload)', () => {
    expect(code(`${b64({ alg: 'RS256', jku: 'https://x' })}.!!!.${b64('s')}`)).toBe('ERR_TOKEN_HEADER_FORBIDDEN');
  });

  it('allows an empty signature only to report alg none first', () => {
    expect(code(`${b64({ alg: 'none' })}.${b64({})}.`)).toBe('ERR_TOKEN_ALG_NOT_ALLOWED');
    expect(code(`${b64({ alg: 'RS256' })}.${b64({})}.`)).toBe('ERR_TOKEN_MALFORMED');
  });

  it('refuses every algorithm outside the per-issuer allowlist, even known asymmetric ones', () => {
    for (const alg of ['RS384', 'PS256', 'ES512', 'EdDSA', 'HS256', 'none', 'RSA-OAEP', 'dir', 'ES256K']) {
      expect(code(`${b64({ alg })}.${b64({})}.${b64('s')}`)).toBe('ERR_TOKEN_ALG_NOT_ALLOWED');
    }
  });

  it('never accepts HS256 even if a caller puts it in the allowlist', () => {
    expect(code(`${b64({ alg: 'HS256' })}.${b64({})}.${b64('s')}`, { ...opts, algorithms: ['HS256'] })).toBe('ERR_TOKEN_ALG_NOT_ALLOWED');
  });

  it('reports a non-string iss as absent', () => {
    const token = `${b64({ alg: 'RS256' })}.${b64({ iss: ['a'] })}.${rsaSig}`;
    expect(precheckToken(token, opts).issuer).toBeUndefined();
  });

  it('refuses a signature whose length the algorithm cannot produce', () => {
    const sig = (n: number): string => Buffer.alloc(n, 1).toString('base64url');
    expect(code(`${b64({ alg: 'ES256' })}.${b64({})}.${sig(64)}`)).toBe('OK');
    expect(code(`${b64({ alg: 'ES256' })}.${b64({})}.${sig(65)}`)).toBe('ERR_TOKEN_MALFORMED');
    expect(code(`${b64({ alg: 'RS256' })}.${b64({})}.${sig(255)}`)).toBe('ERR_TOKEN_MALFORMED');
    expect(code(`${b64({ alg: 'RS256' })}.${b64({})}.${sig(384)}`)).toBe('OK');
  });
});

describe('decodeBase64urlStrict', () => {
  it('accepts canonical unpadded base64url only', () => {
    expect(decodeBase64urlStrict('aGk')?.toString()).toBe('hi');
    expect(decodeBase64urlStrict('')?.length).toBe(0);
    for (const bad of ['aGk=', 'aGl', 'a', 'aG+k', 'aG/k', 'aG k', 'aGk\n']) expect(decodeBase64urlStrict(bad)).toBeNull();
  });
});
