/**
 * The development issuer that `stint serve --dev` trusts: an ES256 key kept in the data folder
 * (mode 0600) whose public JWKS the dev attestor reads as a static file. `stint dev token` mints
 * Kubernetes-shaped projected ServiceAccount tokens with it. Development only.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

/** The dev issuer's `iss`. Not a reachable URL: its keys come from a static JWKS file. */
export const DEV_ISSUER = 'https://dev-issuer.stint.local';
/** The audience dev subject tokens carry (Stint's audience in dev mode). */
export const DEV_AUDIENCE = 'stint';

/** Paths of the dev issuer's files inside a data folder. */
export function devIssuerPaths(dataDir: string): { dir: string; privateJwk: string; jwks: string } {
  const dir = join(dataDir, 'dev-issuer');
  return { dir, privateJwk: join(dir, 'private.jwk.json'), jwks: join(dir, 'jwks.json') };
}

/** Write a file atomically with the given mode (temp file in the same folder, then rename). */
export function writeFileAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** Create the dev issuer key if missing; return the JWKS file path. */
export async function ensureDevIssuer(dataDir: string): Promise<string> {
  const paths = devIssuerPaths(dataDir);
  if (existsSync(paths.privateJwk) && existsSync(paths.jwks)) return paths.jwks;
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  const priv = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' };
  writeFileAtomic(paths.privateJwk, JSON.stringify(priv), 0o600);
  writeFileAtomic(paths.jwks, JSON.stringify({ keys: [{ ...pub, kid, alg: 'ES256', use: 'sig' }] }), 0o644);
  return paths.jwks;
}

/** Options of a dev subject token. */
export interface DevTokenOptions {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly podName?: string;
  readonly audience?: string;
  readonly ttlSeconds?: number;
}

/** Mint a Kubernetes-shaped projected ServiceAccount token from the dev issuer. */
export async function mintDevToken(dataDir: string, opts: DevTokenOptions): Promise<string> {
  const paths = devIssuerPaths(dataDir);
  if (!existsSync(paths.privateJwk)) {
    throw new Error(`no dev issuer in ${dataDir}: start the service once with "npm start" (stint serve --dev) first`);
  }
  const jwk = JSON.parse(readFileSync(paths.privateJwk, 'utf8')) as JWK;
  const key = await importJWK(jwk, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  const pod = opts.podName ?? `${opts.serviceAccount}-7d4b9c-x2x5q`;
  return new SignJWT({
    'kubernetes.io': {
      namespace: opts.namespace,
      pod: { name: pod, uid: randomUUID() },
      serviceaccount: { name: opts.serviceAccount, uid: randomUUID() },
    },
  })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid!, typ: 'JWT' })
    .setIssuer(DEV_ISSUER)
    .setSubject(`system:serviceaccount:${opts.namespace}:${opts.serviceAccount}`)
    .setAudience([opts.audience ?? DEV_AUDIENCE])
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (opts.ttlSeconds ?? 600))
    .sign(key);
}
