/**
 * An unmodified AWS SDK v3 application, for sidecar tests: one STSClient with the SDK's default
 * credential chain (the environment names only the container endpoint and its token file). It
 * resolves credentials `count` times, `intervalMs` apart, and prints one JSON line each:
 * the access key id it signed with and, with `identity`, the caller ARN STS returned.
 *
 *   node dist/test/sidecar/aws_client.js REGION ENDPOINT COUNT INTERVAL_MS [identity]
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

const [region = 'us-east-1', endpoint, count = '1', intervalMs = '0', mode = 'credentials'] = process.argv.slice(2);
const client = new STSClient({ region, ...(endpoint ? { endpoint } : {}), maxAttempts: 1 });
for (let i = 0; i < Number(count); i++) {
  try {
    const creds = await client.config.credentials();
    const line: Record<string, unknown> = { accessKeyId: creds.accessKeyId, expiration: creds.expiration?.toISOString() };
    if (mode === 'identity') line.arn = (await client.send(new GetCallerIdentityCommand({}))).Arn;
    console.log(JSON.stringify(line));
  } catch (e) {
    console.log(JSON.stringify({ error: (e as Error).name, message: (e as Error).message.split('\n')[0] }));
  }
  if (i + 1 < Number(count)) await new Promise((r) => setTimeout(r, Number(intervalMs)));
}
client.destroy();
