/**
 * The GitHub Actions step: request the job's OIDC token for Stint's audience, exchange it with
 * Stint (RFC 8693), mask every secret before anything else can print it, and export what the
 * credential kind needs. Shared by the JavaScript action (action.yml) and
 * `stint exchange --github-actions`.
 */
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import * as core from '@actions/core';
import { decodeJwt } from 'jose';
import { postForm, type FormResponse } from '../http/post_form.js';

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
  /** Retries for transient errors (unreachable, 5xx, throttled). */
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

const TRANSIENT_CODES = new Set(['ERR_UNAVAILABLE', 'ERR_ISSUER_UNAVAILABLE', 'ERR_UPSTREAM_UNAVAILABLE', 'ERR_UPSTREAM_BAD_RESPONSE']);

/** Run the step; on failure the step is failed with Stint's code and a hint, never the token. */
export async function runExchangeStep(inputs: StepInputs): Promise<void> {
  const base = parseStintUrl(inputs.stintUrl);
  const ca = inputs.caBundleFile ? readFileSync(inputs.caBundleFile, 'utf8') : undefined;
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

  const form = {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: subjectToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    credential_kind: inputs.kind,
    audience: inputs.credentialAudience,
    resource: inputs.target,
    ttl_seconds: inputs.durationSeconds ? String(inputs.durationSeconds) : undefined,
    run_id: typeof claims.run_id === 'string' ? claims.run_id : undefined,
    reason: typeof claims.workflow_ref === 'string' ? `github-actions ${claims.workflow_ref}` : undefined,
  };
  const res = await withRetries(inputs, () => postForm(new URL('token', base), form, { ca, timeoutMs: inputs.timeoutMs }), base.toString());
  const body = res.json ?? {};
  if (res.status !== 200 || typeof body.access_token !== 'string') {
    const code = typeof body.stint_code === 'string' ? body.stint_code : `HTTP_${res.status}`;
    fail(code, String(body.error_description ?? body.error ?? `unexpected answer (HTTP ${res.status})`), hintFor(code, body, claims, inputs));
  }

  // Mask every secret before anything else is printed or exported.
  const fields = (body.fields ?? {}) as Record<string, string>;
  core.setSecret(body.access_token as string);
  const secretNames = new Set(Array.isArray(body.secret_fields) ? (body.secret_fields as string[]) : Object.keys(fields));
  secretNames.add('access_key_id');
  for (const [name, value] of Object.entries(fields)) if (secretNames.has(name) && value) core.setSecret(value);

  exportCredential(inputs, body.access_token as string, fields);
  core.setOutput('grant-id', String(body.grant_id));
  core.setOutput('expires-at', String(body.expires_at));
  core.setOutput('rule', String(body.rule));
  if (inputs.revokeOnEnd) core.saveState('grant-id', String(body.grant_id));
  core.info(`Stint granted ${inputs.kind}${inputs.target ? ` for ${inputs.target}` : ''} by rule ${String(body.rule)} (grant ${String(body.grant_id)}), expires ${String(body.expires_at)}${body.ttl_capped ? ' (duration capped by policy)' : ''}`);
}

/** The post step: revoke the grant with a fresh OIDC token of the same job. */
export async function runRevokeStep(inputs: Pick<StepInputs, 'stintUrl' | 'audience' | 'caBundleFile' | 'timeoutMs'>, grantId: string): Promise<void> {
  if (!grantId) return;
  const base = parseStintUrl(inputs.stintUrl);
  const ca = inputs.caBundleFile ? readFileSync(inputs.caBundleFile, 'utf8') : undefined;
  const subjectToken = await core.getIDToken(inputs.audience);
  core.setSecret(subjectToken);
  const res = await postForm(new URL('revoke', base), { grant_id: grantId, subject_token: subjectToken, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }, { ca, timeoutMs: inputs.timeoutMs });
  if (res.status === 200) {
    const notes = Array.isArray(res.json?.notes) ? (res.json.notes as string[]) : [];
    core.info(`Stint revoked grant ${grantId}${notes.length ? `: ${notes.join('; ')}` : ''}`);
  } else {
    core.warning(`could not revoke grant ${grantId}: ${String(res.json?.stint_code ?? res.status)}: ${String(res.json?.error_description ?? '')}`);
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

async function withRetries(inputs: StepInputs, call: () => Promise<FormResponse>, url: string): Promise<FormResponse> {
  let lastError = '';
  for (let attempt = 0; attempt <= inputs.retries; attempt++) {
    if (attempt > 0) {
      const delay = inputs.retryDelayMs * 2 ** (attempt - 1);
      core.info(`Stint exchange: transient failure (${lastError}); retry ${attempt} of ${inputs.retries} in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
    try {
      const res = await call();
      const code = typeof res.json?.stint_code === 'string' ? res.json.stint_code : '';
      if (res.status >= 500 || res.status === 429 || TRANSIENT_CODES.has(code)) {
        lastError = code || `HTTP ${res.status}`;
        if (attempt < inputs.retries) continue;
      }
      return res;
    } catch (e) {
      lastError = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
  }
  fail('ERR_UNAVAILABLE', `Stint at ${url} unreachable after ${inputs.retries + 1} attempts (${lastError})`, 'check the stint-url input, the network path from the runner and the ca-bundle input');
}

function hintFor(code: string, body: Record<string, unknown>, claims: Record<string, unknown>, inputs: StepInputs): string {
  const who = `repository ${String(claims.repository ?? '?')} (repository_id ${String(claims.repository_id ?? '?')}, repository_owner_id ${String(claims.repository_owner_id ?? '?')}) on ref ${String(claims.ref ?? '?')}${claims.environment ? `, environment ${String(claims.environment)}` : ''}`;
  const nearest = typeof body.rule === 'string' ? `; nearest rule ${body.rule}` : '';
  const failed = typeof body.failed === 'string' ? ` requires ${body.failed}` : '';
  switch (code) {
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
