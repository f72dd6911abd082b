/** gRPC client of the Admin service, authenticated by an admin bearer token. */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { StintError, type ErrorCode, ERROR_TABLE } from '../errors.js';
import { loadStintProto } from '../grpc/stint_proto.js';

/** Options shared by admin commands. */
export interface AdminOptions {
  admin?: string;
  adminTokenFile?: string;
  dataDir?: string;
  /** CA bundle of a TLS admin listener (or $STINT_ADMIN_CA_FILE). */
  adminCaFile?: string;
  /** Client certificate and key for an mTLS admin listener (or $STINT_ADMIN_CERT_FILE / $STINT_ADMIN_KEY_FILE). */
  adminCertFile?: string;
  adminKeyFile?: string;
}

/** Channel credentials: TLS when a CA is given, mTLS when a client certificate is too, else plaintext (loopback). */
function channelCredentials(opts: AdminOptions): grpc.ChannelCredentials {
  const caFile = opts.adminCaFile ?? process.env.STINT_ADMIN_CA_FILE;
  if (!caFile) return grpc.credentials.createInsecure();
  const certFile = opts.adminCertFile ?? process.env.STINT_ADMIN_CERT_FILE;
  const keyFile = opts.adminKeyFile ?? process.env.STINT_ADMIN_KEY_FILE;
  return grpc.credentials.createSsl(readFileSync(caFile), keyFile ? readFileSync(keyFile) : null, certFile ? readFileSync(certFile) : null);
}

/** Resolve the admin token: $STINT_ADMIN_TOKEN, --admin-token-file, $STINT_ADMIN_TOKEN_FILE, or <data-dir>/admin.token. */
export function resolveAdminToken(opts: AdminOptions): string | null {
  if (process.env.STINT_ADMIN_TOKEN) return process.env.STINT_ADMIN_TOKEN.trim();
  if (opts.adminCertFile ?? process.env.STINT_ADMIN_CERT_FILE) {
    // A client certificate may be the admin credential on its own (mTLS admin listener).
    const file = opts.adminTokenFile ?? process.env.STINT_ADMIN_TOKEN_FILE;
    return file && existsSync(file) ? readFileSync(file, 'utf8').trim() : null;
  }
  const file = opts.adminTokenFile ?? process.env.STINT_ADMIN_TOKEN_FILE ?? resolve(opts.dataDir ?? '.stint', 'admin.token');
  if (!existsSync(file)) {
    throw new StintError('ERR_ADMIN_UNAUTHENTICATED', `no admin token: set STINT_ADMIN_TOKEN or --admin-token-file (looked for ${file})`);
  }
  return readFileSync(file, 'utf8').trim();
}

/** Call one Admin method; gRPC failures become StintErrors carrying the server's code. */
export async function callAdmin<T>(opts: AdminOptions, method: string, request: Record<string, unknown>): Promise<T> {
  const token = resolveAdminToken(opts);
  const proto = grpc.loadPackageDefinition(loadStintProto()) as unknown as { stint: { v1: { Admin: grpc.ServiceClientConstructor } } };
  const address = opts.admin ?? process.env.STINT_ADMIN_ADDR ?? '127.0.0.1:8082';
  const client = new proto.stint.v1.Admin(address, channelCredentials(opts));
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  try {
    return await new Promise<T>((resolvePromise, reject) => {
      const fn = (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: T) => void) => void>)[method]!;
      fn.call(client, request, md, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(fromGrpcError(err, address)) : resolvePromise(res)));
    });
  } finally {
    client.close();
  }
}

/** Turn a gRPC client error into a StintError with the server's stable code. */
export function fromGrpcError(err: grpc.ServiceError, address: string): StintError {
  const code = err.metadata?.get('stint-error-code')[0];
  if (typeof code === 'string' && code in ERROR_TABLE) {
    const message = err.details.startsWith(`${code}: `) ? err.details.slice(code.length + 2) : err.details;
    return new StintError(code as ErrorCode, message);
  }
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
    return new StintError('ERR_UNAVAILABLE', `cannot reach Stint at ${address}: ${err.details}`);
  }
  return new StintError('ERR_INTERNAL', err.details || 'unknown error');
}
