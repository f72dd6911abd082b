/**
 * The service configuration: one YAML file validated at load. An invalid file names the key
 * path and the reason, and the service refuses to start on it.
 */
import { z } from 'zod';
import { durationSchema, hostPortSchema, secretRefSchema } from './fields.js';
import { UPSTREAM_PROVIDERS } from '../credentials/registry.js';
import { webhookConfigSchema } from '../webhook/settings.js';
import { storeConfigSchema } from '../store/config.js';
import { attestorConfigSchema } from '../attestation/registry.js';
import { breakGlassConfigSchema } from './break_glass.js';
import { DEFAULT_GRPC_LIMITS, DEFAULT_LISTENER_LIMITS } from '../net/connections.js';

export { durationSchema, secretRefSchema, type SecretRef } from './fields.js';

export { attestorConfigSchema, type AttestorConfig } from '../attestation/registry.js';
export type { KubernetesAttestorConfig } from '../attestation/kubernetes.js';
export type { GithubActionsAttestorConfig } from '../attestation/github_actions.js';
export type { OidcAttestorConfig } from '../attestation/oidc.js';

/** TLS of a listener; with `clientCaFile`, clients must present a certificate that CA signed (mTLS). */
export const tlsSchema = z.object({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  clientCaFile: z.string().min(1).optional(),
}).strict();
export type TlsConfig = z.infer<typeof tlsSchema>;

const hostPort = hostPortSchema;

/**
 * A section of limits: each a positive whole number (sockets or milliseconds) whose default is its
 * value in `defaults`, the table in src/net/connections.ts that the listeners use too.
 */
function limitsSchema<T extends object>(defaults: T) {
  const shape = Object.fromEntries(Object.entries(defaults).map(([key, value]) => [key, z.number().int().positive().default(value as number)]));
  return z.object(shape as { [K in keyof T]: z.ZodDefault<z.ZodNumber> }).strict();
}

/** One token-bucket limit: `rate` requests a second on average, bursts up to `burst`. */
const rateLimitSchema = z.object({ rate: z.number().positive(), burst: z.number().int().positive() }).strict();

export const configSchema = z.object({
  /** Stint's own issuer URL: the `iss` of Stint JWTs and the base of discovery. */
  issuer: z.string().url(),
  /** The audience subject tokens must carry (defaults to the issuer URL). */
  audience: z.string().min(1).optional(),
  /** SPIFFE trust domain for identities. */
  trustDomain: z.string().regex(/^[a-z0-9.-]+$/).default('stint.local'),
  listen: z.object({
    http: hostPort.default('127.0.0.1:8080'),
    grpc: hostPort.default('127.0.0.1:8081'),
    admin: hostPort.default('127.0.0.1:8082'),
  }).strict().default({ http: '127.0.0.1:8080', grpc: '127.0.0.1:8081', admin: '127.0.0.1:8082' }),
  /** Where grants, audit and keys live: SQLite (one replica) or PostgreSQL (several replicas). */
  store: storeConfigSchema,
  signing: z.object({
    algorithm: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256'),
    rotationPeriod: durationSchema.default(86400),
    prepublish: durationSchema.default(3600),
  }).strict().default({ algorithm: 'ES256', rotationPeriod: 86400, prepublish: 3600 }),
  credentials: z.object({
    /** Hard cap on any issued credential TTL, whatever a rule says. */
    maxTtl: durationSchema.default(3600),
    /**
     * The `typ` header of Stint JWTs (RFC 8725 explicit typing): verifiers may require it. Set `JWT`
     * only for a verifier that insists on the generic type.
     */
    jwtTyp: z.string().regex(/^[A-Za-z0-9.+-]{1,64}$/).default('stint+jwt'),
  }).strict().default({ maxTtl: 3600, jwtTyp: 'stint+jwt' }),
  policy: z.object({
    /** The enforced policy file. */
    file: z.string().min(1),
    /** A candidate policy evaluated beside the enforced one on live traffic, never enforced. */
    shadowFile: z.string().min(1).optional(),
    /** Reload on file change (default true); SIGHUP always reloads. */
    watch: z.boolean().optional(),
  }).strict(),
  attestors: z.array(attestorConfigSchema).default([]),
  /** Upstream credential providers (AWS STS, GCP, Vault, Kubernetes, PostgreSQL); absent = not offered. */
  providers: z.object({
    aws: UPSTREAM_PROVIDERS.aws.schema.optional(),
    gcp: UPSTREAM_PROVIDERS.gcp.schema.optional(),
    vault: UPSTREAM_PROVIDERS.vault.schema.optional(),
    kubernetes: UPSTREAM_PROVIDERS.kubernetes.schema.optional(),
    postgres: UPSTREAM_PROVIDERS.postgres.schema.optional(),
  }).strict().default({}),
  /** Expiry, reaping and reconciliation of grants. */
  reaper: z.object({
    /** How often expired and revoked grants are cleaned up upstream. */
    interval: durationSchema.default(30),
    /** First retry delay after a failed cleanup; doubles up to maxBackoff. */
    initialBackoff: durationSchema.default(10),
    maxBackoff: durationSchema.default(600),
    /** A grant whose cleanup failed this many times shows in `stint grants list --stuck`. */
    stuckAfterAttempts: z.number().int().positive().default(5),
    /** How often upstream systems are listed and reconciled against live grants. */
    reconcileInterval: durationSchema.default(300),
    /** Upstream objects younger than this are never reconciled away (an issuance may be in flight). */
    reconcileGrace: durationSchema.default(300),
  }).strict().default({ interval: 30, initialBackoff: 10, maxBackoff: 600, stuckAfterAttempts: 5, reconcileInterval: 300, reconcileGrace: 300 }),
  /** TLS of the workload listeners (HTTP and gRPC). */
  tls: tlsSchema.optional(),
  admin: z.object({
    tokens: z.array(z.object({ name: z.string().min(1), secret: secretRefSchema }).strict()).default([]),
    /** TLS of the admin listener; with clientCaFile, a client certificate whose CN is in clientNames authenticates an admin. */
    tls: tlsSchema.optional(),
    clientNames: z.array(z.string().min(1)).default([]),
  }).strict().default({ tokens: [], clientNames: [] }),
  /**
   * Resource servers allowed to call `POST /introspect` (RFC 7662), each with its own bearer secret:
   * scoped to introspection only. Admin tokens are refused on the workload listener.
   */
  introspection: z.object({
    clients: z.array(z.object({ name: z.string().min(1), secret: secretRefSchema }).strict()).default([]),
  }).strict().default({ clients: [] }),
  /**
   * Connection limits of every listener (HTTP, gRPC workload and admin, webhook), in milliseconds:
   * sockets per source address, a first-byte timeout, HTTP keep-alive/headers/request timeouts,
   * the TLS handshake timeout, and gRPC keepalive and connection idle/age. Each field, its meaning
   * and its default are in src/net/connections.ts (SocketLimits, HttpTimeouts, GrpcConnectionLimits).
   */
  connections: limitsSchema(DEFAULT_LISTENER_LIMITS)
    .extend({ grpc: limitsSchema(DEFAULT_GRPC_LIMITS).default(() => ({ ...DEFAULT_GRPC_LIMITS })) })
    .strict()
    .refine((c) => c.headersTimeoutMs <= c.requestTimeoutMs, { message: 'headersTimeoutMs must not exceed requestTimeoutMs', path: ['headersTimeoutMs'] })
    .default(() => ({ ...DEFAULT_LISTENER_LIMITS, grpc: { ...DEFAULT_GRPC_LIMITS } })),
  /** The mutating admission webhook that injects `stint-sidecar` into annotated pods (docs/sidecar.md#injection); absent = off. */
  webhook: webhookConfigSchema.optional(),
  /**
   * Request rate limits: over a limit a request is refused with 429 / RESOURCE_EXHAUSTED and
   * `Retry-After`. Per verified identity (exchanges and renewals), per source address (workload
   * listeners), and a budget per upstream provider kind so one workload cannot spend a shared quota.
   * `null` turns a limit off.
   */
  limits: z.object({
    perIdentity: rateLimitSchema.nullable().default({ rate: 20, burst: 100 }),
    perSource: rateLimitSchema.nullable().default({ rate: 200, burst: 400 }),
    upstream: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/), rateLimitSchema).default({}),
  }).strict().default({ perIdentity: { rate: 20, burst: 100 }, perSource: { rate: 200, burst: 400 }, upstream: {} }),
  /** Sealed emergency credentials released with two distinct admin approvals (`stint break-glass`); absent = off. */
  breakGlass: breakGlassConfigSchema.optional(),
  /** Cache verified subject tokens (by SHA-256) until their expiry: the sidecar pattern. */
  subjectTokenCache: z.object({ size: z.number().int().nonnegative().default(10000) }).strict().default({ size: 10000 }),
  log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().default({ level: 'info' }),
}).strict();

/** The validated configuration. */
export type StintConfig = z.infer<typeof configSchema>;
