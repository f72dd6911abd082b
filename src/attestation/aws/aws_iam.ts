/**
 * The `aws-iam` attestor: a signed sts:GetCallerIdentity request (JSON envelope: method, url,
 * headers, body) that Stint checks (sts_request.ts) and forwards to the matching STS endpoint of
 * its own allowlist, never to the request's URL. STS verifies the SigV4 signature; its JSON
 * answer, parsed strictly, names the principal. Identity
 * `spiffe://<td>/aws/<account>/role/<name>` for an assumed role, `.../user/<name>` for a user.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { StintError, TokenError } from '../../errors.js';
import { readBounded } from '../../http/bounded_read.js';
import { defineAttestor, type Attestor, type AttestorDeps, type ClaimValue } from '../attestor.js';
import { AWS_IAM_TOKEN_TYPE } from '../token_types.js';
import { createDocumentAttestor, type AttestedProof } from './document_attestor.js';
import { awsIamAttestorSchema, type AwsIamAttestorConfig } from './iam_config.js';
import { checkSignedRequest, parseCallerIdentity, SIGNATURE_VALIDITY_SECONDS, type CheckedRequest } from './sts_request.js';

/** The issuer of every aws-iam identity. */
export const AWS_IAM_ISSUER = 'aws-iam';

const MAX_RESPONSE_BYTES = 64 * 1024;
const NAME = /^[\w+=,.@-]{1,128}$/;
const ASSUMED_ROLE = /^arn:(aws|aws-cn|aws-us-gov):sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]{2,64})$/;
const USER = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):user\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/;

/** Create an aws-iam attestor. */
export function createAwsIamAttestor(config: AwsIamAttestorConfig, deps: AttestorDeps): Attestor {
  const endpoints = config.endpoints.map((e) => new URL(e));
  const hosts = endpoints.map((u) => u.host);
  const accounts = config.accounts ? new Set(config.accounts) : null;

  return createDocumentAttestor(config, {
    tokenType: AWS_IAM_TOKEN_TYPE,
    what: 'the signed request',
    async verify(value, fp): Promise<AttestedProof> {
      const nowSeconds = Math.floor(deps.clock.now() / 1000);
      const checked = checkSignedRequest(value, { serverId: config.serverId, hosts, nowSeconds, clockSkew: config.clockSkew, fingerprint: fp });
      const caller = await forward(endpoints[checked.endpoint]!, checked, config.timeout, fp);

      if (!/^\d{12}$/.test(caller.account)) throw new StintError('ERR_UPSTREAM_BAD_RESPONSE', 'STS answered an invalid account', { reason: 'sts_response_invalid' });
      const principal = principalOf(caller.arn, caller.account, fp);
      if (accounts && !accounts.has(caller.account)) {
        throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'the principal\'s account is not allowed', { claim: 'account', reason: 'account_not_allowed', fingerprint: fp });
      }
      const claims: Record<string, ClaimValue> = { account: caller.account, arn: caller.arn, user_id: caller.userId, partition: principal.partition, principal_type: principal.type };
      if (principal.type === 'role') {
        claims['role_arn'] = `arn:${principal.partition}:iam::${caller.account}:role/${principal.name}`;
        claims['role_name'] = principal.name;
        claims['session_name'] = principal.session!;
      } else {
        claims['user_name'] = principal.name;
      }
      return {
        issuer: AWS_IAM_ISSUER,
        subject: caller.arn,
        id: `spiffe://${deps.trustDomain}/aws/${caller.account}/${principal.type}/${principal.name}`,
        claims,
        expiresAt: checked.signedAt + SIGNATURE_VALIDITY_SECONDS,
      };
    },
  });
}

interface Principal {
  readonly type: 'role' | 'user';
  readonly partition: string;
  readonly name: string;
  readonly session?: string;
}

function principalOf(arn: string, account: string, fp: string): Principal {
  const role = ASSUMED_ROLE.exec(arn);
  if (role && role[2] === account) return { type: 'role', partition: role[1]!, name: role[3]!, session: role[4]! };
  const user = USER.exec(arn);
  if (user && user[2] === account && NAME.test(user[3]!)) return { type: 'user', partition: user[1]!, name: user[3]! };
  throw new TokenError('ERR_TOKEN_CLAIM_INVALID', 'the caller is neither an assumed role nor an IAM user of its account (root and federated users are refused)', { claim: 'arn', reason: 'principal_not_allowed', fingerprint: fp });
}

/** POST the checked request to the configured endpoint; map STS's answer to an identity or a code. */
async function forward(endpoint: URL, checked: CheckedRequest, timeoutSeconds: number, fp: string): Promise<{ account: string; arn: string; userId: string }> {
  const send = endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
  const { status, contentType, text } = await new Promise<{ status: number; contentType: string | undefined; text: string }>((resolve, reject) => {
    const req = send(
      {
        protocol: endpoint.protocol,
        hostname: endpoint.hostname.replace(/^\[|\]$/g, ''),
        port: endpoint.port || undefined,
        method: 'POST',
        path: checked.pathAndQuery,
        headers: checked.headers,
        timeout: timeoutSeconds * 1000,
      },
      (res: IncomingMessage) => {
        const tooLarge = (): StintError => new StintError('ERR_UPSTREAM_BAD_RESPONSE', 'STS answered more than 64 KiB', { reason: 'sts_response_invalid' });
        readBounded(res, MAX_RESPONSE_BYTES, tooLarge).then(
          (body) => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], text: body.toString('utf8') }),
          reject,
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => reject(e));
    req.end(checked.body);
  }).catch((e: unknown) => {
    if (e instanceof StintError) throw e;
    throw new StintError('ERR_ISSUER_UNAVAILABLE', `STS is unreachable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { reason: 'sts_unavailable', fingerprint: fp, retryAfterSeconds: 1 });
  });
  if (status === 200) return parseCallerIdentity(contentType, text);
  const upstream = errorCodeOf(text);
  if (status >= 500 || status === 429 || upstream === 'Throttling') {
    throw new StintError('ERR_ISSUER_UNAVAILABLE', `STS answered HTTP ${status}`, { reason: 'sts_unavailable', upstreamReason: upstream, fingerprint: fp, retryAfterSeconds: 1 });
  }
  throw new TokenError('ERR_TOKEN_SIGNATURE_INVALID', `STS refused the signed request (HTTP ${status}${upstream ? ` ${upstream}` : ''})`, { reason: 'sts_rejected', upstreamReason: upstream, fingerprint: fp });
}

/** STS's error code from a JSON or XML error body (for messages only; never trusted for identity). */
function errorCodeOf(text: string): string {
  const json = /"Code"\s*:\s*"([A-Za-z0-9.]{1,64})"/.exec(text);
  const xml = /<Code>([A-Za-z0-9.]{1,64})<\/Code>/.exec(text);
  return json?.[1] ?? xml?.[1] ?? 'unknown';
}

/** The aws-iam kind. */
export const AWS_IAM_ATTESTOR = defineAttestor({
  kind: 'aws-iam',
  summary: 'a signed sts:GetCallerIdentity request (IAM role or user), forwarded to an allowlisted STS endpoint',
  schema: awsIamAttestorSchema,
  tokenTypes: [AWS_IAM_TOKEN_TYPE],
  claims: ['account', 'arn', 'role_arn', 'role_name', 'session_name', 'user_id', 'user_name', 'partition', 'principal_type'],
  lint: { scopeClaims: ['account'], workloadClaims: ['role_arn', 'role_name', 'arn', 'user_id', 'user_name'] },
  create: createAwsIamAttestor,
});
