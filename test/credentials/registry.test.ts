import { describe, expect, it } from 'vitest';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { builtinProviders, createProviderRegistry } from '../../src/credentials/registry.js';
import { StintError } from '../../src/errors.js';
import { FakeClock } from '../support/fake_clock.js';
import { ISSUER } from './drafts.js';

function fakeProvider(kind: string): CredentialProvider {
  return {
    kind,
    maxTtlSeconds: 60,
    requires: 'none',
    reapOnExpiry: false,
    issue: () => Promise.reject(new Error('not used')),
    revoke: () => Promise.resolve({ effective: true }),
  };
}

const keyring = {
  maxTokenTtlSeconds: 3600,
  signer: () => {
    throw new Error('not used');
  },
};

describe('provider registry', () => {
  it('finds providers by kind and lists kinds in registration order', () => {
    const a = fakeProvider('b-kind');
    const b = fakeProvider('a-kind');
    const registry = createProviderRegistry([a, b]);
    expect(registry.get('b-kind')).toBe(a);
    expect(registry.get('a-kind')).toBe(b);
    expect(registry.has('a-kind')).toBe(true);
    expect(registry.has('c-kind')).toBe(false);
    expect(registry.kinds()).toEqual(['b-kind', 'a-kind']);
  });

  it('refuses an unknown kind with ERR_INVALID_REQUEST naming the kind', () => {
    const registry = createProviderRegistry([fakeProvider('stint-jwt')]);
    let error: unknown;
    try {
      registry.get('aws-sts');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StintError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_REQUEST', details: { kind: 'aws-sts' } });
  });

  it('matches kinds byte-exact', () => {
    const registry = createProviderRegistry([fakeProvider('stint-jwt')]);
    expect(() => registry.get('Stint-JWT')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REQUEST' }));
    expect(() => registry.get('stint-jwt ')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REQUEST' }));
  });

  it('refuses two providers of one kind with ERR_CONFIG_INVALID', () => {
    expect(() => createProviderRegistry([fakeProvider('x'), fakeProvider('x')])).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });

  it('does not let callers mutate its kinds', () => {
    const registry = createProviderRegistry([fakeProvider('x')]);
    registry.kinds().push('y');
    expect(registry.kinds()).toEqual(['x']);
  });

  it('registers the built-in stint-jwt provider', () => {
    const registry = createProviderRegistry(builtinProviders({ issuer: ISSUER, keyring, clock: new FakeClock(), maxTtlSeconds: 900 }));
    expect(registry.kinds()).toEqual(['stint-jwt']);
    expect(registry.get('stint-jwt')).toMatchObject({ kind: 'stint-jwt', maxTtlSeconds: 900, requires: 'audience' });
  });
});
