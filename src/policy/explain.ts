/** Explaining decisions: the rule that allowed, or the nearest rule and the conditions that failed. */
import type { Decision, FailedCondition } from './decision.js';
import type { RecordedDecision } from './simulate.js';

/** A decision as shown to operators (`stint policy explain`, Admin ExplainDecision). */
export interface Explanation {
  readonly outcome: 'allow' | 'deny';
  readonly rule: string | null;
  readonly reason: string;
  readonly message?: string;
  readonly nearestRule?: string | null;
  readonly failed?: readonly FailedCondition[];
  readonly credentials?: readonly { kind: string; audience: string | null; target: string | null; ttlSeconds: number }[];
}

/** Explain a fresh decision. */
export function explain(decision: Decision): Explanation {
  if (decision.outcome === 'allow') {
    return { outcome: 'allow', rule: decision.rule, reason: decision.reason, credentials: decision.credentials.map((c) => ({ kind: c.kind, audience: c.audience ?? null, target: c.target ?? null, ttlSeconds: c.ttlSeconds })) };
  }
  return { outcome: 'deny', rule: decision.rule, reason: decision.reason, message: decision.message, nearestRule: decision.nearestRule ?? decision.rule, failed: decision.failed ?? [] };
}

/** Explain a recorded decision from its audit event data. */
export function explainRecorded(record: RecordedDecision, data: Readonly<Record<string, unknown>>): Explanation {
  const r = record.recorded;
  if (r.outcome === 'allow') return { outcome: 'allow', rule: r.rule, reason: r.reason, credentials: r.credentials };
  return {
    outcome: 'deny',
    rule: r.rule,
    reason: r.reason,
    message: typeof data.message === 'string' ? data.message : '',
    nearestRule: typeof data.nearestRule === 'string' ? data.nearestRule : null,
    failed: Array.isArray(data.failed) ? (data.failed as FailedCondition[]) : [],
  };
}

/** Human-readable lines of an explanation. */
export function explanationText(e: Explanation): string {
  if (e.outcome === 'allow') {
    const creds = (e.credentials ?? []).map((c) => `${c.kind} ${c.audience ?? c.target ?? ''} ttl ${c.ttlSeconds}s`.replace(/\s+/g, ' ')).join('; ');
    return `allow by rule ${e.rule ?? '-'}${creds ? `: ${creds}` : ''}`;
  }
  const lines = [`deny (${e.reason})${e.rule ? ` by rule ${e.rule}` : ''}${e.message ? `: ${e.message}` : ''}`];
  if (e.nearestRule && e.nearestRule !== e.rule) lines.push(`nearest rule: ${e.nearestRule}`);
  for (const f of e.failed ?? []) lines.push(`  failed ${f.field}: expected ${f.expected}, got ${f.actual}`);
  return lines.join('\n');
}
