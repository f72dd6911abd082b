/**
 * instrumentStore times every store operation by name and outcome, and hands out one wrapper per
 * method (no closure allocated per call on the hot path); a method replaced on the store is wrapped anew.
 */
import { describe, expect, it } from 'vitest';
import { instrumentStore, StintMetrics } from '../../src/telemetry/metrics.js';

class FakeStoreShape {
  calls = 0;
  async getGrant(id: string): Promise<string> {
    this.calls++;
    if (id === 'bad') throw new Error('boom');
    return `grant ${id}`;
  }
  name(): string {
    return 'sync';
  }
}

describe('instrumentStore', () => {
  it('observes each async call with its operation and outcome, returns its value and rethrows its error', async () => {
    const metrics = new StintMetrics({ defaultMetrics: false });
    const store = instrumentStore(new FakeStoreShape(), metrics);
    expect(await store.getGrant('a')).toBe('grant a');
    await expect(store.getGrant('bad')).rejects.toThrow('boom');
    expect(store.name()).toBe('sync');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/stint_store_operation_duration_seconds_count\{operation="getGrant",outcome="ok"\} 1/);
    expect(text).toMatch(/stint_store_operation_duration_seconds_count\{operation="getGrant",outcome="error"\} 1/);
    expect(store.calls).toBe(2);
  });

  it('returns the same wrapper for every read of a method, and a new one when the method is replaced', () => {
    const metrics = new StintMetrics({ defaultMetrics: false });
    const inner = new FakeStoreShape();
    const store = instrumentStore(inner, metrics);
    const first = store.getGrant;
    expect(store.getGrant).toBe(first);
    inner.getGrant = async () => 'replaced';
    expect(store.getGrant).not.toBe(first);
  });
});
