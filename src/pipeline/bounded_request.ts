/**
 * What a refused request leaves in the audit trail, in bounded form: a caller can send a huge
 * audience, thousands of credential entries or a long reason, and none of it may grow an audit
 * event (or a metric) past a fixed size. Long strings are cut and marked, lists are capped and
 * counted, unknown members are dropped.
 */
import type { CredentialRequest, RequestContext } from '../policy/decision.js';

/** Longest string kept from a refused request's field. */
export const MAX_AUDITED_STRING = 256;
/** Most credential entries kept from a refused request. */
export const MAX_AUDITED_CREDENTIALS = 8;
/** Most scopes kept per credential entry. */
const MAX_AUDITED_SCOPES = 16;

/** A string cut to `max` characters, marked with its full length when cut; other values become null. */
export function boundedString(value: unknown, max = MAX_AUDITED_STRING): string | null {
  if (typeof value !== 'string') return value === undefined || value === null ? null : `<${typeof value}>`;
  return value.length <= max ? value : `${value.slice(0, max)}…(${value.length} chars)`;
}

/** The credential requests of a refused exchange, bounded: at most 8 entries, fields cut, the count kept. */
export function boundedCredentials(credentials: unknown): { entries: Record<string, unknown>[]; count: number } {
  if (!Array.isArray(credentials)) return { entries: [], count: 0 };
  const entries = credentials.slice(0, MAX_AUDITED_CREDENTIALS).map((raw: unknown) => {
    const c = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<CredentialRequest> & Record<string, unknown>;
    const entry: Record<string, unknown> = { kind: boundedString(c.kind, 64) };
    if (c.audience !== undefined) entry['audience'] = boundedString(c.audience);
    if (c.target !== undefined) entry['target'] = boundedString(c.target);
    if (c.ttlSeconds !== undefined) entry['ttlSeconds'] = typeof c.ttlSeconds === 'number' && Number.isFinite(c.ttlSeconds) ? c.ttlSeconds : null;
    if (Array.isArray(c.scopes)) {
      entry['scopes'] = c.scopes.slice(0, MAX_AUDITED_SCOPES).map((s) => boundedString(s, 128));
      if (c.scopes.length > MAX_AUDITED_SCOPES) entry['scopeCount'] = c.scopes.length;
    }
    return entry;
  });
  return { entries, count: credentials.length };
}

/** The request context (reason, ticket, run id), bounded. */
export function boundedContext(context: RequestContext | undefined): Record<string, string | null> {
  if (!context || typeof context !== 'object') return {};
  const out: Record<string, string | null> = {};
  for (const key of ['reason', 'ticket', 'runId'] as const) {
    if (context[key] !== undefined) out[key] = boundedString(context[key], key === 'reason' ? 1024 : MAX_AUDITED_STRING);
  }
  return out;
}
