/** Every examples/sidecar*.yaml validates against the sidecar schema. */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateFile } from '../../../sidecar/config/check.js';

const dir = resolve(import.meta.dirname, '../../../examples');

describe('sidecar examples', () => {
  for (const file of readdirSync(dir).filter((f) => /^sidecar.*\.yaml$/.test(f))) {
    it(`${file} is a valid configuration`, () => {
      const r = validateFile(join(dir, file));
      expect(r.ok ? 'ok' : `${r.path}: ${r.message}`).toBe('ok');
    });
  }
});
