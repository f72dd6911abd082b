/** The sidecar's heap trimmer: a full collection once the heap has grown past the slack, none before; `gc` stays hidden. */
import { getHeapStatistics } from 'node:v8';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fullCollection, startHeapTrim } from '../../sidecar/heap_trim.js';

// The trimmer runs on setInterval; its ticks are driven here, not waited for.
const advance = (ms: number): void => {
  vi.advanceTimersByTime(ms);
};

describe('startHeapTrim', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('collects each time the heap has grown past the slack since the last collection', () => {
    let heap = 10_000;
    let collections = 0;
    const trims: [number, number][] = [];
    const probe = { used: () => heap, collect: () => ((heap = 10_500), collections++) };
    const stop = startHeapTrim({ interval: 5, slack: 1000 }, (before, after) => trims.push([before, after]), probe);
    try {
      heap = 10_900; // within the slack
      advance(30); // six ticks
      expect(collections).toBe(0);
      heap = 11_200; // past it
      advance(5); // the next tick
      expect(trims).toEqual([[11_200, 10_500]]);
      heap = 11_400; // within the slack of the new baseline (10,500)
      advance(30);
      expect(collections).toBe(1);
      heap = 11_600;
      advance(5);
      expect(collections).toBe(2);
    } finally {
      stop();
    }
  });

  it('stops', () => {
    let collections = 0;
    const stop = startHeapTrim({ interval: 5, slack: 1 }, undefined, { used: () => 1e9 + collections, collect: () => collections++ });
    stop();
    advance(30);
    expect(collections).toBe(0);
  });
});

describe('fullCollection', () => {
  it('frees unreachable memory at once, and gc stays hidden from the program', () => {
    const gc = fullCollection();
    let garbage: string[] | null = [];
    for (let i = 0; i < 32 * 1024; i++) garbage.push('x'.repeat(256) + String(i));
    const held = getHeapStatistics().used_heap_size;
    expect(garbage.length).toBe(32 * 1024);
    garbage = null;
    gc();
    expect(held - getHeapStatistics().used_heap_size).toBeGreaterThan(4 << 20);
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });
});
