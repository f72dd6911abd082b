#!/usr/bin/env node
/**
 * The `stint` program's entry. V8's heap settings (service/v8_heap.ts) must be in force before the
 * rest of the program is loaded: a static import graph is read and compiled whole before any of
 * it runs, which alone grows V8's young generation to its largest size (11 MiB more resident at
 * idle, measured), so the command line (program.ts) is imported only after them (issue 12).
 */
import '../service/v8_heap.js';

await import('./program.js');
