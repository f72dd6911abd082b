/** `/healthz`, `/readyz` and `/metrics` of the sidecar. */
import type { Server } from 'node:http';
import type { CredentialKeeper } from './keeper.js';
import type { Logger } from './log.js';
import type { SidecarMetrics } from './metrics.js';
import { listen, sendJson } from './outputs/listen.js';

/** Readiness: every required credential present, unexpired, and in every one of its outputs. */
export function readiness(keepers: readonly CredentialKeeper[]): { ready: boolean; checks: Record<string, true | string> } {
  const checks: Record<string, true | string> = {};
  let ready = true;
  for (const k of keepers) {
    const served = k.serving();
    const ok = served && k.outputFailures.length === 0;
    const missing = k.revokedGrant
      ? `credential revoked (grant ${k.revokedGrant})${k.lastError ? `; exchange refused (${k.lastError.code})` : ''}`
      : k.lastError
        ? `no unexpired credential (${k.lastError.code})`
        : 'no credential yet';
    checks[k.request.name] = ok ? true : !served ? missing : `output not updated: ${k.outputFailures.join('; ')}`;
    if (!ok && k.required) ready = false;
  }
  return { ready, checks };
}

/** Start the operations listener; `log` hears of handler failures (default: JSON lines on stdout). */
export function startOpsServer(hostPort: string, keepers: readonly CredentialKeeper[], metrics: SidecarMetrics, now: () => number, log?: Logger): Promise<Server> {
  return listen(hostPort, (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET' });
    switch (path) {
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz': {
        const { ready, checks } = readiness(keepers);
        return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
      }
      case '/metrics': {
        const text = metrics.render(now());
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        return res.end(text);
      }
      default:
        return sendJson(res, 404, { error: 'not found' });
    }
  }, { name: 'ops', ...(log ? { log } : {}) });
}
