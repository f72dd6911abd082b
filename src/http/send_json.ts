/** Answering an HTTP request with JSON: one writer for the service's listeners, the webhook and the sidecar's. */
import type { ServerResponse } from 'node:http';

/** Answer `status` with `body` as JSON (content type and length set; `headers` added). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
