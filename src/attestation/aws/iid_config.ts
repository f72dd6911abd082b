/** Configuration of the `aws-iid` attestor: AWS's certificates, accounts, replay rule and the optional DescribeInstances check. */
import { z } from 'zod';
import { boundedDuration, durationSchema } from '../../config/fields.js';
import { attestorCommonFields } from '../common_fields.js';
import { endpointUrlProblem } from '../../net/endpoint_url.js';

/** An AWS region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`). */
export const awsRegionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region such as us-east-1');
/** A 12-digit AWS account id. */
export const awsAccountSchema = z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id');

const pathList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((v) => (typeof v === 'string' ? [v] : v));

const endpoint = z.string().url().superRefine((v, ctx) => {
  const problem = endpointUrlProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** The optional live check of the instance through EC2 DescribeInstances. */
export const describeInstancesSchema = z.object({
  /** EC2 endpoint override (default: the SDK's regional endpoint for the document's region). */
  endpoint: endpoint.optional(),
  /** Credentials: the SDK's default chain (absent) or environment variables holding them. */
  credentials: z.object({
    accessKeyIdEnv: z.string().min(1),
    secretAccessKeyEnv: z.string().min(1),
    sessionTokenEnv: z.string().min(1).optional(),
  }).strict().optional(),
  /** How long one answer is reused for the same instance (0 to 5 minutes). */
  cacheTtl: boundedDuration(0, 300).default(60),
  /** Timeout of one DescribeInstances call. */
  timeout: boundedDuration(1, 60).default(5),
  /** Copy the instance's tags into claims `tags.<key>`. */
  tags: z.boolean().default(true),
}).strict();

/** Configuration of an aws-iid attestor. */
export const awsIidAttestorSchema = z.object({
  kind: z.literal('aws-iid'),
  ...attestorCommonFields,
  /**
   * AWS's public certificates for instance identity signatures: one PEM file (or list) holding
   * every region's certificates, or a map from region to its file(s). Never taken from the token.
   */
  certificates: z.union([pathList, z.record(awsRegionSchema, pathList)]),
  /** Accounts whose instances may attest (absent: any account; policy must then pin it). */
  accounts: z.array(awsAccountSchema).min(1).optional(),
  /** Signature formats accepted (default all three IMDS serves). */
  formats: z.array(z.enum(['rsa2048', 'pkcs7', 'signature'])).min(1).default(['rsa2048', 'pkcs7', 'signature']),
  /** Refuse documents of instances started longer ago than this (absent: no limit). */
  maxAge: durationSchema.optional(),
  /** How long an instance stays bound to the first client nonce it presented. */
  bindingTtl: boundedDuration(60, 366 * 86400).default(30 * 86400),
  /** Live check of the instance (state, tags) through EC2 DescribeInstances. */
  describeInstances: describeInstancesSchema.optional(),
  /** Largest accepted envelope, in bytes. */
  maxTokenBytes: z.number().int().min(1024).max(65536).default(16384),
}).strict();
/** A validated aws-iid attestor configuration. */
export type AwsIidAttestorConfig = z.output<typeof awsIidAttestorSchema>;
