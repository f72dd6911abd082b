/** Listen addresses: one grammar and one loopback rule for the service, the webhook and the sidecar. */
import { describe, expect, it } from 'vitest';
import { validateSidecarConfig } from '../../sidecar/config/schema.js';
import { HOST_PORT, isLoopbackHostPort, splitHostPort } from '../../src/net/host_port.js';

describe('host:port', () => {
  it('splits IPv4, names and bracketed IPv6', () => {
    expect(splitHostPort('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(splitHostPort('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(splitHostPort('0.0.0.0:8099')).toEqual({ host: '0.0.0.0', port: 8099 });
    expect(HOST_PORT.test('::1:80')).toBe(false);
    expect(HOST_PORT.test('localhost:80')).toBe(true);
  });

  it('a loopback listener is 127.0.0.0/8, localhost or [::1]; 127.999.0.1 is not an address', () => {
    for (const ok of ['127.0.0.1:80', '127.1.2.3:65535', 'localhost:9000', '[::1]:80']) expect(isLoopbackHostPort(ok), ok).toBe(true);
    for (const bad of ['127.999.0.1:80', '128.0.0.1:80', '0.0.0.0:80', '10.0.0.1:80', 'localhost:123456', '[::2]:80', 'example.com:80']) expect(isLoopbackHostPort(bad), bad).toBe(false);
  });

  it('the sidecar refuses an aws-container listener on 127.999.0.1, then accepts 127.0.0.1', () => {
    const config = (listen: string) => ({
      stint: { url: 'https://stint.example' },
      subjectToken: { file: '/var/run/secrets/stint/token' },
      credentials: [{ name: 'aws', kind: 'aws-sts', target: 'arn:aws:iam::123456789012:role/r', outputs: [{ type: 'aws-container', listen, tokenFile: '/run/stint/aws-token' }] }],
    });
    const bad = validateSidecarConfig(config('127.999.0.1:9911'));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.path).toBe('credentials[0].outputs[0].listen');
    const good = validateSidecarConfig(config('127.0.0.1:9911'));
    expect(good.ok ? 'ok' : `${good.path}: ${good.message}`).toBe('ok');
  });
});
