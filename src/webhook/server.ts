/**
 * The webhook's HTTPS listener: `POST /mutate` takes an AdmissionReview from the API server and
 * answers it; `GET /healthz` for probes. One log line per admission. The serving certificate is
 * re-read when its files change (cert-manager or a re-rendered chart Secret rotate it), so a
 * rotation needs no restart.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { readTls } from '../config/tls.js';
import { StintError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { readBody } from '../http/body.js';
import { toOAuthError } from '../http/oauth_error.js';
import { sendJson } from '../http/send_json.js';
import { DEFAULT_LISTENER_LIMITS, httpServerOptions, limitConnections, type ListenerLimits } from '../net/connections.js';
import { guardHttp } from '../net/guard.js';
import { reviewAdmission } from './admission.js';
import type { InjectorSettings } from './settings.js';

/** The path the MutatingWebhookConfiguration names. */
export const MUTATE_PATH = '/mutate';
/** An AdmissionReview holds the pod twice at most; etcd caps an object at 1.5 MiB. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** What the listener needs. */
export interface WebhookServerDeps {
  readonly settings: InjectorSettings;
  readonly logger: Logger;
  readonly tls: { readonly certFile: string; readonly keyFile: string };
  /** The certificate and key as already read from `tls` at start (else read here); reloads read the files. */
  readonly initialTls?: { readonly cert: Buffer; readonly key: Buffer };
  /** How often the certificate files are checked for a change (ms; default 60 s; 0: never). */
  readonly tlsReloadIntervalMs?: number;
  /** Idle, handshake and per-source limits (the `connections` configuration). */
  readonly limits?: ListenerLimits;
  /** Told the certificate in use, at start and after each reload (its expiry is a metric). */
  readonly onCertificate?: (cert: Buffer) => void;
}

/** A webhook listener (not yet listening). */
export interface WebhookServer {
  readonly server: Server;
  /** Re-read the certificate files now; true when a new certificate was loaded. */
  reloadTls(): boolean;
  close(): Promise<void>;
}

/** Create the webhook listener; reads the certificate now (ConfigError naming `webhook.tls` if unreadable). */
export function createWebhookServer(deps: WebhookServerDeps): WebhookServer {
  const read = () => readTls(deps.tls, 'webhook.tls');
  const first = deps.initialTls ?? read();
  let digest = fingerprint(first);
  deps.onCertificate?.(first.cert);
  // No request can end the process: every failure is answered with its code (guardHttp).
  const answer = (res: ServerResponse, error: StintError): void => {
    if (error.code !== 'ERR_INTERNAL') deps.logger.warn({ code: error.code, err: error.message }, 'admission review refused');
    sendError(res, error);
  };
  const limits = deps.limits ?? DEFAULT_LISTENER_LIMITS;
  const server = createServer({ ...httpServerOptions(limits), cert: first.cert, key: first.key, minVersion: 'TLSv1.2' }, guardHttp('webhook', (req, res) => handle(deps, req, res), answer, deps.logger));
  limitConnections(server, limits, (source) => deps.logger.warn({ listener: 'webhook', source, maxPerSource: limits.maxPerSource }, 'connection refused: too many from one source'));

  const reloadTls = (): boolean => {
    let next;
    try {
      next = read();
    } catch (e) {
      deps.logger.warn({ err: (e as Error).message }, 'webhook certificate unreadable; keeping the current one');
      return false;
    }
    const d = fingerprint(next);
    if (d === digest) return false;
    try {
      server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
    } catch (e) {
      // A rotation caught half-way (new certificate, old key): the next check picks up the pair.
      deps.logger.warn({ err: (e as Error).message }, 'webhook certificate and key do not load together; keeping the current ones');
      return false;
    }
    digest = d;
    deps.onCertificate?.(next.cert);
    deps.logger.info({ certificate: d.slice(0, 12) }, 'webhook certificate reloaded');
    return true;
  };
  const interval = deps.tlsReloadIntervalMs ?? 60_000;
  const timer = interval > 0 ? setInterval(reloadTls, interval) : null;
  timer?.unref();

  return {
    server,
    reloadTls,
    close: () =>
      new Promise<void>((resolve) => {
        if (timer) clearInterval(timer);
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function fingerprint(tls: { cert: Buffer; key: Buffer }): string {
  return createHash('sha256').update(tls.cert).update('\0').update(tls.key).digest('hex');
}

async function handle(deps: WebhookServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0]!;
  if (path === '/healthz') {
    req.resume();
    return sendJson(res, 200, { status: 'ok' });
  }
  if (path !== MUTATE_PATH) {
    req.resume();
    return sendJson(res, 404, { error: 'not_found', error_description: `no route ${path.slice(0, 100)}` });
  }
  if (req.method !== 'POST') {
    req.resume();
    return sendJson(res, 405, { error: 'invalid_request', error_description: 'method not allowed; use POST' }, { allow: 'POST' });
  }
  const body = await readJson(req);
  const { reply, record } = reviewAdmission(body, deps.settings);
  const line = { uid: record.uid, namespace: record.namespace, pod: record.pod, injected: record.injected, reason: record.reason, ...(record.warnings.length ? { warnings: record.warnings } : {}), ...(record.error ? { error: record.error } : {}) };
  if (record.reason === 'refused') deps.logger.warn(line, 'admission');
  else deps.logger.info(line, 'admission');
  sendJson(res, 200, reply);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks = await readBody(req, { contentType: 'application/json', describe: 'an AdmissionReview', maxBytes: MAX_BODY_BYTES, tooLargeCode: 'ERR_INVALID_REQUEST' });
  try {
    return JSON.parse(chunks.toString('utf8')) as unknown;
  } catch {
    throw new StintError('ERR_INVALID_REQUEST', 'malformed AdmissionReview: the body is not JSON');
  }
}

function sendError(res: ServerResponse, error: StintError): void {
  const { status, body } = toOAuthError(error);
  sendJson(res, status, body, { 'cache-control': 'no-store' });
}
