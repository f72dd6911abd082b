/** Discovery and JWKS URLs: https, or http on loopback only. */
import { describe, expect, it } from 'vitest';
import { endpointUrlProblem } from '../../src/net/endpoint_url.js';
import { isLoopbackHost } from '../../src/net/is_loopback.js';

describe('endpointUrlProblem', () => {
  it.each(['https://issuer.example', 'https://issuer.example:8443/path', 'http://localhost', 'http://127.0.0.1:8080/x', 'http://127.255.0.1', 'http://[::1]:9000'])('accepts %s', (url) => {
    expect(endpointUrlProblem(url)).toBeNull();
  });

  it.each([
    'http://issuer.example',
    'http://localhost.issuer.example',
    'http://127.0.0.1.nip.io',
    'http://0.0.0.0',
    'http://[::ffff:127.0.0.1]',
    'http://10.1.2.3',
    'file:///etc/passwd',
    'ftp://issuer.example',
    'https://u:p@issuer.example',
    'https://issuer.example/#frag',
    'not a url',
  ])('refuses %s', (url) => {
    expect(endpointUrlProblem(url)).not.toBeNull();
  });
});

describe('isLoopbackHost', () => {
  it('knows 127.0.0.0/8, ::1 and localhost only', () => {
    expect(['localhost', '127.0.0.1', '127.1.2.3', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['128.0.0.1', '0.0.0.0', 'localhost.', 'example.com', '[::]'].some(isLoopbackHost)).toBe(false);
  });
});
