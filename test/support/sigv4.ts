/**
 * AWS Signature Version 4 as the AWS services check it, for the local STS and EC2 servers: parse
 * the Authorization header and recompute the signature over the canonical request. One copy, so
 * every fake verifies the SDK's signatures the same way.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The parts of a SigV4 Authorization header. */
export interface SigV4Header {
  readonly accessKeyId: string;
  /** YYYYMMDD of the credential scope. */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** The X-Amz-Date header. */
  readonly amzDate: string;
}

/** A request header as one string (repeated headers joined). */
export function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

/** Parse `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`; null when it is not one. */
export function parseSigV4(req: IncomingMessage): SigV4Header | null {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
  if (!m) return null;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string, string];
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature, amzDate: header(req, 'x-amz-date') };
}

/** True when `sig` is the signature of this request and body with `secretAccessKey`. */
export function sigV4Matches(req: IncomingMessage, body: string, sig: SigV4Header, secretAccessKey: string): boolean {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const query = [...url.searchParams].map(([k, v]) => [rfc3986(k), rfc3986(v)] as const).sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const canonical = [
    req.method ?? 'POST',
    url.pathname,
    query.map(([k, v]) => `${k}=${v}`).join('&'),
    sig.signedHeaders.map((n) => `${n}:${header(req, n).trim().replace(/\s+/g, ' ')}\n`).join(''),
    sig.signedHeaders.join(';'),
    header(req, 'x-amz-content-sha256') || createHash('sha256').update(body).digest('hex'),
  ].join('\n');
  const scope = `${sig.date}/${sig.region}/${sig.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${sig.amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  let key: Buffer = hmac(`AWS4${secretAccessKey}`, sig.date);
  for (const part of [sig.region, sig.service, 'aws4_request']) key = hmac(key, part);
  return timingSafeEqual(hmac(key, toSign), Buffer.from(sig.signature, 'hex'));
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** URI encoding as SigV4 wants it (RFC 3986 unreserved characters only). */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
