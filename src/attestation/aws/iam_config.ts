/** Configuration of the `aws-iam` attestor: Stint's server id, the STS endpoints it forwards to, accounts and time bounds. */
import { z } from 'zod';
import { boundedDuration } from '../../config/fields.js';
import { attestorCommonFields } from '../common_fields.js';
import { endpointUrlProblem } from '../../net/endpoint_url.js';
import { awsAccountSchema } from './iid_config.js';

const endpoint = z.string().url().superRefine((v, ctx) => {
  const problem = endpointUrlProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
  else if (new URL(v).pathname !== '/' || new URL(v).search !== '') ctx.addIssue({ code: 'custom', message: 'an STS endpoint is an origin: no path or query' });
});

/** Configuration of an aws-iam attestor. */
export const awsIamAttestorSchema = z.object({
  kind: z.literal('aws-iam'),
  ...attestorCommonFields,
  /** The value clients sign in the `X-Stint-Server-ID` header: binds a signed request to this Stint. */
  serverId: z.string().min(1).max(256).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces'),
  /** The STS endpoints Stint forwards to; a request's host must be one of theirs. */
  endpoints: z.array(endpoint).min(1).default(['https://sts.amazonaws.com/']),
  /** Accounts whose principals may attest (absent: any account; policy must then pin it). */
  accounts: z.array(awsAccountSchema).min(1).optional(),
  /** Tolerance for an `X-Amz-Date` in the future. */
  clockSkew: boundedDuration(0, 300).default(60),
  /** Timeout of the forwarded call. */
  timeout: boundedDuration(1, 60).default(5),
  /** Largest accepted envelope, in bytes. */
  maxTokenBytes: z.number().int().min(1024).max(65536).default(16384),
}).strict();
/** A validated aws-iam attestor configuration. */
export type AwsIamAttestorConfig = z.output<typeof awsIamAttestorSchema>;
