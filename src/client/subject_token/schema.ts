/**
 * The configuration of the subject token sources that obtain a proof from the machine itself (a VM's
 * metadata service): one entry each, `source` naming the module beside this file. The sidecar's
 * configuration and `stint exchange --subject-token-source` validate with it; the sources' run-time
 * code never loads zod.
 */
import { z } from 'zod';

/** A metadata-service base URL: http(s), no credentials. */
const endpointUrl = z.string().url().refine((u) => /^https?:\/\//.test(u) && !/^https?:\/\/[^/]*@/.test(u), 'expected an http(s) URL without credentials');

/**
 * Subject token sources that obtain the proof from the machine itself (a VM): one entry each,
 * `source` naming the module beside this file.
 */
const tokenSources = [
  /** EC2 instance identity document and signature from IMDSv2; the client nonce is kept in `nonceFile`. */
  z.object({
    source: z.literal('aws-iid'),
    imdsEndpoint: endpointUrl.default('http://169.254.169.254'),
    signature: z.enum(['rsa2048', 'pkcs7', 'signature']).default('rsa2048'),
    nonceFile: z.string().min(1).default('/var/lib/stint-sidecar/aws-iid.nonce'),
  }).strict(),
  /** A sts:GetCallerIdentity request signed with the AWS SDK's default credential chain. */
  z.object({
    source: z.literal('aws-iam'),
    /** The server id Stint's aws-iam attestor expects (signed header `X-Stint-Server-ID`). */
    serverId: z.string().min(1),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/).default('us-east-1'),
    /** STS endpoint to sign for (default the regional endpoint); Stint forwards only to its own allowlist. */
    stsEndpoint: endpointUrl.optional(),
  }).strict(),
  /** The GCE instance identity token (format=full) for Stint's audience from the metadata server. */
  z.object({
    source: z.literal('gcp-instance'),
    audience: z.string().min(1),
    /** host[:port] of the metadata server (default $GCE_METADATA_HOST or metadata.google.internal). */
    metadataHost: z.string().min(1).optional(),
  }).strict(),
  /** A managed identity token for Stint's application id URI from Azure IMDS. */
  z.object({
    source: z.literal('azure-msi'),
    resource: z.string().min(1),
    /** A user-assigned identity's client id (default: the system-assigned identity). */
    clientId: z.string().min(1).optional(),
    imdsEndpoint: endpointUrl.default('http://169.254.169.254'),
  }).strict(),
  /** The IMDS attested document, signed over a nonce Stint issued. */
  z.object({
    source: z.literal('azure-imds'),
    imdsEndpoint: endpointUrl.default('http://169.254.169.254'),
  }).strict(),
] as const;

/** Every VM source's configuration, discriminated by `source`. */
export const subjectTokenSourceSchema = z.discriminatedUnion('source', [...tokenSources]);
/** A VM subject token source's configuration. */
export type SubjectTokenSourceConfig = z.output<typeof subjectTokenSourceSchema>;
