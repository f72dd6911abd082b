/**
 * One form POST to Stint (application/x-www-form-urlencoded in, JSON out) over node:http(s), with
 * the limits every client of Stint keeps: one deadline for the whole call, a bounded answer, and
 * network failures as StintErrors (ERR_UNAVAILABLE) that name the socket error, never the form.
 */
import { readBounded } from '../http/bounded_read.js';
import type { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { StintError } from '../errors.js';

/** Largest answer read from Stint by default (a token answer is a few kilobytes). */
export const MAX_RESPONSE_BYTES = 256 * 1024;

/** A non-network answer: the HTTP status and the JSON object (empty when the body is not a JSON object). */
export interface FormAnswer {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
}

/** How to send one POST. */
export interface PostOptions {
  readonly send: typeof httpRequest;
  readonly agent: HttpAgent | HttpsAgent;
  /** Milliseconds for the whole call, connection to last byte. */
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

/**
 * POST `form` to `url`. Rejects with ERR_UNAVAILABLE: reason `unreachable` (the socket error in
 * `details.networkError`), `timeout`, `response_too_large`, or `bad_response` (a 200 that is not a
 * JSON object). Any other answer resolves, whatever its status.
 */
export function postForm(url: URL, form: URLSearchParams, options: PostOptions): Promise<FormAnswer> {
  const payload = Buffer.from(form.toString());
  const origin = url.origin;
  return new Promise((resolvePost, rejectPost) => {
    let settled = false;
    const finish = (error: StintError | null, answer?: FormAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (error) {
        req.destroy();
        rejectPost(error);
      } else resolvePost(answer!);
    };
    const tooLarge = (): StintError => new StintError('ERR_UNAVAILABLE', `Stint at ${origin} answered more than ${options.maxResponseBytes} bytes`, { reason: 'response_too_large' });
    const req = options.send(
      url,
      {
        method: 'POST',
        agent: options.agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': payload.length, accept: 'application/json' },
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        readBounded(res, options.maxResponseBytes, tooLarge).then(
          (raw) => {
            let body: unknown = null;
            try {
              body = JSON.parse(raw.toString('utf8'));
            } catch {
              // Not JSON: a proxy's error page, or nothing.
            }
            const object = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
            if (!object && status === 200) return finish(new StintError('ERR_UNAVAILABLE', `unexpected response from Stint (HTTP ${status})`, { reason: 'bad_response' }));
            finish(null, { status, body: object ?? {} });
          },
          (e: unknown) => finish(e instanceof StintError ? e : unreachable(origin, e as NodeJS.ErrnoException)),
        );
      },
    );
    const deadline = setTimeout(() => finish(new StintError('ERR_UNAVAILABLE', `cannot reach Stint at ${origin}: no answer within ${options.timeoutMs} ms`, { reason: 'timeout' })), options.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish(unreachable(origin, e)));
    req.end(payload);
  });
}

function unreachable(origin: string, e: NodeJS.ErrnoException): StintError {
  const networkError = e.code ?? e.message;
  return new StintError('ERR_UNAVAILABLE', `cannot reach Stint at ${origin}: ${networkError}`, { reason: 'unreachable', networkError });
}
