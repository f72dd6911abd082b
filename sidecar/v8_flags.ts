/**
 * Imported first by main.ts: one sidecar runs in every pod and renews a few credentials every few
 * minutes, so it trades V8's speed for memory.
 * - The optimizing tiers (TurboFan, Maglev) and the baseline compiler (Sparkplug) are off: they buy
 *   speed the sidecar does not need with code and feedback memory it does (~8 MiB less resident
 *   memory over 2,500 renewals).
 * - The young generation does not grow past its initial size (`--semi-space-growth-factor=1`,
 *   read by V8 each time it would grow): under a burst of renewals it otherwise grows to 16 MiB
 *   per semi-space and keeps it.
 * `STINT_SIDECAR_V8_JIT=on` keeps V8's defaults (e.g. to profile).
 */
import { setFlagsFromString } from 'node:v8';

if (process.env.STINT_SIDECAR_V8_JIT !== 'on') {
  for (const flag of ['--no-opt', '--no-maglev', '--no-sparkplug', '--semi-space-growth-factor=1']) {
    try {
      setFlagsFromString(flag);
    } catch {
      // A V8 without this flag: nothing to change.
    }
  }
}
