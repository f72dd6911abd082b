/**
 * `type: aws-container`: the AWS container-credentials endpoint on loopback. The application gets
 * `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`; every AWS SDK
 * then fetches `{AccessKeyId, SecretAccessKey, Token, Expiration}` here and refreshes on its own.
 * A request without the authorization token from the file is refused.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { requireValue } from '../credential.js';
import { writeFileAtomic } from '../../src/files/atomic_file.js';
import { createEndpointOutput } from './endpoint.js';
import { sendJson } from './listen.js';
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

/** The container-credentials answer every AWS SDK reads. */
interface AwsContainerCredentials {
  readonly AccessKeyId: string;
  readonly SecretAccessKey: string;
  readonly Token: string;
  readonly Expiration: string;
}

/** Create the endpoint. */
export function createAwsContainerOutput(c: AwsContainerOutputConfig, deps: OutputDeps): Output {
  const authToken = Buffer.from(randomBytes(32).toString('base64url'));
  const url = `http://${c.listen}${c.path}`;

  const authorized = (header: string | undefined): boolean => {
    if (!header) return false;
    const given = Buffer.from(header);
    return given.length === authToken.length && timingSafeEqual(given, authToken);
  };

  return createEndpointOutput<AwsContainerCredentials>({
    type: 'aws-container',
    where: url,
    listen: c.listen,
    // The SDK sends the file's content as the Authorization header: no trailing newline.
    beforeStart: () => writeFileAtomic(c.tokenFile, authToken, c),
    handle(req, res, served) {
      const path = (req.url ?? '/').split('?', 1)[0];
      if (req.method !== 'GET') return sendJson(res, 405, { Code: 'MethodNotAllowed', Message: 'use GET' }, { allow: 'GET' });
      if (path !== c.path) return sendJson(res, 404, { Code: 'NotFound', Message: 'no such path' });
      if (!authorized(req.headers.authorization)) {
        deps.log.log('warn', 'aws-container request refused: missing or wrong authorization token', { output: url });
        return sendJson(res, 401, { Code: 'AccessDenied', Message: 'missing or wrong Authorization token' });
      }
      const current = served();
      if (!current) return sendJson(res, 503, { Code: 'CredentialsUnavailable', Message: 'no unexpired credentials yet' }, { 'retry-after': '1' });
      sendJson(res, 200, current.value);
    },
    serve: (cred) => ({
      AccessKeyId: requireValue(cred, c.values.AccessKeyId),
      SecretAccessKey: requireValue(cred, c.values.SecretAccessKey),
      Token: requireValue(cred, c.values.Token),
      Expiration: new Date(cred.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    }),
    env: () => ({ AWS_CONTAINER_CREDENTIALS_FULL_URI: url, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: c.tokenFile }),
  }, deps);
}
