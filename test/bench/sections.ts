/**
 * Which sections `npm run bench` runs: all of them, or those named in STINT_BENCH_ONLY
 * (comma-separated: grpc, http, fleet, policy, attest, sidecar), e.g. `STINT_BENCH_ONLY=http npm run bench`
 * for the HTTP table alone. Each section's program asks here first and exits at once when left out.
 */

/** The section names. */
export type BenchSection = 'grpc' | 'http' | 'fleet' | 'policy' | 'attest' | 'sidecar';

/** Whether `section` runs in this `npm run bench`. */
export function benchSelected(section: BenchSection): boolean {
  const only = process.env.STINT_BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  return only.length === 0 || only.includes(section);
}
