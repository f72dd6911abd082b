/**
 * pkijs and asn1js, the PKCS#7 and X.509 parsers of the AWS instance-identity and Azure attested
 * document attestors, loaded at their first use (issue 12: a service with neither configured does
 * not load them and their dependencies at start; several MiB of resident memory). Both are
 * required as CommonJS: one instance each for the whole process.
 */
import { createRequire } from 'node:module';
import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';

const requireHere = createRequire(import.meta.url);
let pkijs: typeof Pkijs | undefined;
let asn1js: typeof Asn1js | undefined;

/** The pkijs package, loaded now if it was not yet. */
export function pkijsLib(): typeof Pkijs {
  return (pkijs ??= requireHere('pkijs') as typeof Pkijs);
}

/** The asn1js package, loaded now if it was not yet. */
export function asn1jsLib(): typeof Asn1js {
  return (asn1js ??= requireHere('asn1js') as typeof Asn1js);
}
