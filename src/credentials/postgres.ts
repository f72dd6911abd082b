/**
 * The `postgres` credential provider: a PostgreSQL login role per grant, created over an admin
 * connection, with a random password, `VALID UNTIL` the grant's expiry and membership in the
 * roles the policy rule names. Revoking or reaping drops the role after terminating its
 * sessions; reconciliation drops roles under Stint's prefix that no live grant accounts for.
 * Configuration key `providers.postgres`; docs/providers/postgres.md.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { epochSeconds } from '../clock.js';
import { durationSchema, positiveDurationSchema, readSecretRef, secretRefSchema } from '../config/fields.js';
import { postgresUrlSecrets } from '../store/postgres_url.js';
import { ConfigError, StintError, UpstreamError } from '../errors.js';
import { roleNameFor, grantIdOfRole, uuidv7TimeMs, MAX_IDENTIFIER_BYTES, MAX_ROLE_PREFIX_LENGTH, ROLE_PREFIX_PATTERN } from './postgres/role_name.js';
import { PostgresRoles } from './postgres/roles.js';
import { scramSha256Verifier } from './postgres/scram.js';
import { renewAfterOf, type CredentialProvider, type GrantDraft, type GrantRef, type IssuedCredential, type LiveGrantCheck, type ProviderDeps, type ReconcileReport, type RevokeResult } from './provider.js';
import { sweepOrphans, upstreamObjectProvider } from './upstream_object.js';

/** The credential kind named in policy rules and requests. */
export const POSTGRES_KIND = 'postgres';

/** RFC 8693 issued_token_type of a PostgreSQL password. */
export const POSTGRES_TOKEN_TYPE = 'urn:stint:params:oauth:token-type:postgres-password';

/** Configuration key path, for errors. */
const CONFIG_PATH = 'providers.postgres';



const identifier = z.string().min(1).refine((s) => Buffer.byteLength(s) <= MAX_IDENTIFIER_BYTES, `at most ${MAX_IDENTIFIER_BYTES} bytes`);

/** One database (cluster) Stint issues roles on; its key in `databases` is the requests' target. */
const databaseSchema = z
  .object({
    /** Admin connection URL (`postgresql://user:password@host:port/db?sslmode=...`), by reference. */
    adminUrl: secretRefSchema,
    /** Host clients connect to (in the issued URL and pgpass line). */
    host: z.string().min(1).max(253).regex(/^[^\s/@?#]+$/, 'a host name or address'),
    port: z.number().int().min(1).max(65535).default(5432),
    /** Database clients connect to. */
    database: identifier,
    /** sslmode put in the issued URL; absent: none (libpq's default, prefer). */
    sslmode: z.enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']).optional(),
    /** Prefix of generated role names; marks Stint's roles for reconciliation. */
    rolePrefix: z.string().max(MAX_ROLE_PREFIX_LENGTH).regex(ROLE_PREFIX_PATTERN, 'lower-case letters, digits and _, not starting with a digit').default('stint_'),
    /** Timeout of connecting to the admin connection. */
    connectTimeout: positiveDurationSchema.default(5),
    /** statement_timeout of the admin connection. */
    statementTimeout: positiveDurationSchema.default(10),
    /** CONNECTION LIMIT of a generated role when the rule's options do not set one. */
    connectionLimit: z.number().int().min(1).max(10_000).default(10),
    /** Role receiving objects a dropped role owned; default the admin role. */
    reassignOwnedTo: identifier.optional(),
  })
  .strict();

/** Configuration of `providers.postgres`. */
export const postgresProviderConfigSchema = z
  .object({
    /** Databases by name (the request's target), e.g. `main`. */
    databases: z.record(z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'names are [a-z0-9_.-], starting with a letter or digit'), databaseSchema).refine((d) => Object.keys(d).length > 0, 'at least one database'),
    /** Longest TTL of a generated role. */
    maxTtl: positiveDurationSchema.default(3600),
    /** Roles younger than this are never reconciled away (an issuance may be in flight). */
    reconcileGrace: durationSchema.default(300),
  })
  .strict();
export type PostgresProviderConfig = z.infer<typeof postgresProviderConfigSchema>;
type DatabaseConfig = z.infer<typeof databaseSchema>;

/** A configured database with its admin connection. */
interface Database {
  readonly name: string;
  readonly config: DatabaseConfig;
  readonly roles: PostgresRoles;
}

/** What a rule's allow entry may set in `options`. */
interface RoleOptions {
  readonly memberOf: readonly string[];
  readonly connectionLimit: number;
}

/** Marking written as the role's COMMENT (JSON). */
interface RoleComment {
  readonly stint: 'grant';
  readonly grant: string;
  readonly database: string;
  readonly identity: string;
  readonly rule: string;
  readonly expiresAt: string;
}

const ALLOWED_OPTIONS = new Set(['memberOf', 'connectionLimit']);


/** The rule's options for a generated role; a malformed entry is a policy error naming the rule. */
function roleOptions(draft: GrantDraft, db: Database): RoleOptions {
  const options = draft.granted.options;
  const where = `rule ${draft.rule}: allow entry for ${POSTGRES_KIND}`;
  for (const key of Object.keys(options)) {
    if (!ALLOWED_OPTIONS.has(key)) throw new ConfigError('ERR_POLICY_INVALID', `options.${key}`, `${where}: unknown option (known: memberOf, connectionLimit)`, { rule: draft.rule });
  }
  const memberOf = options.memberOf ?? [];
  if (!Array.isArray(memberOf) || memberOf.some((r) => typeof r !== 'string' || r.length === 0 || Buffer.byteLength(r) > MAX_IDENTIFIER_BYTES)) {
    throw new ConfigError('ERR_POLICY_INVALID', 'options.memberOf', `${where}: memberOf must be a list of role names`, { rule: draft.rule });
  }
  // A generated role must never be made a member of another grant's role.
  if ((memberOf as string[]).some((r) => grantIdOfRole(db.config.rolePrefix, r) !== null)) {
    throw new ConfigError('ERR_POLICY_INVALID', 'options.memberOf', `${where}: memberOf names a role generated by Stint`, { rule: draft.rule });
  }
  const limit = options.connectionLimit ?? db.config.connectionLimit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new ConfigError('ERR_POLICY_INVALID', 'options.connectionLimit', `${where}: connectionLimit must be a whole number from 1 to 10000`, { rule: draft.rule });
  }
  return { memberOf: [...new Set(memberOf as string[])], connectionLimit: limit };
}

/** `host` as it goes in a URL (IPv6 literals in brackets). */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** One pgpass field: `:` and `\` escaped. */
function pgpassField(value: string): string {
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

/** Parse a `<database>/<role>` handle. */
function parseHandle(handle: string): { database: string; role: string } | null {
  const i = handle.indexOf('/');
  if (i <= 0 || i === handle.length - 1) return null;
  return { database: handle.slice(0, i), role: handle.slice(i + 1) };
}

function parseComment(comment: string | null): Partial<RoleComment> | null {
  if (!comment) return null;
  try {
    const v = JSON.parse(comment) as unknown;
    return v && typeof v === 'object' && (v as { stint?: unknown }).stint === 'grant' ? (v as Partial<RoleComment>) : null;
  } catch {
    return null;
  }
}

/** Create the postgres provider(s): one provider of kind `postgres` serving every configured database. */
export function createPostgresProviders(config: PostgresProviderConfig, deps: ProviderDeps): CredentialProvider[] {
  return [createPostgresProvider(config, deps)];
}

/** Create the `postgres` provider; reads the admin URLs now (a missing secret stops startup). */
export function createPostgresProvider(config: PostgresProviderConfig, deps: ProviderDeps): CredentialProvider {
  const parsed = postgresProviderConfigSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError('ERR_CONFIG_INVALID', [CONFIG_PATH, ...(issue?.path ?? []).map(String)].join('.'), issue?.message ?? 'invalid');
  }
  const cfg = parsed.data;
  const clock: Clock = deps.clock;
  const databases = new Map<string, Database>();
  for (const [name, db] of Object.entries(cfg.databases)) {
    const path = `${CONFIG_PATH}.databases.${name}.adminUrl`;
    const adminUrl = readSecretRef(db.adminUrl, path);
    const secrets = postgresUrlSecrets(adminUrl, path);
    const roles = new PostgresRoles({
      kind: POSTGRES_KIND,
      name,
      adminUrl,
      secrets,
      connectTimeoutMs: db.connectTimeout * 1000,
      statementTimeoutMs: db.statementTimeout * 1000,
      reassignOwnedTo: db.reassignOwnedTo,
      observe: deps.onUpstreamCall,
    });
    databases.set(name, { name, config: db, roles });
  }

  const databaseFor = (target: string | null | undefined): Database => {
    if (!target) throw new StintError('ERR_INVALID_REQUEST', `a ${POSTGRES_KIND} credential requires a target (a configured database name)`, { kind: POSTGRES_KIND, field: 'target' });
    const db = databases.get(target);
    if (!db) {
      throw new StintError('ERR_TARGET_DENIED', `${POSTGRES_KIND}: no database ${JSON.stringify(target.slice(0, 64))} is configured`, { kind: POSTGRES_KIND, field: 'target', reason: 'unknown_database' });
    }
    return db;
  };

  /** The database and role a recorded grant's handle names; refuses a handle that is not this grant's role. */
  const roleOfGrant = (grant: GrantRef): { db: Database; role: string } => {
    const handle = grant.revocationHandle ? parseHandle(grant.revocationHandle) : null;
    const dbName = handle?.database ?? grant.target;
    const db = dbName ? databases.get(dbName) : undefined;
    if (!db) {
      throw new ConfigError('ERR_CONFIG_INVALID', `${CONFIG_PATH}.databases`, `grant ${grant.id} names database ${JSON.stringify(String(dbName).slice(0, 64))}, which is not configured`);
    }
    const expected = roleNameFor(db.config.rolePrefix, grant.id);
    if (handle && handle.role !== expected) {
      throw new StintError('ERR_INTERNAL', `${POSTGRES_KIND}: the revocation handle of grant ${grant.id} does not name its role`, { kind: POSTGRES_KIND });
    }
    return { db, role: expected };
  };

  const drop = async (grant: GrantRef, operation: 'revoke_role' | 'reap_role'): Promise<RevokeResult> => {
    const { db, role } = roleOfGrant(grant);
    const r = await db.roles.dropRole(role, operation);
    return {
      effective: true,
      note: r.outcome === 'absent' ? `role ${role} was already gone` : `role ${role} dropped${r.terminated > 0 ? `, ${r.terminated} session(s) terminated` : ''}`,
    };
  };

  return upstreamObjectProvider({
    kind: POSTGRES_KIND,
    maxTtlSeconds: cfg.maxTtl,
    minTtlSeconds: 1,
    remove: (grant, cause) => drop(grant, cause === 'revoke' ? 'revoke_role' : 'reap_role'),

    async issue(draft: GrantDraft): Promise<IssuedCredential> {
      const db = databaseFor(draft.granted.target);
      const options = roleOptions(draft, db);
      const ttl = draft.expiresAt - draft.issuedAt;
      if (!(ttl > 0 && ttl <= cfg.maxTtl)) {
        throw new StintError('ERR_INVALID_REQUEST', `${POSTGRES_KIND} TTL must be between 1 and ${cfg.maxTtl} seconds`, { kind: POSTGRES_KIND, ttlSeconds: ttl, maxTtlSeconds: cfg.maxTtl });
      }
      if (draft.expiresAt <= epochSeconds(clock)) throw new StintError('ERR_INVALID_REQUEST', `${POSTGRES_KIND} grant already expired`, { kind: POSTGRES_KIND });
      let role: string;
      try {
        role = roleNameFor(db.config.rolePrefix, draft.id);
      } catch {
        throw new StintError('ERR_INTERNAL', `${POSTGRES_KIND}: grant id is not a UUID`, { kind: POSTGRES_KIND });
      }
      // 32 random bytes, base64url: 43 characters, none of them special in URLs or pgpass.
      const password = randomBytes(32).toString('base64url');
      const expiresAt = new Date(draft.expiresAt * 1000);
      const comment: RoleComment = {
        stint: 'grant',
        grant: draft.id,
        database: db.name,
        identity: draft.identity.id.slice(0, 512),
        rule: draft.rule,
        expiresAt: expiresAt.toISOString(),
      };
      await db.roles.createRole({
        name: role,
        passwordVerifier: await scramSha256Verifier(password),
        validUntil: expiresAt,
        memberOf: options.memberOf,
        connectionLimit: options.connectionLimit,
        comment: JSON.stringify(comment),
      });
      const { host, port, database, sslmode } = db.config;
      const url = `postgresql://${role}:${password}@${urlHost(host)}:${port}/${encodeURIComponent(database)}${sslmode ? `?sslmode=${sslmode}` : ''}`;
      const pgpass = [host, String(port), database, role, password].map(pgpassField).join(':');
      return {
        kind: POSTGRES_KIND,
        token: password,
        tokenType: POSTGRES_TOKEN_TYPE,
        fields: { username: role, password, host, port: String(port), database, url, pgpass },
        secretFields: ['password', 'url', 'pgpass'],
        expiresAt: draft.expiresAt,
        renewAfter: renewAfterOf(draft.issuedAt, draft.issuedAt + ttl),
        revocationHandle: `${db.name}/${role}`,
      };
    },

    async renew(grant: GrantRef, ttlSeconds: number): Promise<{ expiresAt: number }> {
      const { db, role } = roleOfGrant(grant);
      const expiresAt = epochSeconds(clock) + Math.max(1, Math.min(Math.floor(ttlSeconds), cfg.maxTtl));
      if (!(await db.roles.setValidUntil(role, new Date(expiresAt * 1000)))) {
        throw new UpstreamError('ERR_UPSTREAM_DENIED', POSTGRES_KIND, 'RoleNotFound', `postgres ${db.name}: renew_role refused: role ${role} no longer exists`);
      }
      return { expiresAt };
    },

    async reconcile(isLive: LiveGrantCheck, now: number): Promise<ReconcileReport> {
      let found = 0;
      const removed: string[] = [];
      const failed: string[] = [];
      let listed = 0;
      let firstError: unknown = null;
      for (const db of databases.values()) {
        let roles;
        try {
          roles = await db.roles.listRoles(db.config.rolePrefix);
          listed++;
        } catch (err) {
          firstError ??= err;
          failed.push(`${db.name}: ${err instanceof StintError ? err.code : 'ERR_INTERNAL'}`);
          continue;
        }
        const marked = roles.flatMap((r) => {
          const grantId = grantIdOfRole(db.config.rolePrefix, r.name);
          // Roles are cluster-wide: another configured database on the same cluster owns its own.
          const database = parseComment(r.comment)?.database;
          return grantId && (database === undefined || database === db.name) ? [{ role: r, grantId }] : [];
        });
        found += marked.length;
        const swept = await sweepOrphans(marked, {
          handle: ({ role }) => `${db.name}/${role.name}`,
          async isOrphan({ role: r, grantId }) {
            if (await isLive(grantId)) return false;
            const createdMs = uuidv7TimeMs(grantId);
            return createdMs !== null ? now - createdMs / 1000 >= cfg.reconcileGrace : r.validUntil !== null && now >= r.validUntil.getTime() / 1000 + cfg.reconcileGrace;
          },
          async remove({ role }) {
            await db.roles.dropRole(role.name, 'reconcile_drop_role');
            return true;
          },
        });
        removed.push(...swept.removed);
        failed.push(...swept.failed);
      }
      if (listed === 0 && firstError) throw firstError;
      return { found, removed, failed };
    },

    async close(): Promise<void> {
      await Promise.all([...databases.values()].map((db) => db.roles.close().catch(() => undefined)));
    },
  });
}
