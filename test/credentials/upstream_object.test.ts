/**
 * The shared part of the upstream-object providers (src/credentials/upstream_object.ts): revoke
 * and reap both remove the object with their cause, and an orphan sweep removes what it should,
 * reports a failed removal in the one short form and goes on, and stops when the store cannot
 * say whether a grant is live.
 */
import { describe, expect, it } from 'vitest';
import { StintError, UpstreamError } from '../../src/errors.js';
import type { GrantRef } from '../../src/credentials/provider.js';
import { failureOf, sweepOrphans, upstreamObjectProvider, type RemovalCause } from '../../src/credentials/upstream_object.js';

const ref = (id: string): GrantRef => ({ id, kind: 'thing', identity: 'spiffe://t/x', target: 't', audience: null, expiresAt: 1, revocationHandle: `h/${id}` });

describe('upstreamObjectProvider', () => {
  it('needs a target, acts at expiry, and removes the object on revoke and on reap with the cause', async () => {
    const calls: [string, RemovalCause][] = [];
    const provider = upstreamObjectProvider({
      kind: 'thing',
      maxTtlSeconds: 60,
      issue: () => Promise.reject(new Error('not used')),
      remove: async (grant, cause) => {
        calls.push([grant.id, cause]);
        return { effective: true };
      },
    });
    expect(provider).toMatchObject({ kind: 'thing', maxTtlSeconds: 60, requires: 'target', reapOnExpiry: true });
    expect(provider).not.toHaveProperty('remove');
    await provider.revoke(ref('a'));
    await provider.reap!(ref('b'));
    expect(calls).toEqual([
      ['a', 'revoke'],
      ['b', 'reap'],
    ]);
  });
});

describe('sweepOrphans', () => {
  it('removes orphans only, reports a failed removal and a kept one plainly, and goes on', async () => {
    const report = await sweepOrphans(['live', 'orphan-1', 'broken', 'young-after-all', 'orphan-2'], {
      handle: (c) => `x/${c}`,
      isOrphan: async (c) => c !== 'live',
      remove: async (c) => {
        if (c === 'broken') throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'thing', 'ServiceUnavailable', 'down');
        return c !== 'young-after-all';
      },
    });
    expect(report).toEqual({ removed: ['x/orphan-1', 'x/orphan-2'], failed: ['x/broken: ERR_UPSTREAM_UNAVAILABLE (ServiceUnavailable)'] });
  });

  it('ends the pass when liveness cannot be read (the store is down): nothing is removed on a guess', async () => {
    const removed: string[] = [];
    const sweep = sweepOrphans(['a', 'b'], {
      handle: (c) => c,
      isOrphan: async () => {
        throw new StintError('ERR_UNAVAILABLE', 'store unavailable');
      },
      remove: async (c) => {
        removed.push(c);
        return true;
      },
    });
    await expect(sweep).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });
    expect(removed).toEqual([]);
  });
});

describe('failureOf', () => {
  it('gives the stable code, with the upstream code when there is one, and never a message', () => {
    expect(failureOf(new UpstreamError('ERR_UPSTREAM_DENIED', 'thing', 'Forbidden', 'secret detail'))).toBe('ERR_UPSTREAM_DENIED (Forbidden)');
    expect(failureOf(new StintError('ERR_UNAVAILABLE', 'secret detail'))).toBe('ERR_UNAVAILABLE');
    expect(failureOf(new Error('secret detail'))).toBe('ERR_INTERNAL');
  });
});
