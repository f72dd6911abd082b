/** A small form-POST client over node:http(s) with a CA bundle and a timeout (no extra dependencies): the GitHub Actions step and `stint exchange` post with it. */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The answer of one POST: status and parsed JSON (or null when the body is not JSON). */
export interface FormResponse {
  readonly status: number;
  readonly json: Record<string, unknown> | null;
}

/** POST `form` to `url`; rejects on network errors and timeouts only. */
export function postForm(url: URL, form: Record<string, string | undefined>, options: { ca?: string; timeoutMs: number }): Promise<FormResponse> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) if (v !== undefined && v !== '') body.set(k, v);
  const text = body.toString();
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(text), accept: 'application/json' },
        ...(options.ca ? { ca: options.ca } : {}),
        timeout: options.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let json: Record<string, unknown> | null = null;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`timed out after ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(text);
  });
}
