/**
 * Subject token source `aws-iid`: the EC2 instance identity document and one of its signatures
 * from IMDSv2 (a session token by `PUT /latest/api/token`, then the document and the signature
 * with `X-aws-ec2-metadata-token`), with this machine's client nonce, as the JSON envelope the
 * aws-iid attestor verifies (src/attestation/aws/README.md). The nonce is generated once and kept
 * in `nonceFile` (mode 0600, written atomically): Stint binds the instance to it on first use, so
 * losing the file locks the instance out until the binding expires, and a copy of the document
 * without it is worthless.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StintError } from '../../errors.js';
import { writeFileAtomic } from '../../files/atomic_file.js';
import { AWS_IID_TOKEN_TYPE } from '../../attestation/token_types.js';
import type { SubjectTokenSourceConfig } from './schema.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

type AwsIidSourceConfig = Extract<SubjectTokenSourceConfig, { source: 'aws-iid' }>;

/** IMDS session tokens asked for last this long (seconds); renewed a minute before. */
const SESSION_TTL_SECONDS = 900;
const TIMEOUT_MS = 5000;
const NONCE = /^[A-Za-z0-9_-]{22,128}$/;

/** Create the aws-iid source. */
export function createAwsIidSource(config: AwsIidSourceConfig, ctx: SourceContext): SubjectTokenSource {
  const base = config.imdsEndpoint.replace(/\/+$/, '');
  let session: { token: string; until: number } | null = null;

  const unavailable = (what: string): StintError => new StintError('ERR_UNAVAILABLE', `EC2 instance metadata: ${what}`, { reason: 'imds_unavailable' });

  const sessionToken = async (): Promise<string> => {
    if (session && session.until > ctx.now()) return session.token;
    let res: Response;
    try {
      res = await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(SESSION_TTL_SECONDS) }, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
    } catch (e) {
      throw unavailable(`no session token (${(e as Error).name})`);
    }
    if (res.status !== 200) throw unavailable(`PUT /latest/api/token answered HTTP ${res.status}`);
    const token = (await res.text()).trim();
    if (!token) throw unavailable('empty session token');
    session = { token, until: ctx.now() + (SESSION_TTL_SECONDS - 60) * 1000 };
    return token;
  };

  const get = async (path: string, retry = true): Promise<string> => {
    const token = await sessionToken();
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { headers: { 'x-aws-ec2-metadata-token': token }, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
    } catch (e) {
      throw unavailable(`GET ${path} failed (${(e as Error).name})`);
    }
    if (res.status === 401 && retry) {
      session = null;
      return get(path, false);
    }
    if (res.status !== 200) throw unavailable(`GET ${path} answered HTTP ${res.status}`);
    return res.text();
  };

  return {
    name: config.source,
    async read() {
      const nonce = await clientNonce(config.nonceFile);
      const document = await get('/latest/dynamic/instance-identity/document');
      const signature = await get(`/latest/dynamic/instance-identity/${config.signature}`);
      // The document exactly as IMDS served it: the signature covers these bytes.
      return { type: AWS_IID_TOKEN_TYPE, value: JSON.stringify({ document, signature: signature.trim(), format: config.signature, nonce }) };
    },
  };
}

/** The client nonce kept in `file`: read it, or make it once (0600, temp file then rename). */
export async function clientNonce(file: string): Promise<string> {
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (!NONCE.test(existing)) throw new StintError('ERR_INVALID_REQUEST', `the aws-iid nonce file ${file} does not hold a nonce`, { reason: 'nonce_file_invalid' });
    return existing;
  } catch (e) {
    if (e instanceof StintError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new StintError('ERR_INVALID_REQUEST', `cannot read the aws-iid nonce file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { reason: 'nonce_file_unreadable' });
    }
  }
  const nonce = randomBytes(32).toString('base64url');
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, `${nonce}\n`, { mode: 0o600 });
  } catch (e) {
    throw new StintError('ERR_INVALID_REQUEST', `cannot write the aws-iid nonce file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { reason: 'nonce_file_unwritable' });
  }
  return nonce;
}
