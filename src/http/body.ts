/**
 * Reading a request body: the content type checked first, the size capped (declared and actual).
 * Shared by the exchange's HTTP listener and the webhook.
 */
import type { IncomingMessage } from 'node:http';
import { StintError, type ErrorCode } from '../errors.js';

/** What a body must be. */
export interface BodyLimits {
  /** The media type required (parameters such as charset ignored). */
  readonly contentType: string;
  /** What the content type is, in the error (e.g. "an AdmissionReview"). */
  readonly describe?: string;
  readonly maxBytes: number;
  /** The code of an oversized body. */
  readonly tooLargeCode: ErrorCode;
}

/** The whole body, or a StintError (the rest of the request drained, so the connection stays usable). */
export async function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== limits.contentType) {
    req.resume();
    throw new StintError('ERR_INVALID_REQUEST', `content-type must be ${limits.contentType}${limits.describe ? ` (${limits.describe})` : ''}`, { field: 'content-type' });
  }
  const tooLarge = (): StintError => {
    req.resume();
    return new StintError(limits.tooLargeCode, `request body above ${limits.maxBytes} bytes`);
  };
  if (Number(req.headers['content-length'] ?? 0) > limits.maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limits.maxBytes) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
