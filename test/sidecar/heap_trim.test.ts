/** The sidecar's heap trimmer: a full collection once the heap has grown past the slack, none before; `gc` stays hidden. */
import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { fullCollection, startHeapTrim } from '../../sidecar/heap_trim.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('startHeapTrim', () => {
  it('collects each time the heap has grown past the slack since the last collection', async () => {
    let heap = 10_000;
    let collections = 0;
    const trims: [number, number][] = [];
    const probe = { used: () => heap, collect: () => ((heap = 10_500), collections++) };
    const stop = startHeapTrim({ interval: 5, slack: 1000 }, (before, after) => trims.push([before, after]), probe);
    try {
      heap = 10_900; // within the slack
      await sleep(30);
      expect(collections).toBe(0);
      heap = 11_200; // past it
      for (let i = 0; i < 100 && collections === 0; i++) await sleep(5);
      expect(trims).toEqual([[11_200, 10_500]]);
      heap = 11_400; // within the slack of the new baseline (10,500)
      await sleep(30);
      expect(collections).toBe(1);
      heap = 11_600;
      for (let i = 0; i < 100 && collections === 1; i++) await sleep(5);
      expect(collections).toBe(2);
    } finally {
      stop();
    }
  });

  it('stops', async () => {
    let collections = 0;
    const stop = startHeapTrim({ interval: 5, slack: 1 }, undefined, { used: () => 1e9 + collections, collect: () => collections++ });
    stop();
    await sleep(30);
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
