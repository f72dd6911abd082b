/**
 * The optional live check of an attested EC2 instance: DescribeInstances through the real
 * @aws-sdk/client-ec2 with the credentials Stint is given, refusing an instance that is stopped,
 * terminated or gone, and reading its tags for policy. Answers are cached briefly per instance and
 * concurrent checks of one instance share one call; refusals and failures are never cached.
 */
import type { EC2Client, Instance } from '@aws-sdk/client-ec2';
import type { Clock } from '../../clock.js';
import { ConfigError, StintError, TokenError } from '../../errors.js';
import type { ClaimValue } from '../attestor.js';
import type { AwsIidAttestorConfig } from './iid_config.js';

type DescribeConfig = NonNullable<AwsIidAttestorConfig['describeInstances']>;

/** What the live check learnt: claims to add and until when it holds (epoch ms). */
export interface InstanceCheck {
  readonly claims: Readonly<Record<string, ClaimValue>>;
  readonly validUntil: number;
}

/** Checks one instance against EC2. */
export interface InstanceChecker {
  check(input: { account: string; region: string; instanceId: string; fingerprint: string }): Promise<InstanceCheck>;
  close(): void;
}

const LIVE_STATES = new Set(['pending', 'running']);

/** Build the checker; credentials from environment variables are read now (a missing one is a ConfigError). */
export function createInstanceChecker(config: DescribeConfig, clock: Clock, configPath: string): InstanceChecker {
  const credentials = config.credentials ? readCredentials(config.credentials, `${configPath}.credentials`) : undefined;
  const clients = new Map<string, EC2Client>();
  const cache = new Map<string, InstanceCheck>();
  const inflight = new Map<string, Promise<InstanceCheck>>();

  // The EC2 SDK (~90 MiB once loaded) is imported at the first DescribeInstances, not at start.
  let sdk: Promise<typeof import('@aws-sdk/client-ec2')> | null = null;
  const clientFor = async (region: string): Promise<{ client: EC2Client; DescribeInstancesCommand: typeof import('@aws-sdk/client-ec2').DescribeInstancesCommand }> => {
    sdk ??= import('@aws-sdk/client-ec2');
    const { EC2Client, DescribeInstancesCommand } = await sdk;
    let client = clients.get(region);
    if (!client) {
      client = new EC2Client({
        region,
        maxAttempts: 2,
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        ...(credentials ? { credentials } : {}),
        requestHandler: { requestTimeout: config.timeout * 1000, connectionTimeout: config.timeout * 1000 },
      });
      clients.set(region, client);
    }
    return { client, DescribeInstancesCommand };
  };

  const describe = async (account: string, region: string, instanceId: string, fingerprint: string): Promise<InstanceCheck> => {
    let instance: Instance | undefined;
    let owner: string | undefined;
    try {
      const { client, DescribeInstancesCommand } = await clientFor(region);
      const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const reservation = out.Reservations?.find((r) => r.Instances?.some((i) => i.InstanceId === instanceId));
      instance = reservation?.Instances?.find((i) => i.InstanceId === instanceId);
      owner = reservation?.OwnerId;
    } catch (e) {
      const name = (e as { name?: string }).name ?? 'Error';
      if (name === 'InvalidInstanceID.NotFound' || name === 'InvalidInstanceID.Malformed') {
        throw new TokenError('ERR_TOKEN_REVIEW_REJECTED', 'EC2 does not know the attested instance', { reason: 'instance_not_found', fingerprint });
      }
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw new StintError('ERR_ISSUER_UNAVAILABLE', `EC2 DescribeInstances failed (${name}${status ? `, HTTP ${status}` : ''})`, { reason: 'describe_instances_failed', upstreamReason: name, fingerprint });
    }
    if (!instance) throw new TokenError('ERR_TOKEN_REVIEW_REJECTED', 'EC2 does not know the attested instance', { reason: 'instance_not_found', fingerprint });
    if (owner !== undefined && owner !== account) {
      throw new TokenError('ERR_TOKEN_REVIEW_REJECTED', 'EC2 reports another owner for the attested instance', { reason: 'instance_owner_mismatch', fingerprint });
    }
    const state = instance.State?.Name ?? 'unknown';
    if (!LIVE_STATES.has(state)) {
      throw new TokenError('ERR_TOKEN_REVIEW_REJECTED', `the attested instance is ${state}`, { reason: 'instance_not_running', state, fingerprint });
    }
    const claims: Record<string, ClaimValue> = { instance_state: state };
    if (config.tags) {
      for (const tag of instance.Tags ?? []) {
        if (typeof tag.Key === 'string' && typeof tag.Value === 'string') claims[`tags.${tag.Key}`] = tag.Value;
      }
    }
    return { claims, validUntil: clock.now() + config.cacheTtl * 1000 };
  };

  return {
    async check({ account, region, instanceId, fingerprint }) {
      const key = `${account}/${region}/${instanceId}`;
      const cached = cache.get(key);
      if (cached && cached.validUntil > clock.now()) return cached;
      cache.delete(key);
      let pending = inflight.get(key);
      if (!pending) {
        pending = describe(account, region, instanceId, fingerprint).finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      const result = await pending;
      if (config.cacheTtl > 0) {
        if (cache.size >= 10_000) cache.delete(cache.keys().next().value as string);
        cache.set(key, result);
      }
      return result;
    },
    close() {
      for (const c of clients.values()) c.destroy();
      clients.clear();
    },
  };
}

function readCredentials(c: NonNullable<DescribeConfig['credentials']>, path: string): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
  const read = (name: string, key: string): string => {
    const v = process.env[name]?.trim();
    if (!v) throw new ConfigError('ERR_CONFIG_INVALID', `${path}.${key}`, `environment variable ${name} is not set`);
    return v;
  };
  return {
    accessKeyId: read(c.accessKeyIdEnv, 'accessKeyIdEnv'),
    secretAccessKey: read(c.secretAccessKeyEnv, 'secretAccessKeyEnv'),
    ...(c.sessionTokenEnv ? { sessionToken: read(c.sessionTokenEnv, 'sessionTokenEnv') } : {}),
  };
}
