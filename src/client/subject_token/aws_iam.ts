/**
 * Subject token source `aws-iam`: a sts:GetCallerIdentity request signed with the AWS SDK's
 * default credential chain (@aws-sdk/credential-provider-node: environment, shared files, SSO,
 * container and instance roles) and @smithy/signature-v4, including Stint's `X-Stint-Server-ID`
 * header among the signed headers, presented as the JSON envelope the aws-iam attestor checks
 * (src/attestation/aws/README.md). The request is never sent to STS by the sidecar: Stint forwards it.
 */
import { createHash, createHmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { StintError } from '../../errors.js';
import { AWS_IAM_TOKEN_TYPE } from '../../attestation/token_types.js';
import type { SubjectTokenSourceConfig } from './schema.js';
import type { SourceContext, SubjectTokenSource } from './source.js';

/** AWS credentials as the SDK's providers return them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The body of every GetCallerIdentity request Stint accepts. */
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

/** SHA-256 (and HMAC-SHA-256 when keyed) for SignatureV4, on node:crypto. */
export class NodeSha256 {
  readonly #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

function toBuffer(v: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return Buffer.from(v);
}

/** Sign a GetCallerIdentity request for `endpoint` (an STS origin) and return the aws-iam envelope (JSON). */
export async function signGetCallerIdentity(input: { credentials: AwsCredentials; region: string; endpoint: string; serverId: string; now?: Date }): Promise<string> {
  const url = new URL(input.endpoint);
  const signer = new SignatureV4({ service: 'sts', region: input.region, credentials: input.credentials, sha256: NodeSha256 });
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: '/',
    headers: {
      host: url.host,
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      accept: 'application/json',
      'x-stint-server-id': input.serverId,
    },
    body: GET_CALLER_IDENTITY_BODY,
  });
  const signed = await signer.sign(request, { signingDate: input.now ?? new Date() });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k] = String(v);
  return JSON.stringify({ method: 'POST', url: `${url.protocol}//${url.host}/`, headers, body: GET_CALLER_IDENTITY_BODY });
}

/** Create the aws-iam source. */
export function createAwsIamSource(config: Extract<SubjectTokenSourceConfig, { source: 'aws-iam' }>, ctx: SourceContext): SubjectTokenSource {
  const credentials = defaultProvider();
  const endpoint = config.stsEndpoint ?? `https://sts.${config.region}.amazonaws.com/`;
  return {
    name: config.source,
    async read() {
      let creds: AwsCredentials;
      try {
        creds = await credentials();
      } catch (e) {
        throw new StintError('ERR_UNAVAILABLE', `no AWS credentials from the default chain (${(e as Error).name})`, { reason: 'aws_credentials_unavailable' });
      }
      const value = await signGetCallerIdentity({ credentials: creds, region: config.region, endpoint, serverId: config.serverId, now: new Date(ctx.now()) });
      return { type: AWS_IAM_TOKEN_TYPE, value };
    },
  };
}
