/** Fetch one JSON document from an issuer: bounded time, bounded size, no redirects. */

/** Why a fetch failed; surfaced as `details.reason` of ERR_ISSUER_UNAVAILABLE. */
export class IssuerFetchError extends Error {
  readonly reason: string;
  readonly status: number | undefined;
  constructor(reason: string, message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IssuerFetchError';
    this.reason = reason;
    this.status = status;
  }
}

/** Options of {@link fetchJson}. */
export interface FetchJsonOptions {
  /** Abort the request after this many milliseconds. */
  readonly timeoutMs: number;
  /** Refuse a response body larger than this many bytes. */
  readonly maxBytes: number;
  /** Aborts the request early (e.g. on close). */
  readonly signal?: AbortSignal;
}

/** GET `url` and parse its JSON body; throws IssuerFetchError with a reason. */
export async function fetchJson(url: string, options: FetchJsonOptions): Promise<unknown> {
  const timeout = AbortSignal.timeout(Math.max(1, options.timeoutMs));
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'error', signal, headers: { accept: 'application/json' } });
  } catch (cause) {
    throw new IssuerFetchError(timeout.aborted ? 'timeout' : 'network', `fetch failed: ${timeout.aborted ? 'timed out' : 'network error or redirect'}`, undefined, { cause });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new IssuerFetchError('http_status', `fetch failed: HTTP ${response.status}`, response.status);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new IssuerFetchError('too_large', `response exceeds ${options.maxBytes} bytes`);
  }
  const text = await readCapped(response, options.maxBytes, timeout);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new IssuerFetchError('invalid_json', 'response is not JSON', undefined, { cause });
  }
}

async function readCapped(response: Response, maxBytes: number, timeout: AbortSignal): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new IssuerFetchError('too_large', `response exceeds ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof IssuerFetchError) throw cause;
    throw new IssuerFetchError(timeout.aborted ? 'timeout' : 'network', 'reading the response failed', undefined, { cause });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch (cause) {
    throw new IssuerFetchError('invalid_json', 'response is not UTF-8', undefined, { cause });
  }
}
