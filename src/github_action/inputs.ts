/** The action's inputs (action.yml), read through @actions/core. */
import * as core from '@actions/core';
import type { StepInputs } from '../github/exchange_step.js';

function optional(name: string): string | undefined {
  const v = core.getInput(name);
  return v === '' ? undefined : v;
}

function integer(name: string, fallback: number): number {
  const v = optional(name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new Error(`input ${name} must be a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
}

function boolean(name: string, fallback: boolean): boolean {
  const v = optional(name);
  if (v === undefined) return fallback;
  if (!/^(true|false)$/i.test(v)) throw new Error(`input ${name} must be true or false, got ${JSON.stringify(v)}`);
  return v.toLowerCase() === 'true';
}

/** Read and check every input. */
export function readInputs(): StepInputs {
  const stintUrl = core.getInput('stint-url', { required: true });
  return {
    stintUrl,
    audience: optional('audience') ?? 'stint',
    kind: optional('credential-kind') ?? 'aws-sts',
    target: optional('role-to-assume') ?? optional('target'),
    credentialAudience: optional('credential-audience'),
    durationSeconds: optional('duration-seconds') ? integer('duration-seconds', 0) : undefined,
    caBundleFile: optional('ca-bundle'),
    retries: integer('retries', 3),
    retryDelayMs: integer('retry-delay-ms', 1000),
    awsRegion: optional('aws-region'),
    exportEnv: optional('export-env'),
    outputFile: optional('output-file'),
    revokeOnEnd: boolean('revoke-on-end', false),
    timeoutMs: integer('timeout-ms', 10_000),
  };
}
