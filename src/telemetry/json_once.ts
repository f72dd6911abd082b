/**
 * An object's JSON text, computed once: an audit event's data is serialized for the store's row
 * and again for its stdout line; both ask here, so the second is a lookup (issue 12: the claims were
 * serialized twice per exchange). Keyed weakly by the object, so the text lives as long as the
 * event does; callers pass objects they no longer mutate (audit events are built, then written).
 */

const texts = new WeakMap<object, string>();

/** JSON.stringify(`value`), remembered for the same object. */
export function jsonOnce(value: object): string {
  let text = texts.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    texts.set(value, text);
  }
  return text;
}

/** JSON.stringify, through jsonOnce for objects: the `json` argument of the stores' row builders. */
export function jsonOnceOrValue(value: unknown): string {
  return typeof value === 'object' && value !== null ? jsonOnce(value) : JSON.stringify(value);
}
