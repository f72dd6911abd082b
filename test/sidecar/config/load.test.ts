/**
 * The configuration check's child process gets the sidecar's environment (the defaults it reads,
 * such as STINT_URL) without NODE_EXTRA_CA_CERTS, which Node.js would read and parse before the
 * check runs although the check opens no connection.
 */
import { describe, expect, it } from 'vitest';
import { checkEnvironment } from '../../../sidecar/config/load.js';

describe('checkEnvironment', () => {
  it('drops NODE_EXTRA_CA_CERTS and keeps every other variable', () => {
    const env = { NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', STINT_URL: 'https://stint.example', STINT_SUBJECT_TOKEN_FILE: '/var/run/token', PATH: '/usr/bin' };
    expect(checkEnvironment(env)).toEqual({ STINT_URL: 'https://stint.example', STINT_SUBJECT_TOKEN_FILE: '/var/run/token', PATH: '/usr/bin' });
    expect(env.NODE_EXTRA_CA_CERTS).toBe('/etc/ssl/certs/ca-certificates.crt');
  });

  it('leaves an environment without it as it is', () => {
    expect(checkEnvironment({ STINT_URL: 'http://127.0.0.1:8080' })).toEqual({ STINT_URL: 'http://127.0.0.1:8080' });
  });
});
