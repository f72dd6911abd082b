/**
 * One GET to a cloud metadata service (GCE metadata server, Azure IMDS) for the VM sources:
 * bounded in time and size, no redirects, no proxy (plain node:http to the link-local or
 * configured address). A service that is down or busy is retryable (ERR_UNAVAILABLE); a refusal
 * (4xx: no managed identity, wrong resource) is a configuration problem (ERR_INVALID_REQUEST).
 * Proofs are never put in messages.
 */
import { request } from 'node:http';
import { StintError } from '../../errors.js';
import { readBounded } from '../../http/bounded_read.js';

/** Largest answer read from a metadata service. */
const MAX_BYTES = 64 * 1024;
const TIMEOUT_MS = 5_000;

/** GET `url` with `headers`; resolves to the body text of a 200 answer. `what` names the proof in errors. */
export function metadataGet(url: string, headers: Record<string, string>, what: string): Promise<string> {
  const target = new URL(url);
  if (target.protocol !== 'http:') return Promise.reject(new StintError('ERR_INVALID_REQUEST', `${what}: the metadata endpoint must be http`, { reason: 'source_misconfigured' }));
  return new Promise((resolve, reject) => {
    const req = request(target, { method: 'GET', headers, timeout: TIMEOUT_MS }, (res) => {
      const tooLarge = (): StintError => new StintError('ERR_UNAVAILABLE', `${what}: the metadata answer is larger than ${MAX_BYTES} bytes`, { reason: 'metadata_bad_response' });
      readBounded(res, MAX_BYTES, tooLarge).then((bytes) => {
        const status = res.statusCode ?? 0;
        const body = bytes.toString('utf8');
        if (status === 200) resolve(body);
        else if (status === 429 || status >= 500) reject(new StintError('ERR_UNAVAILABLE', `${what}: the metadata service answered ${status}`, { reason: 'metadata_unavailable', status }));
        else reject(new StintError('ERR_INVALID_REQUEST', `${what}: the metadata service refused (${status}): ${body.slice(0, 200).replace(/[^\x20-\x7e]/g, '?')}`, { reason: 'metadata_refused', status }));
      }, (e: Error) => reject(e instanceof StintError ? e : unavailable(what, e)));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => reject(unavailable(what, e)));
    req.end();
  });
}

function unavailable(what: string, e: Error): StintError {
  return new StintError('ERR_UNAVAILABLE', `${what}: the metadata service is unreachable (${(e as NodeJS.ErrnoException).code ?? e.message})`, { reason: 'metadata_unavailable' });
}
