/** What every provider does with upstream failures: one redaction of upstream text, one notion of a network failure. */
import { describe, expect, it } from 'vitest';
import { isNetworkError } from '../../src/upstream/classify.js';
import { safeUpstreamMessage } from '../../src/upstream/safe_message.js';

describe('safeUpstreamMessage', () => {
  const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  it.each([
    ['a JWT', `token ${jwt} is expired`, 'token [jwt] is expired'],
    ['a Google access token', 'invalid ya29.a0AfH6SMBx-y_z.1 given', 'invalid [token] given'],
    ['a Google refresh token', 'refresh 1//0gAbC-dEf_1 revoked', 'refresh [token] revoked'],
    ['a Vault token', 'token hvs.CAESIJ1x-y_z is not valid', 'token [token] is not valid'],
    ['a bearer credential', 'header Authorization: Bearer abc.def-ghi refused', 'header Authorization: Bearer [token] refused'],
    ["Vault's multi-line errors", '1 error occurred:\n\t* permission denied\n\n', '1 error occurred: * permission denied'],
    ['control characters', 'bad\u0000\u001b[31mvalue\u007f', 'bad [31mvalue'],
  ])('removes %s', (_name, text, expected) => {
    expect(safeUpstreamMessage(text)).toBe(expected);
  });

  it('redacts the known secrets (of four characters or more) before anything else', () => {
    expect(safeUpstreamMessage('password "s3cr3t-pw" for admin:s3cr3t-pw@db', ['s3cr3t-pw', 'pw'])).toBe('password "[redacted]" for admin:[redacted]@db');
  });

  it('bounds the length and says it cut', () => {
    expect(safeUpstreamMessage('y'.repeat(500))).toBe(`${'y'.repeat(240)}…`);
    expect(safeUpstreamMessage('y'.repeat(240))).toBe('y'.repeat(240));
    expect(safeUpstreamMessage('z'.repeat(50), [], 10)).toBe(`${'z'.repeat(10)}…`);
  });

  it('gives an empty string for no text', () => {
    expect(safeUpstreamMessage(undefined)).toBe('');
    expect(safeUpstreamMessage({ message: 'x' })).toBe('');
  });
});

describe('isNetworkError', () => {
  it.each(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ERR_NETWORK', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_SOCKET_CLOSED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'CERT_HAS_EXPIRED', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'HOSTNAME_MISMATCH'])('%s is a network failure', (code) => {
    expect(isNetworkError(Object.assign(new Error('x'), { code }))).toBe(true);
  });

  it('knows aborts and timeouts by name, and nothing else', () => {
    expect(isNetworkError(Object.assign(new Error('x'), { name: 'AbortError' }))).toBe(true);
    expect(isNetworkError(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toBe(true);
    for (const err of [new Error('boom'), Object.assign(new Error('x'), { code: 'EACCES' }), Object.assign(new Error('x'), { code: '23505' }), null, undefined, 'ECONNREFUSED']) {
      expect(isNetworkError(err)).toBe(false);
    }
  });
});
