/** How policy compares and describes claim values (reading them is src/identity/claims.ts). */

/**
 * The string a matcher compares: strings as they are, safe integers as their canonical decimal
 * form (`123456`), anything else (booleans, fractions, unsafe integers, null, arrays, objects)
 * has none and never matches a string pattern.
 */
export function comparableString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** A short, printable description of a claim value for explainable denials. */
export function describeValue(value: unknown): string {
  if (value === undefined) return '<missing>';
  if (typeof value === 'string') return truncate(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `<array of ${value.length}>`;
  if (typeof value === 'object') return '<object>';
  return `<${typeof value}>`;
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}
