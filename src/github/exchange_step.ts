/**
 * The GitHub Actions step: request the job's OIDC token for Stint's audience, exchange it with
 * Stint (RFC 8693), mask every secret before anything else can print it, and export what the
 * credential kind needs. Shared by the JavaScript action (action.yml) and
 * `stint exchange --github-actions`.
 */
import { writeFileSync, chmodSync } from 'node:fs';
import * as core from '@actions/core';
import { decodeJwt } from 'jose';
import { JWT_TOKEN_TYPE } from '../client/constants.js';
import { isRetryable } from '../client/retryable.js';
import { StintClient, type TokenAnswer } from '../client/stint_client.js';
import type { SubjectProof } from '../client/subject_token/source.js';
import type { StintError } from '../errors.js';

/** What the step is asked to do (the action's inputs). */
export interface StepInputs {
  /** Stint base URL (https, or http on loopback). */
  readonly stintUrl: string;
  /** Audience of the GitHub OIDC token: Stint's configured audience. */
  readonly audience: string;
  /** Credential kind, e.g. `aws-sts`, `stint-jwt`, `vault`. */
  readonly kind: string;
  /** Target: role ARN, Vault path... */
  readonly target?: string;
  /** Audience of a Stint JWT credential. */
  readonly credentialAudience?: string;
  /** Requested lifetime in seconds. */
  readonly durationSeconds?: number;
  /** PEM CA bundle file for Stint's TLS certificate. */
  readonly caBundleFile?: string;
  /** Retries for transient errors (unreachable, unavailable, throttled: isRetryable). */
  readonly retries: number;
  /** First retry delay in ms; doubles each time. */
  readonly retryDelayMs: number;
  /** AWS region to export with AWS credentials. */
  readonly awsRegion?: string;
  /** Environment variable to export the primary secret as (Stint JWT, Vault secret). */
  readonly exportEnv?: string;
  /** File to write the primary secret to (mode 0600). */
  readonly outputFile?: string;
  /** Ask the post step to revoke the grant when the job ends. */
  readonly revokeOnEnd: boolean;
  readonly timeoutMs: number;
}

/** A failure already reported through core.setFailed. */
export class StepFailed extends Error {}

/** Run the step; on failure the step is failed with Stint's code and a hint, never the token. */
export async function runExchangeStep(inputs: StepInputs): Promise<void> {
  const base = parseStintUrl(inputs.stintUrl);
  const client = await clientOf(inputs, base);
  try {
    let subjectToken: string;
    try {
      subjectToken = await core.getIDToken(inputs.audience);
    } catch (e) {
      fail(
        'ERR_OIDC_TOKEN',
        `could not get the job's OIDC token: ${(e as Error).message}`,
        'give the workflow or job `permissions: id-token: write` (and `contents: read`)',
      );
    }
    core.setSecret(subjectToken);
    const claims = safeClaims(subjectToken);
    const subject: SubjectProof = { type: JWT_TOKEN_TYPE, value: subjectToken };
    const answer = await withRetries(inputs, base.toString(), claims, () =>
      client.exchange(subject, {
        kind: inputs.kind,
        audience: inputs.credentialAudience,
        target: inputs.target,
        ttl: inputs.durationSeconds ? inputs.durationSeconds * 1000 : undefined,
        runId: typeof claims.run_id === 'string' ? claims.run_id : undefined,
        reason: typeof claims.workflow_ref === 'string' ? `github-actions ${claims.workflow_ref}` : undefined,
      }),
    );

    // Mask every secret before anything else is printed or exported.
    core.setSecret(answer.token);
    const secretNames = new Set(answer.secretFields);
    secretNames.add('access_key_id');
    for (const [name, value] of Object.entries(answer.fields)) if (secretNames.has(name) && value) core.setSecret(value);

    exportCredential(inputs, answer.token, answer.fields);
    const expiresAt = new Date(answer.expiresAt).toISOString();
    const rule = String(answer.rule);
    core.setOutput('grant-id', answer.grantId);
    core.setOutput('expires-at', expiresAt);
    core.setOutput('rule', rule);
    if (inputs.revokeOnEnd) core.saveState('grant-id', answer.grantId);
    core.info(`Stint granted ${inputs.kind}${inputs.target ? ` for ${inputs.target}` : ''} by rule ${rule} (grant ${answer.grantId}), expires ${expiresAt}${answer.ttlCapped ? ' (duration capped by policy)' : ''}`);
  } finally {
    client.close();
  }
}

/** The post step: revoke the grant with a fresh OIDC token of the same job. */
export async function runRevokeStep(inputs: Pick<StepInputs, 'stintUrl' | 'audience' | 'caBundleFile' | 'timeoutMs'>, grantId: string): Promise<void> {
  if (!grantId) return;
  const base = parseStintUrl(inputs.stintUrl);
  const client = await clientOf(inputs, base);
  try {
    const subjectToken = await core.getIDToken(inputs.audience);
    core.setSecret(subjectToken);
    const { notes } = await client.revoke({ type: JWT_TOKEN_TYPE, value: subjectToken }, grantId);
    core.info(`Stint revoked grant ${grantId}${notes.length ? `: ${notes.join('; ')}` : ''}`);
  } catch (e) {
    const err = e as StintError;
    if (typeof err.code !== 'string' || !err.code.startsWith('ERR_')) throw e;
    core.warning(`could not revoke grant ${grantId}: ${err.code}: ${err.message}`);
  } finally {
    client.close();
  }
}

/** The Stint client of the step (its CA bundle named as the ca-bundle input in errors). */
async function clientOf(inputs: Pick<StepInputs, 'caBundleFile' | 'timeoutMs'>, base: URL): Promise<StintClient> {
  try {
    return await StintClient.create({ url: base.toString(), timeout: inputs.timeoutMs, ...(inputs.caBundleFile ? { caFile: inputs.caBundleFile } : {}) }, { settingNames: { caFile: 'ca-bundle' } });
  } catch (e) {
    const err = e as StintError;
    fail(err.code ?? 'ERR_CONFIG_INVALID', err.message, 'check the ca-bundle input: a readable PEM file on the runner');
  }
}

function exportCredential(inputs: StepInputs, token: string, fields: Record<string, string>): void {
  if (inputs.kind === 'aws-sts') {
    const keyId = fields.access_key_id;
    const secret = fields.secret_access_key;
    const session = fields.session_token;
    if (!keyId || !secret || !session) fail('ERR_BAD_RESPONSE', 'Stint returned AWS credentials without access key, secret or session token', 'check the Stint version');
    core.exportVariable('AWS_ACCESS_KEY_ID', keyId);
    core.exportVariable('AWS_SECRET_ACCESS_KEY', secret);
    core.exportVariable('AWS_SESSION_TOKEN', session);
    const region = inputs.awsRegion ?? fields.region;
    if (region) {
      core.exportVariable('AWS_REGION', region);
      core.exportVariable('AWS_DEFAULT_REGION', region);
    }
    core.setOutput('aws-access-key-id', keyId);
    if (fields.assumed_role_arn) core.setOutput('aws-assumed-role-arn', fields.assumed_role_arn);
    return;
  }
  core.setOutput('token', token);
  if (Object.keys(fields).length > 0) core.setOutput('fields', JSON.stringify(fields));
  if (inputs.exportEnv) core.exportVariable(inputs.exportEnv, token);
  if (inputs.outputFile) {
    writeFileSync(inputs.outputFile, token, { mode: 0o600 });
    chmodSync(inputs.outputFile, 0o600);
    core.setOutput('file', inputs.outputFile);
  }
}

/**
 * Call Stint, trying again after transient failures (isRetryable: unreachable, unavailable,
 * throttled) with doubling delays; fail the step with Stint's code and a hint otherwise.
 */
async function withRetries(inputs: StepInputs, url: string, claims: Record<string, unknown>, call: () => Promise<TokenAnswer>): Promise<TokenAnswer> {
  let lastError = '';
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) {
      const delay = inputs.retryDelayMs * 2 ** (attempt - 1);
      core.info(`Stint exchange: transient failure (${lastError}); retry ${attempt} of ${inputs.retries} in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
    try {
      return await call();
    } catch (e) {
      const err = e as StintError;
      if (!isRetryable(err)) fail(err.code ?? 'ERR_INTERNAL', err.message, hintFor(err, claims, inputs));
      const network = typeof err.details.networkError === 'string' ? err.details.networkError : err.details.reason === 'timeout' ? 'timeout' : '';
      lastError = network || err.code;
      if (attempt < inputs.retries) continue;
      if (network) fail('ERR_UNAVAILABLE', `Stint at ${url} unreachable after ${inputs.retries + 1} attempts (${lastError})`, 'check the stint-url input, the network path from the runner and the ca-bundle input');
      fail(err.code, err.message, hintFor(err, claims, inputs));
    }
  }
}

/** What to do about a refusal, from Stint's code and its explanation (nearest rule, failed condition, reason). */
function hintFor(err: StintError, claims: Record<string, unknown>, inputs: StepInputs): string {
  const body = err.details ?? {};
  const who = `repository ${String(claims.repository ?? '?')} (repository_id ${String(claims.repository_id ?? '?')}, repository_owner_id ${String(claims.repository_owner_id ?? '?')}) on ref ${String(claims.ref ?? '?')}${claims.environment ? `, environment ${String(claims.environment)}` : ''}`;
  const nearest = typeof body.rule === 'string' ? `; nearest rule ${body.rule}` : '';
  const failed = typeof body.failed === 'string' ? ` requires ${body.failed}` : '';
  switch (err.code) {
    case 'ERR_POLICY_DENIED':
      return `no rule allowed ${who}${nearest}${failed}${body.reason ? ` (reason ${String(body.reason)})` : ''}`;
    case 'ERR_TARGET_DENIED':
      return `the matching rule${nearest ? ` (${String(body.rule)})` : ''} does not allow ${inputs.kind}${inputs.target ? ` for ${inputs.target}` : ''}${inputs.credentialAudience ? ` with audience ${inputs.credentialAudience}` : ''} (reason ${String(body.reason ?? '?')})`;
    case 'ERR_TOKEN_AUDIENCE_INVALID':
      return `the OIDC token was requested for audience "${inputs.audience}", which Stint does not accept: set the audience input to Stint's configured audience`;
    case 'ERR_TOKEN_ISSUER_UNKNOWN':
      return `Stint does not trust this issuer (${String(claims.iss ?? '?')}): add a github-actions attestor for it`;
    case 'ERR_UPSTREAM_DENIED':
      return `the upstream refused (${String(body.reason ?? '?')}): check the role's trust policy for Stint's issuer`;
    default:
      return 'see the Stint audit trail for this request';
  }
}

/** Fail the step with Stint's code and a hint; never with a token. */
function fail(code: string, message: string, hint: string): never {
  core.setFailed(`Stint exchange failed: ${code}: ${message}\nHint: ${hint}`);
  throw new StepFailed(code);
}

function parseStintUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value.endsWith('/') ? value : `${value}/`);
  } catch {
    fail('ERR_INVALID_INPUT', `stint-url ${JSON.stringify(value)} is not a URL`, 'give the base URL of Stint, e.g. https://stint.example.com');
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    fail('ERR_INVALID_INPUT', `stint-url must be https (got ${url.protocol})`, 'credentials must not cross the network in clear text');
  }
  return url;
}

/** Our own token's claims, read only to explain failures (never trusted for anything). */
function safeClaims(token: string): Record<string, unknown> {
  try {
    return decodeJwt(token) as Record<string, unknown>;
  } catch {
    return {};
  }
}
