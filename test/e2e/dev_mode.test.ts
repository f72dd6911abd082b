/**
 * Scenario (dev-mode-recipe-verbatim): `npm start` in a fresh checkout prints a recipe, and the
 * recipe's commands, run verbatim in a shell from that checkout, exchange a dev token, list the
 * grant, read the audit and revoke the grant.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/programs.js';

const exec = promisify(execFile);
let checkout: string;
let server: ChildProcess;
let output = '';

beforeAll(async () => {
  // A checkout-shaped folder: the built program and its files, no state from earlier runs.
  checkout = mkdtempSync(join(tmpdir(), 'stint-fresh-'));
  for (const entry of ['package.json', 'dist', 'node_modules', 'examples', 'proto']) symlinkSync(join(ROOT, entry), join(checkout, entry));
  server = spawn('npm', ['start', '--silent'], { cwd: checkout, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  server.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes('Discovery:')) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`npm start did not print its recipe (is port 8080 free?):\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(() => {
  try {
    if (server?.pid) process.kill(-server.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  if (checkout) rmSync(checkout, { recursive: true, force: true });
});

/** The indented command lines of the recipe, joined across trailing backslashes. */
function recipeCommands(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Stint is running in development mode'));
  const end = lines.findIndex((l) => l.startsWith('Discovery:'));
  const commands: string[] = [];
  let pending = '';
  for (const line of lines.slice(start, end)) {
    if (!line.startsWith('  ')) continue;
    pending += `${line.trim()}\n`;
    if (!line.endsWith('\\')) {
      commands.push(pending.trim());
      pending = '';
    }
  }
  return commands;
}

describe('npm start (dev mode)', () => {
  it('prints a recipe whose commands work verbatim', async () => {
    const commands = recipeCommands(output);
    expect(commands.length).toBeGreaterThanOrEqual(6);
    const run = async (command: string): Promise<string> => (await exec('bash', ['-euo', 'pipefail', '-c', command], { cwd: checkout })).stdout;

    await run(commands[0]!); // dev token > /tmp/stint-subject.jwt
    const jwt = await run(commands[1]!); // stint exchange
    expect(jwt.trim()).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    const curlOut = await run(commands[2]!);
    const curl = JSON.parse(curlOut) as Record<string, unknown>;
    if (!curl.access_token) throw new Error(`curl: ${curlOut}\n${commands[2]}`);
    expect(curl.issued_token_type).toBe('urn:ietf:params:oauth:token-type:jwt');
    expect(curl.rule).toBe('dev-default-namespace');

    const grants = await run(commands[3]!);
    expect(grants).toContain(String(curl.grant_id));
    const audit = await run(commands[4]!);
    expect(audit).toContain('exchange.allowed');
    const revoke = await run(commands[5]!.replace('GRANT_ID', String(curl.grant_id)));
    expect(revoke).toContain(`${String(curl.grant_id)} revoked`);
  });

  it('keeps its secrets in files only the owner can read', () => {
    for (const file of ['.stint/admin.token', '.stint/dev-issuer/private.jwk.json', '.stint/stint.db']) {
      expect((statSync(join(checkout, file)).mode & 0o077).toString(8)).toBe('0');
    }
  });
});
