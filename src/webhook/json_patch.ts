/** RFC 6902 JSON Patch operations and RFC 6901 JSON Pointers, as much as the injector needs. */

/** One RFC 6902 operation; the injector only adds. */
export interface JsonPatchAdd {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

/** Escape one reference token (RFC 6901 §3): `~` → `~0` first, then `/` → `~1`. */
export function escapeToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A JSON Pointer from reference tokens: `pointer('metadata', 'annotations', 'stint.dev/status')` → `/metadata/annotations/stint.dev~1status`. */
export function pointer(...tokens: readonly (string | number)[]): string {
  return tokens.map((t) => `/${escapeToken(t)}`).join('');
}

/**
 * Ops that append `items` to the array at `path`: one `add` of the whole array when it is absent
 * (appending to a missing array is an error in RFC 6902), else one `add` at `/-` per item.
 */
export function appendAll(path: readonly (string | number)[], existing: readonly unknown[] | null | undefined, items: readonly unknown[]): JsonPatchAdd[] {
  if (items.length === 0) return [];
  if (!existing) return [{ op: 'add', path: pointer(...path), value: [...items] }];
  return items.map((value) => ({ op: 'add', path: pointer(...path, '-'), value }));
}
