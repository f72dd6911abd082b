/** RFC 6901 pointers and RFC 6902 appends, checked against a real JSON Patch implementation. */
import { describe, expect, it } from 'vitest';
import { appendAll, escapeToken, pointer } from '../../src/webhook/json_patch.js';
import { applyPatch } from './helpers.js';

describe('RFC 6901 escaping', () => {
  it('escapes ~ before / so neither is read back as the other', () => {
    expect(escapeToken('stint.dev/status')).toBe('stint.dev~1status');
    expect(escapeToken('a~b')).toBe('a~0b');
    expect(escapeToken('~1')).toBe('~01');
    expect(escapeToken('/~')).toBe('~1~0');
    expect(pointer('spec', 'containers', 0, 'env')).toBe('/spec/containers/0/env');
  });

  it('a real implementation resolves the escaped pointer to the exact key', () => {
    const doc = { metadata: { annotations: { 'x/y': 'keep', 'x~y': 'keep' } } };
    const key = 'x~1y/z~';
    const out = applyPatch(doc, [{ op: 'add', path: pointer('metadata', 'annotations', key), value: 'new' }]);
    expect(out).toEqual({ metadata: { annotations: { 'x/y': 'keep', 'x~y': 'keep', 'x~1y/z~': 'new' } } });
  });
});

describe('appending to arrays', () => {
  it('adds the whole array when it is absent or null', () => {
    expect(appendAll(['spec', 'volumes'], undefined, [1, 2])).toEqual([{ op: 'add', path: '/spec/volumes', value: [1, 2] }]);
    expect(applyPatch({ spec: { volumes: null } }, appendAll(['spec', 'volumes'], null, [1]))).toEqual({ spec: { volumes: [1] } });
  });

  it('appends item by item when it exists, and a real implementation keeps the order', () => {
    const ops = appendAll(['a'], [0], [1, 2]);
    expect(ops.map((o) => o.path)).toEqual(['/a/-', '/a/-']);
    expect(applyPatch({ a: [0] }, ops)).toEqual({ a: [0, 1, 2] });
  });

  it('appending to a missing array is what a real implementation refuses (why the whole array is added)', () => {
    expect(() => applyPatch({ spec: {} }, [{ op: 'add', path: '/spec/volumes/-', value: 1 }])).toThrow(/OPERATION_PATH_CANNOT_ADD|Cannot perform/);
  });

  it('nothing to add, no op', () => {
    expect(appendAll(['a'], undefined, [])).toEqual([]);
  });
});
