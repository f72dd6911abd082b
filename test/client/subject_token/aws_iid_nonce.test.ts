/**
 * The aws-iid source's client nonce (src/client/subject_token/aws_iid.ts clientNonce): made once,
 * written atomically with mode 0600 in a folder it creates, then read back unchanged; a file that
 * does not hold a nonce is refused with its reason rather than replaced.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clientNonce } from '../../../src/client/subject_token/aws_iid.js';

const dir = mkdtempSync(join(tmpdir(), 'stint-nonce-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('aws-iid client nonce file', () => {
  it('is made once (0600, in a new folder) and read back unchanged', async () => {
    const file = join(dir, 'state', 'aws-iid.nonce');
    const nonce = await clientNonce(file);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(file, 'utf8')).toBe(`${nonce}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await clientNonce(file)).toBe(nonce);
  });

  it('refuses a file that holds no nonce (nonce_file_invalid), and a good file is read', async () => {
    const bad = join(dir, 'bad.nonce');
    writeFileSync(bad, 'not a nonce\n');
    await expect(clientNonce(bad)).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST', details: { reason: 'nonce_file_invalid' } });
    expect(readFileSync(bad, 'utf8')).toBe('not a nonce\n');
    const good = join(dir, 'good.nonce');
    writeFileSync(good, `${'a'.repeat(43)}\n`);
    expect(await clientNonce(good)).toBe('a'.repeat(43));
  });
});
