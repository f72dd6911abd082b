#!/usr/bin/env node
/**
 * `stint-sidecar`: keeps fresh credentials where unmodified applications read them.
 * Not built yet: the sidecar is tracked by its own issue ("stint-sidecar: keep fresh credentials
 * where unmodified applications read them"). Until then this entry point says so and exits 64.
 */
console.error('stint-sidecar: not available in this version yet; use `stint exchange` for one-shot exchanges');
process.exit(64);
