/**
 * `type: aws-container`: the AWS container-credentials endpoint on loopback. The application gets
 * `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`; every AWS SDK
 * then fetches `{AccessKeyId, SecretAccessKey, Token, Expiration}` here and refreshes on its own.
 * A request without the authorization token from the file is refused.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import { requireValue, type HeldCredential } from '../credential.js';
import { writeFileAtomic } from './atomic_file.js';
import { close, listen, sendJson } from './listen.js';
import type { Output, OutputDeps } from './output.js';

/** Configuration of an aws-container output. */
export interface AwsContainerOutputConfig {
  readonly listen: string;
  readonly path: string;
  readonly tokenFile: string;
  readonly mode: number;
  readonly owner?: number;
  readonly group?: number;
  readonly values: { readonly AccessKeyId: string; readonly SecretAccessKey: string; readonly Token: string };
}

/** Create the endpoint. */
export function createAwsContainerOutput(c: AwsContainerOutputConfig, deps: OutputDeps): Output {
  const authToken = Buffer.from(randomBytes(32).toString('base64url'));
  let body: { AccessKeyId: string; SecretAccessKey: string; Token: string; Expiration: string } | null = null;
  let expiresAt = 0;
  let server: Server | null = null;
  const url = `http://${c.listen}${c.path}`;

  const authorized = (header: string | undefined): boolean => {
    if (!header) return false;
    const given = Buffer.from(header);
    return given.length === authToken.length && timingSafeEqual(given, authToken);
  };

  return {
    type: 'aws-container',
    where: url,
    async start() {
      // The SDK sends the file's content as the Authorization header: no trailing newline.
      await writeFileAtomic(c.tokenFile, authToken, c);
      server = await listen(c.listen, (req, res) => {
        const path = (req.url ?? '/').split('?', 1)[0];
        if (req.method !== 'GET') return sendJson(res, 405, { Code: 'MethodNotAllowed', Message: 'use GET' }, { allow: 'GET' });
        if (path !== c.path) return sendJson(res, 404, { Code: 'NotFound', Message: 'no such path' });
        if (!authorized(req.headers.authorization)) {
          deps.log.log('warn', 'aws-container request refused: missing or wrong authorization token', { output: url });
          return sendJson(res, 401, { Code: 'AccessDenied', Message: 'missing or wrong Authorization token' });
        }
        if (!body || expiresAt <= deps.now()) return sendJson(res, 503, { Code: 'CredentialsUnavailable', Message: 'no unexpired credentials yet' }, { 'retry-after': '1' });
        sendJson(res, 200, body);
      }, { log: deps.log, name: 'aws-container' });
    },
    async publish(cred: HeldCredential) {
      body = {
        AccessKeyId: requireValue(cred, c.values.AccessKeyId),
        SecretAccessKey: requireValue(cred, c.values.SecretAccessKey),
        Token: requireValue(cred, c.values.Token),
        Expiration: new Date(cred.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      };
      expiresAt = cred.expiresAt;
    },
    async withdraw() {
      body = null;
      expiresAt = 0;
    },
    async stop() {
      await close(server);
      server = null;
    },
    env: () => ({ AWS_CONTAINER_CREDENTIALS_FULL_URI: url, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: c.tokenFile }),
  };
}
