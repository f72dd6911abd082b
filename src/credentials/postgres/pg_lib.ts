/**
 * The `pg` package for the PostgreSQL credential provider, loaded at its first use (issue 12: a
 * service with no PostgreSQL configured does not load node-postgres at start; ~5 MiB of resident
 * memory). node-postgres is CommonJS, so `require` returns the same module instance an `import`
 * elsewhere (the PostgreSQL store) does: its error classes are the same classes.
 */
import { createRequire } from 'node:module';
import type pg from 'pg';

let lib: typeof pg | undefined;

/** The pg package, loaded now if it was not yet. */
export function pgLib(): typeof pg {
  return (lib ??= createRequire(import.meta.url)('pg') as typeof pg);
}

