/** `stint exchange`: trade a subject token for a credential over RFC 8693 (HTTP), with Stint's one client (src/client/). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { JWT_TOKEN_TYPE } from '../../client/constants.js';
import { StintClient } from '../../client/stint_client.js';
import { StintError } from '../../errors.js';

/** Options of `stint exchange`. */
interface ExchangeOptions {
  url: string;
  subjectTokenFile?: string;
  subjectTokenEnv?: string;
  subjectTokenType: string;
  kind: string;
  audience?: string;
  target?: string;
  ttl?: string;
  scope?: string;
  reason?: string;
  output: 'token' | 'json';
  timeout: string;
  githubActions?: boolean;
  oidcAudience: string;
  exportEnv?: string;
  outputFile?: string;
  awsRegion?: string;
  caBundle?: string;
  retries: string;
  subjectTokenSource?: string;
  nonceFile?: string;
  imdsEndpoint?: string;
  awsServerId?: string;
  stsEndpoint?: string;
  sourceAudience?: string;
  metadataHost?: string;
  azureClientId?: string;
}

/** The VM proof sources `stint exchange` can read from this machine's metadata service (as stint-sidecar does). */
const VM_SOURCES = ['aws-iid', 'aws-iam', 'gcp-instance', 'azure-msi', 'azure-imds'] as const;

/** Obtain a proof from this machine's metadata service with the sidecar's own source modules. */
async function proofFromMachine(opts: ExchangeOptions, client: StintClient): Promise<{ type: string; value: string }> {
  const { subjectTokenSourceSchema } = await import('../../client/subject_token/schema.js');
  const raw: Record<string, unknown> = { source: opts.subjectTokenSource };
  const set = (key: string, value: string | undefined): void => {
    if (value !== undefined) raw[key] = value;
  };
  set('imdsEndpoint', opts.imdsEndpoint);
  if (opts.subjectTokenSource === 'aws-iid') set('nonceFile', opts.nonceFile);
  if (opts.subjectTokenSource === 'aws-iam') {
    set('serverId', opts.awsServerId);
    set('region', opts.awsRegion);
    set('stsEndpoint', opts.stsEndpoint);
  }
  if (opts.subjectTokenSource === 'gcp-instance') {
    set('audience', opts.sourceAudience);
    set('metadataHost', opts.metadataHost);
  }
  if (opts.subjectTokenSource === 'azure-msi') {
    set('resource', opts.sourceAudience);
    set('clientId', opts.azureClientId);
  }
  const parsed = subjectTokenSourceSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new StintError('ERR_INVALID_REQUEST', `--subject-token-source ${String(opts.subjectTokenSource)}: ${issue.path.join('.') || '(source)'}: ${issue.message}`, { reason: 'source_invalid' });
  }
  const { createSubjectTokenSource } = await import('../../client/subject_token/index.js');
  const source = await createSubjectTokenSource(parsed.data, {
    now: () => Date.now(),
    nonce: (kind) => client.nonce(kind),
  });
  return source.read();
}

/** `--ttl` in milliseconds: whole seconds, at least 1; anything else is ERR_INVALID_REQUEST. */
function ttlOf(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^[1-9][0-9]*$/.test(text.trim())) throw new StintError('ERR_INVALID_REQUEST', `--ttl ${JSON.stringify(text)}: a whole number of seconds (at least 1)`, { reason: 'ttl_invalid', field: 'ttl' });
  return Number(text.trim()) * 1000;
}

/** Register `exchange`. */
export function registerExchange(program: Command): void {
  program
    .command('exchange')
    .description('exchange a subject token for a credential (prints the token, or JSON with --output json)')
    .option('--url <url>', 'Stint base URL', process.env.STINT_URL ?? 'http://127.0.0.1:8080')
    .option('--subject-token-file <file>', 'file holding the subject token (re-read on every call)')
    .option('--subject-token-env <var>', 'environment variable holding the subject token')
    .option('--subject-token-type <uri>', 'RFC 8693 subject token type', JWT_TOKEN_TYPE)
    .option('--subject-token-source <source>', `obtain the proof from this machine's metadata service: ${VM_SOURCES.join(', ')}`)
    .option('--nonce-file <file>', 'aws-iid: where the client nonce of this instance is kept (0600)')
    .option('--imds-endpoint <url>', 'aws-iid, azure-*: the instance metadata service (default http://169.254.169.254)')
    .option('--aws-server-id <id>', 'aws-iam: the server id Stint expects in X-Stint-Server-ID')
    .option('--sts-endpoint <url>', 'aws-iam: the STS endpoint to sign for (default the regional one)')
    .option('--source-audience <aud>', 'gcp-instance: audience of the identity token; azure-msi: resource (Stint\'s application id URI)')
    .option('--metadata-host <host:port>', 'gcp-instance: the metadata server (default $GCE_METADATA_HOST or metadata.google.internal)')
    .option('--azure-client-id <id>', 'azure-msi: a user-assigned identity\'s client id')
    .option('--kind <kind>', 'credential kind', 'stint-jwt')
    .option('--audience <aud>', 'audience of the credential')
    .option('--target <target>', 'target (role ARN, path...)')
    .option('--ttl <seconds>', 'requested lifetime in seconds')
    .option('--scope <scopes>', 'space-separated scopes')
    .option('--reason <text>', 'reason, for the audit trail')
    .option('--output <format>', 'token | json', 'token')
    .option('--timeout <ms>', 'request timeout in milliseconds', '10000')
    .option('--github-actions', 'GitHub Actions mode: get the job OIDC token, mask, export to GITHUB_ENV/GITHUB_OUTPUT (like the action)')
    .option('--oidc-audience <aud>', 'with --github-actions: audience of the job OIDC token (Stint\'s audience)', 'stint')
    .option('--export-env <name>', 'with --github-actions: also export the secret as this variable')
    .option('--output-file <file>', 'with --github-actions: also write the secret to this file (0600)')
    .option('--aws-region <region>', 'with --github-actions and aws-sts: region to export; with --subject-token-source aws-iam: region to sign for')
    .option('--ca-bundle <file>', 'PEM CA bundle for Stint\'s certificate (https URLs)')
    .option('--retries <n>', 'with --github-actions: retries for transient errors', '3')
    .action(async (opts: ExchangeOptions) => {
      if (opts.githubActions) {
        const { runExchangeStep, StepFailed } = await import('../../github/exchange_step.js');
        try {
          await runExchangeStep({
            stintUrl: opts.url,
            audience: opts.oidcAudience,
            kind: opts.kind,
            target: opts.target,
            credentialAudience: opts.audience,
            durationSeconds: opts.ttl ? Number(opts.ttl) : undefined,
            caBundleFile: opts.caBundle,
            retries: Number(opts.retries),
            retryDelayMs: 1000,
            awsRegion: opts.awsRegion,
            exportEnv: opts.exportEnv,
            outputFile: opts.outputFile,
            revokeOnEnd: false,
            timeoutMs: Number(opts.timeout),
          });
        } catch (e) {
          if (e instanceof StepFailed) process.exit(1);
          throw e;
        }
        return;
      }
      const ttl = ttlOf(opts.ttl);
      // The same client as stint-sidecar and the GitHub Action: TLS with --ca-bundle, one deadline, bounded answers.
      const client = await StintClient.create({ url: opts.url, timeout: Number(opts.timeout), ...(opts.caBundle ? { caFile: opts.caBundle } : {}) }, { settingNames: { caFile: '--ca-bundle' } });
      try {
        let subjectToken: string | undefined;
        let subjectTokenType = opts.subjectTokenType;
        if (opts.subjectTokenSource) {
          const proof = await proofFromMachine(opts, client);
          subjectToken = proof.value;
          subjectTokenType = proof.type;
        } else if (opts.subjectTokenFile) subjectToken = readFileSync(opts.subjectTokenFile, 'utf8').trim();
        else if (opts.subjectTokenEnv) subjectToken = process.env[opts.subjectTokenEnv]?.trim();
        if (!subjectToken) throw new StintError('ERR_INVALID_REQUEST', 'no subject token: give --subject-token-file, --subject-token-env or --subject-token-source');
        const answer = await client.exchange(
          { type: subjectTokenType, value: subjectToken },
          { kind: opts.kind, audience: opts.audience, target: opts.target, ttl, scopes: opts.scope?.split(/\s+/).filter(Boolean), reason: opts.reason },
        );
        const res = answer.body;
        if (opts.output === 'json') process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
        else {
          process.stdout.write(`${answer.token}\n`);
          process.stderr.write(`grant ${String(res.grant_id)} by rule ${String(res.rule)}, expires ${String(res.expires_at)}${res.ttl_capped ? ' (TTL capped by policy)' : ''}\n`);
        }
      } finally {
        client.close();
      }
    });
}
