/**
 * An unmodified google-auth-library application, for sidecar tests: Application Default
 * Credentials with only GCE_METADATA_HOST pointing at the sidecar. It asks for the project id
 * and then an access token `count` times, `intervalMs` apart, printing one JSON line each
 * (the token's SHA-256 prefix, never the token).
 *
 *   node dist/test/sidecar/gcp_client.js COUNT INTERVAL_MS
 */
import { createHash } from 'node:crypto';
import { GoogleAuth } from 'google-auth-library';

const [count = '1', intervalMs = '0'] = process.argv.slice(2);
const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
try {
  const projectId = await auth.getProjectId();
  const client = await auth.getClient();
  console.log(JSON.stringify({ projectId, client: client.constructor.name }));
  for (let i = 0; i < Number(count); i++) {
    const { token } = await client.getAccessToken();
    console.log(JSON.stringify({ token: token ? createHash('sha256').update(token).digest('hex').slice(0, 16) : null }));
    if (i + 1 < Number(count)) await new Promise((r) => setTimeout(r, Number(intervalMs)));
  }
} catch (e) {
  console.log(JSON.stringify({ error: (e as Error).name, message: (e as Error).message.split('\n')[0] }));
}
