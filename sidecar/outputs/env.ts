/** `type: env`: variables for the child of `stint-sidecar exec`. */
import { requireValue, type HeldCredential } from '../credential.js';
import type { Output } from './output.js';

/** Create an env output (only exec mode reads it). */
export function createEnvOutput(variables: Readonly<Record<string, string>>): Output {
  let current: Record<string, string> = {};
  return {
    type: 'env',
    where: 'child environment',
    async publish(cred: HeldCredential) {
      const next: Record<string, string> = {};
      for (const [name, source] of Object.entries(variables)) next[name] = requireValue(cred, source);
      current = next;
    },
    async withdraw() {
      current = {};
    },
    env: () => current,
  };
}
