/**
 * The service's disposal stack (src/service/disposer.ts): parts close newest first, a cleanup that
 * fails neither stops the unwind nor goes unreported, and an unwind happens once.
 */
import { describe, expect, it } from 'vitest';
import { DisposalError, Disposer } from '../../src/service/disposer.js';

describe('Disposer', () => {
  it('closes parts in the reverse of the order they opened', async () => {
    const closed: string[] = [];
    const d = new Disposer();
    for (const part of ['store', 'providers', 'http listener']) d.defer(part, () => void closed.push(part));
    expect(d.parts).toEqual(['store', 'providers', 'http listener']);
    await d.dispose();
    expect(closed).toEqual(['http listener', 'providers', 'store']);
    expect(d.parts).toEqual([]);
  });

  it('waits for each asynchronous cleanup before starting the next', async () => {
    const events: string[] = [];
    const d = new Disposer();
    d.defer('first', async () => {
      events.push('first:start');
      await Promise.resolve();
      events.push('first:end');
    });
    d.defer('second', async () => {
      events.push('second:start');
      await new Promise<void>((r) => setImmediate(r));
      events.push('second:end');
    });
    await d.dispose();
    expect(events).toEqual(['second:start', 'second:end', 'first:start', 'first:end']);
  });

  it('a cleanup that throws or rejects still lets every other part close, and the failures are reported together', async () => {
    const closed: string[] = [];
    const seen: [string, unknown][] = [];
    const d = new Disposer((part, error) => seen.push([part, error]));
    d.defer('store', () => void closed.push('store'));
    d.defer('providers', () => Promise.reject(new Error('pool end failed')));
    d.defer('quarantine refresh', () => void closed.push('quarantine refresh'));
    d.defer('attestors', () => {
      throw new TypeError('timer handle gone');
    });
    d.defer('http listener', () => void closed.push('http listener'));

    const err = await d.dispose().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DisposalError);
    const failure = err as DisposalError;
    expect(failure.code).toBe('ERR_INTERNAL');
    expect(failure.failures.map((f) => f.part)).toEqual(['attestors', 'providers']);
    expect((failure.failures[0]!.error as Error).message).toBe('timer handle gone');
    expect((failure.failures[1]!.error as Error).message).toBe('pool end failed');
    expect(failure.details).toEqual({ parts: ['attestors', 'providers'] });
    expect(failure.message).toContain('attestors (TypeError: timer handle gone)');
    expect(failure.message).toContain('providers (Error: pool end failed)');
    // Every part after the failures still closed, and the observer heard of every part, failures included.
    expect(closed).toEqual(['http listener', 'quarantine refresh', 'store']);
    expect(seen.map(([part, error]) => [part, error === undefined ? 'ok' : 'failed'])).toEqual([
      ['http listener', 'ok'],
      ['attestors', 'failed'],
      ['quarantine refresh', 'ok'],
      ['providers', 'failed'],
      ['store', 'ok'],
    ]);
  });

  it('an unwind runs once: a second dispose returns the same outcome and closes nothing again', async () => {
    let closes = 0;
    const d = new Disposer();
    d.defer('store', () => void closes++);
    const first = d.dispose();
    const second = d.dispose();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    await d.dispose();
    expect(closes).toBe(1);
  });

  it('refuses a part opened after the unwind began (it would never be closed), and a part opened before is closed', async () => {
    const closed: string[] = [];
    const d = new Disposer();
    d.defer('store', () => void closed.push('store'));
    const unwinding = d.dispose();
    expect(() => d.defer('late timer', () => void closed.push('late timer'))).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
    await unwinding;
    expect(closed).toEqual(['store']);
  });

  it('use() registers a resource and hands it back', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const d = new Disposer();
    const timer = d.use('tick timer', setInterval(() => undefined, 60_000), clearInterval);
    expect(timer.hasRef()).toBe(true);
    expect(timers()).toBe(before + 1);
    await d.dispose();
    expect(timers()).toBe(before);
  });

  it('an empty stack unwinds without error', async () => {
    await expect(new Disposer().dispose()).resolves.toBeUndefined();
  });
});
