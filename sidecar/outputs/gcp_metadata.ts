/**
 * `type: gcp-metadata`: the parts of the GCE metadata server that google-auth-library and the
 * gcloud SDKs use, on loopback, named by `GCE_METADATA_HOST`: the detection probes (`/` and
 * `/computeMetadata/v1/instance`), project id, universe domain, the default service account's
 * email and scopes, and its access token. Like the real server, every request must carry
 * `Metadata-Flavor: Google` and must not carry `X-Forwarded-For` (not even empty: presence
 * refuses); every answer carries `Metadata-Flavor: Google`. A `Host` other than the listener's
 * own address (`host:port` or `host`) or `metadata.google.internal` is refused: a page whose
 * name was rebound to loopback (DNS rebinding) cannot read the token.
 */
import type { ServerResponse } from 'node:http';
import { splitHostPort } from '../../src/net/host_port.js';
import { createEndpointOutput, type ServedValue } from './endpoint.js';
import { sendJson, sendText } from './listen.js';
import type { Output, OutputDeps } from './output.js';

/** Configuration of a gcp-metadata output. */
export interface GcpMetadataOutputConfig {
  readonly listen: string;
  readonly projectId: string;
  readonly numericProjectId?: string;
  readonly serviceAccountEmail: string;
  readonly scopes: readonly string[];
}

const FLAVOR = { 'metadata-flavor': 'Google', server: 'Metadata Server for VM' };
const V1 = '/computeMetadata/v1';

/** Percent-decode a path segment; null when the encoding is malformed (`%E0%A4%A`), which is a 404. */
function decodeSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** The Host values this listener answers: its own `host:port` and `host`, and the metadata server's name. */
export function allowedHosts(listenAddress: string): Set<string> {
  const { host, port } = splitHostPort(listenAddress);
  const named = host.includes(':') ? `[${host}]` : host;
  return new Set([`${named}:${port}`, named, 'metadata.google.internal', `metadata.google.internal:${port}`].map((h) => h.toLowerCase()));
}

/** Create the endpoint. */
export function createGcpMetadataOutput(c: GcpMetadataOutputConfig, deps: OutputDeps): Output {
  const accounts = new Set(['default', c.serviceAccountEmail]);
  const hosts = allowedHosts(c.listen);

  const text = (res: ServerResponse, body: string): void => sendText(res, 200, body, { ...FLAVOR, 'content-type': 'application/text' });
  const notFound = (res: ServerResponse): void => sendText(res, 404, 'Not Found\n', FLAVOR);

  const account = (res: ServerResponse, rest: string, recursive: boolean, served: () => ServedValue<string> | null): void => {
    const info = { aliases: ['default'], email: c.serviceAccountEmail, scopes: c.scopes };
    switch (rest) {
      case '':
        return recursive ? sendJson(res, 200, info, FLAVOR) : text(res, 'aliases\nemail\nidentity\nscopes\ntoken\n');
      case 'email':
        return text(res, c.serviceAccountEmail);
      case 'aliases':
        return text(res, 'default\n');
      case 'scopes':
        return text(res, `${c.scopes.join('\n')}\n`);
      case 'token': {
        const current = served();
        if (!current) return sendText(res, 503, 'no unexpired access token yet\n', FLAVOR);
        const expiresIn = Math.max(0, Math.floor((current.expiresAt - current.now) / 1000));
        return sendJson(res, 200, { access_token: current.value, expires_in: expiresIn, token_type: 'Bearer' }, FLAVOR);
      }
      default:
        return notFound(res);
    }
  };

  return createEndpointOutput<string>({
    type: 'gcp-metadata',
    where: `http://${c.listen}`,
    listen: c.listen,
    serve: (cred) => cred.token,
    handle(req, res, served) {
      const [pathPart, query = ''] = (req.url ?? '/').split('?', 2) as [string, string?];
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method Not Allowed\n', FLAVOR);
      // Presence, not value: an empty X-Forwarded-For still says a proxy is in the way.
      if (req.headers['x-forwarded-for'] !== undefined) return sendText(res, 403, 'Forbidden: X-Forwarded-For\n', FLAVOR);
      if (!hosts.has((req.headers.host ?? '').toLowerCase())) return sendText(res, 403, 'Forbidden: Host\n', FLAVOR);
      if (pathPart === '/' || pathPart === '') return text(res, 'computeMetadata/\n');
      if (req.headers['metadata-flavor'] !== 'Google') return sendText(res, 403, 'Missing Metadata-Flavor:Google header.\n', FLAVOR);
      const recursive = /(^|&)recursive=true(&|$)/.test(query);
      const path = pathPart.replace(/\/+$/, '');
      if (path === '/computeMetadata' ) return text(res, 'v1/\n');
      if (path === V1) return text(res, 'instance/\nproject/\nuniverse/\n');
      if (path === `${V1}/instance`) return text(res, 'service-accounts/\n');
      if (path === `${V1}/instance/service-accounts`) return text(res, `${[...accounts].map((a) => `${a}/`).join('\n')}\n`);
      if (path === `${V1}/project/project-id`) return text(res, c.projectId);
      if (path === `${V1}/project/numeric-project-id` && c.numericProjectId) return text(res, c.numericProjectId);
      if (path === `${V1}/project`) return text(res, `project-id\n${c.numericProjectId ? 'numeric-project-id\n' : ''}`);
      if (path === `${V1}/universe/universe-domain`) return text(res, 'googleapis.com');
      const m = /^\/computeMetadata\/v1\/instance\/service-accounts\/([^/]+)(?:\/(.*))?$/.exec(path);
      const name = m ? decodeSegment(m[1]!) : null;
      if (m && name !== null && accounts.has(name)) return account(res, m[2] ?? '', recursive, served);
      notFound(res);
    },
    env: () => ({ GCE_METADATA_HOST: c.listen }),
  }, deps);
}
