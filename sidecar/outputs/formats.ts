/** Named file formats: what a file output writes for a credential. */
import type { HeldCredential } from '../credential.js';
import { requireValue, valueOf } from '../credential.js';

/** Options a format may use. */
export interface FormatOptions {
  readonly profile: string;
  readonly variables?: Readonly<Record<string, string>>;
  readonly kubeconfig?: { readonly server: string; readonly caFile?: string; readonly name: string };
  readonly postgres?: { readonly host?: string; readonly port?: number; readonly database?: string; readonly sslmode?: string };
}

/** Render `cred` in `format`. */
export function render(format: string, cred: HeldCredential, o: FormatOptions): string {
  switch (format) {
    case 'raw':
      return cred.token;
    case 'json':
      return `${JSON.stringify({ kind: cred.kind, token: cred.token, grant_id: cred.grantId, expires_at: new Date(cred.expiresAt).toISOString(), renew_after: new Date(cred.renewAfter).toISOString(), fields: cred.fields })}\n`;
    case 'aws-profile':
      return awsProfile(cred, o.profile);
    case 'dotenv':
      return dotenv(cred, o.variables ?? { STINT_TOKEN: 'token' });
    case 'kubeconfig':
      return kubeconfig(cred, o);
    case 'postgres-url':
      return `${postgresUrl(cred, o)}\n`;
    case 'pgpass':
      return `${pgpass(cred, o)}\n`;
    default:
      throw new Error(`unknown format ${format}`);
  }
}

function awsProfile(cred: HeldCredential, profile: string): string {
  const line = (k: string, source: string): string => `${k} = ${oneLine(requireValue(cred, source))}\n`;
  return `[${profile}]\n${line('aws_access_key_id', 'fields.access_key_id')}${line('aws_secret_access_key', 'fields.secret_access_key')}${line('aws_session_token', 'fields.session_token')}`;
}

/**
 * `NAME="value"` lines, double-quoted with backslash escapes (dotenv and docker-compose read them;
 * a POSIX shell may source them): `\\`, `"`, newline, and the two characters a shell would expand
 * inside double quotes, `$` and the backtick, so sourcing never runs a command a value carries.
 */
function dotenv(cred: HeldCredential, variables: Readonly<Record<string, string>>): string {
  return Object.entries(variables)
    .map(([name, source]) => `${name}="${requireValue(cred, source).replace(/[\\"$`]/g, '\\$&').replace(/\n/g, '\\n')}"\n`)
    .join('');
}

/** A kubeconfig (JSON is YAML; kubectl and client libraries read it) with the token as the user's credential. */
function kubeconfig(cred: HeldCredential, o: FormatOptions): string {
  const k = o.kubeconfig!;
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: k.name, cluster: { server: k.server, ...(k.caFile ? { 'certificate-authority': k.caFile } : {}) } }],
      users: [{ name: k.name, user: { token: cred.token } }],
      contexts: [{ name: k.name, context: { cluster: k.name, user: k.name, ...(cred.fields.namespace ? { namespace: cred.fields.namespace } : {}) } }],
      'current-context': k.name,
    },
    null,
    2,
  )}\n`;
}

interface PgParts {
  host: string;
  port: string;
  database: string;
  user: string;
  password: string;
}

function pgParts(cred: HeldCredential, o: FormatOptions): PgParts {
  const p = o.postgres ?? {};
  const need = (v: string | undefined, what: string): string => {
    if (v === undefined || v === '') throw Object.assign(new Error(`credential ${cred.name} has no ${what} (set postgres.${what} or use a postgres credential)`), { code: 'MISSING_VALUE' });
    return v;
  };
  return {
    host: need(p.host ?? valueOf(cred, 'fields.host'), 'host'),
    port: need(p.port !== undefined ? String(p.port) : (valueOf(cred, 'fields.port') ?? '5432'), 'port'),
    database: need(p.database ?? valueOf(cred, 'fields.database'), 'database'),
    user: need(valueOf(cred, 'fields.username'), 'username'),
    password: valueOf(cred, 'fields.password') ?? cred.token,
  };
}

function postgresUrl(cred: HeldCredential, o: FormatOptions): string {
  const p = pgParts(cred, o);
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  const ssl = o.postgres?.sslmode ? `?sslmode=${o.postgres.sslmode}` : '';
  return `postgresql://${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}@${host}:${p.port}/${encodeURIComponent(p.database)}${ssl}`;
}

/** One `hostname:port:database:username:password` line; `:` and `\` escaped as libpq expects. */
function pgpass(cred: HeldCredential, o: FormatOptions): string {
  const p = pgParts(cred, o);
  const esc = (v: string): string => oneLine(v).replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  return [p.host, p.port, p.database, p.user, p.password].map(esc).join(':');
}

function oneLine(v: string): string {
  if (/[\r\n]/.test(v)) throw new Error('a value with a line break cannot go in this format');
  return v;
}
