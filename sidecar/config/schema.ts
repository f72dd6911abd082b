/**
 * The `stint-sidecar` configuration: one YAML file validated at load. An invalid file names the
 * key path and the reason, and the sidecar refuses to start on it.
 *
 * This module loads zod; the long-running process never imports it (see load.ts).
 */
import { JWT_TOKEN_TYPE } from '../../src/client/constants.js';
import { z } from 'zod';
import { formatKeyPath } from '../../src/key_path.js';
import { HOST_PORT, isLoopbackHostPort } from '../../src/net/host_port.js';
import { parseDurationMs } from '../../src/duration.js';
import { durationField } from '../../src/duration_field.js';
import { subjectTokenSourceSchema } from '../../src/client/subject_token/schema.js';

/** A duration (`500ms`, `30s`, `15m`, `1h` or seconds), parsed to milliseconds. */
const duration = durationField(parseDurationMs);

const hostPort = z.string().regex(HOST_PORT, 'expected host:port');
/** A listener for an application-facing endpoint: loopback only. */
const loopbackHostPort = z.string().refine(isLoopbackHostPort, 'expected a loopback host:port (127.0.0.1:PORT, localhost:PORT or [::1]:PORT)');

/** File mode as a number (0o600 in YAML: 384) or an octal string ("0600", "0640"). */
const fileMode = z.union([z.number().int(), z.string().regex(/^0?[0-7]{3}$/, 'expected an octal mode such as "0600"')]).transform((v, ctx) => {
  const mode = typeof v === 'number' ? v : parseInt(v, 8);
  if (mode < 0 || mode > 0o777) {
    ctx.addIssue({ code: 'custom', message: 'mode must be between 0000 and 0777' });
    return z.NEVER;
  }
  if (mode & 0o007) {
    ctx.addIssue({ code: 'custom', message: 'credentials must not be readable or writable by others (mode & 0007 must be 0)' });
    return z.NEVER;
  }
  return mode;
});

/**
 * Where a value comes from in an issued credential: `token`, `grant_id`, `expires_at`, `kind`, or
 * `fields.<name>` (e.g. `fields.access_key_id`).
 */
const valueSource = z.string().regex(/^(token|grant_id|expires_at|kind|fields\.[A-Za-z0-9_.-]+)$/, 'expected token, grant_id, expires_at, kind or fields.<name>');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');
const variables = z.record(envName, valueSource);

/** Owner and group (numeric ids) and mode of a written file. */
const filePerms = {
  mode: fileMode.default(0o600),
  owner: z.number().int().nonnegative().optional(),
  group: z.number().int().nonnegative().optional(),
};

const fileOutput = z
  .object({
    type: z.literal('file'),
    path: z.string().min(1),
    format: z.enum(['raw', 'json', 'aws-profile', 'dotenv', 'kubeconfig', 'postgres-url', 'pgpass']).default('raw'),
    ...filePerms,
    /** aws-profile: the profile name. */
    profile: z.string().regex(/^[\w.-]+$/).default('default'),
    /** dotenv: variable → value source (default STINT_TOKEN: token). */
    variables: variables.optional(),
    /** kubeconfig: the API server and its CA. */
    kubeconfig: z.object({ server: z.string().url(), caFile: z.string().optional(), name: z.string().regex(/^[\w.-]+$/).default('stint') }).strict().optional(),
    /** postgres-url / pgpass: where to connect; unset parts come from the credential's fields (host, port, database, username). */
    postgres: z.object({ host: z.string().optional(), port: z.number().int().positive().optional(), database: z.string().optional(), sslmode: z.string().regex(/^[a-z-]+$/).optional() }).strict().optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.format === 'kubeconfig' && !o.kubeconfig) ctx.addIssue({ code: 'custom', path: ['kubeconfig'], message: 'format kubeconfig needs kubeconfig.server' });
  });

const envFileOutput = z
  .object({
    type: z.literal('env-file'),
    path: z.string().min(1),
    variables,
    ...filePerms,
  })
  .strict();

const envOutput = z.object({ type: z.literal('env'), variables }).strict();

const awsContainerOutput = z
  .object({
    type: z.literal('aws-container'),
    listen: loopbackHostPort,
    /** Path of the credentials URL. */
    path: z.string().regex(/^\/[\w./-]*$/).default('/v1/credentials'),
    /** Where the sidecar writes the authorization token (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). */
    tokenFile: z.string().min(1),
    ...filePerms,
    /** Value sources of the response fields (defaults: the aws-sts credential fields). */
    values: z
      .object({ AccessKeyId: valueSource.default('fields.access_key_id'), SecretAccessKey: valueSource.default('fields.secret_access_key'), Token: valueSource.default('fields.session_token') })
      .strict()
      .default({ AccessKeyId: 'fields.access_key_id', SecretAccessKey: 'fields.secret_access_key', Token: 'fields.session_token' }),
  })
  .strict();

const gcpMetadataOutput = z
  .object({
    type: z.literal('gcp-metadata'),
    listen: loopbackHostPort,
    projectId: z.string().regex(/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/, 'expected a GCP project id'),
    numericProjectId: z.string().regex(/^\d+$/).optional(),
    serviceAccountEmail: z.string().min(3).default('default'),
    scopes: z.array(z.string().min(1)).default(['https://www.googleapis.com/auth/cloud-platform']),
  })
  .strict();

const output = z.discriminatedUnion('type', [fileOutput, envFileOutput, envOutput, awsContainerOutput, gcpMetadataOutput]);

export { subjectTokenSourceSchema, type SubjectTokenSourceConfig } from '../../src/client/subject_token/schema.js';

const credential = z
  .object({
    /** Name in logs, metrics and readiness. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'expected lower-case letters, digits, - and _'),
    kind: z.string().min(1).default('stint-jwt'),
    audience: z.string().min(1).optional(),
    target: z.string().min(1).optional(),
    /** Requested lifetime; the service may grant less. */
    ttl: duration.optional(),
    scopes: z.array(z.string().regex(/^\S+$/)).optional(),
    /** Readiness waits for it (default true). */
    required: z.boolean().default(true),
    /**
     * Where Stint says the grant is renewable (a Vault lease, a PostgreSQL role), extend it in place
     * (POST /renew) so the application keeps the same secret; false: always exchange for a new one.
     */
    renewInPlace: z.boolean().default(true),
    outputs: z.array(output).default([]),
  })
  .strict();

export const sidecarConfigSchema = z
  .object({
    stint: z
      .object({
        /** Stint's base URL (https in production; http only on loopback or for tests). */
        url: z.string().url(),
        /** CA bundle that signs Stint's server certificate. */
        caFile: z.string().optional(),
        /** Client certificate and key for mTLS. */
        clientCertFile: z.string().optional(),
        clientKeyFile: z.string().optional(),
        timeout: duration.default(10_000),
      })
      .strict()
      .superRefine((s, ctx) => {
        if (!!s.clientCertFile !== !!s.clientKeyFile) ctx.addIssue({ code: 'custom', path: [s.clientCertFile ? 'clientKeyFile' : 'clientCertFile'], message: 'clientCertFile and clientKeyFile go together' });
        if (s.url.startsWith('http:') && (s.caFile || s.clientCertFile)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'caFile and client certificates need an https URL' });
      }),
    subjectToken: z
      .union([
        z.object({ file: z.string().min(1), type: z.string().default(JWT_TOKEN_TYPE) }).strict(),
        z.object({ env: envName, type: z.string().default(JWT_TOKEN_TYPE) }).strict(),
        subjectTokenSourceSchema,
      ]),
    /** Health, readiness and metrics listener (`false`: none). */
    ops: z.object({ listen: z.union([hostPort, z.literal(false)]).default('0.0.0.0:8099') }).strict().default({ listen: '0.0.0.0:8099' }),
    renewal: z
      .object({
        /** Fraction of the time until renew_after taken off at random (0 to 0.5). */
        jitter: z.number().min(0).max(0.5).default(0.1),
        /** Never renew more often than this. */
        minInterval: duration.default(1000),
        /** Renew at least this often, whatever renew_after says. */
        maxInterval: duration.optional(),
        /** First retry delay after a failure; doubles up to maxBackoff (with jitter). */
        initialBackoff: duration.default(1000),
        maxBackoff: duration.default(30_000),
      })
      .strict()
      .default({ jitter: 0.1, minInterval: 1000, initialBackoff: 1000, maxBackoff: 30_000 })
      .superRefine((r, ctx) => {
        if (r.initialBackoff > r.maxBackoff) ctx.addIssue({ code: 'custom', path: ['initialBackoff'], message: 'initialBackoff is above maxBackoff' });
      }),
    /**
     * How often (jittered) to ask Stint whether a served grant was revoked (POST /grants/status);
     * a revoked credential is withdrawn from every output at once. `false`: never (a revoked
     * credential is then served until its renewal or expiry).
     */
    revocationCheck: z.union([z.literal(false), duration.refine((ms) => ms >= 500, 'at least 500ms')]).default(5000),
    /** init mode: how long to keep retrying transient failures before giving up. */
    init: z.object({ timeout: duration.default(60_000) }).strict().default({ timeout: 60_000 }),
    /** exec mode: what happens to the child when a credential rotates. */
    exec: z
      .object({
        onRotation: z.enum(['restart', 'signal', 'none']).default('none'),
        signal: z.enum(['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGINT', 'SIGQUIT']).default('SIGHUP'),
        /** Time a restarted child gets between SIGTERM and SIGKILL. */
        gracePeriod: duration.default(10_000),
      })
      .strict()
      .default({ onRotation: 'none', signal: 'SIGHUP', gracePeriod: 10_000 }),
    /** On SIGTERM: revoke the grants this sidecar holds (needs a Stint with POST /revoke). */
    shutdown: z.object({ revokeGrants: z.boolean().default(false) }).strict().default({ revokeGrants: false }),
    log: z.object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).strict().default({ level: 'info' }),
    credentials: z.array(credential).min(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    const paths = new Set<string>();
    const listens = new Set<string>();
    c.credentials.forEach((cred, i) => {
      if (names.has(cred.name)) ctx.addIssue({ code: 'custom', path: ['credentials', i, 'name'], message: `duplicate credential name ${cred.name}` });
      names.add(cred.name);
      cred.outputs.forEach((o, j) => {
        const at = ['credentials', i, 'outputs', j];
        const written = o.type === 'file' || o.type === 'env-file' ? [o.path] : o.type === 'aws-container' ? [o.tokenFile] : [];
        for (const p of written) {
          if (paths.has(p)) ctx.addIssue({ code: 'custom', path: [...at, 'path'], message: `${p} is written by another output` });
          paths.add(p);
        }
        if ('listen' in o) {
          if (listens.has(o.listen)) ctx.addIssue({ code: 'custom', path: [...at, 'listen'], message: `${o.listen} is used by another output` });
          listens.add(o.listen);
        }
      });
    });
  });

/** The validated sidecar configuration (durations in milliseconds, modes as numbers). */
export type SidecarConfig = z.infer<typeof sidecarConfigSchema>;
export type CredentialConfig = SidecarConfig['credentials'][number];
export type OutputConfig = CredentialConfig['outputs'][number];

/** Validate a parsed YAML document: the config, or the key path and reason of the first problem. */
export function validateSidecarConfig(raw: unknown): { ok: true; config: SidecarConfig } | { ok: false; path: string; message: string } {
  const result = sidecarConfigSchema.safeParse(raw);
  if (result.success) return { ok: true, config: result.data };
  const issue = result.error.issues[0];
  return { ok: false, path: issue ? formatKeyPath(issue.path) || '(root)' : '(root)', message: issue?.message ?? 'invalid' };
}
/** Where the subject token comes from: a file, a variable, or a VM source. */
export type SubjectTokenConfig = SidecarConfig['subjectToken'];
