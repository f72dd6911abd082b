/**
 * Waiting for a condition instead of sleeping: tests poll what they expect to become true (a file
 * written, a log line, a metric) until it holds or a deadline passes, so a slow runner only makes
 * them slower, never wrong.
 */

/** Poll until `fn` returns a truthy value (a throw counts as not yet); that value. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
