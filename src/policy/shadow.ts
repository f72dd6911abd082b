/**
 * Comparing two decisions for the same request: the enforced one and a shadow (candidate) one,
 * or a recorded one and a draft's in simulation. One shape for both, so that live shadow
 * disagreements and `stint policy simulate` count the same things.
 */
import type { Decision } from './decision.js';

/** Kinds of disagreement, most significant first; one label value each of the metric. */
export const DISAGREEMENT_KINDS = ['newly_allowed', 'newly_denied', 'rule', 'ttl', 'target'] as const;
/** A kind of disagreement. */
export type DisagreementKind = (typeof DISAGREEMENT_KINDS)[number];

/** What is compared of one decision: plain JSON, as the audit records it. */
export interface DecisionSummary {
  readonly outcome: 'allow' | 'deny';
  readonly rule: string | null;
  readonly reason: string;
  /** With allow: per requested credential, what the policy granted (before provider limits). */
  readonly credentials: readonly { readonly kind: string; readonly audience: string | null; readonly target: string | null; readonly ttlSeconds: number }[];
}

/** The summary of a decision. */
export function summarize(decision: Decision): DecisionSummary {
  if (decision.outcome === 'deny') return { outcome: 'deny', rule: decision.rule, reason: decision.reason, credentials: [] };
  return {
    outcome: 'allow',
    rule: decision.rule,
    reason: decision.reason,
    credentials: decision.credentials.map((c) => ({ kind: c.kind, audience: c.audience ?? null, target: c.target ?? null, ttlSeconds: c.ttlSeconds })),
  };
}

/**
 * How `candidate` differs from `baseline`, or null when they agree. Two denials agree whatever
 * their reasons (the outcome is the same); two allows differ by rule, then TTL, then target.
 */
export function disagreement(baseline: DecisionSummary, candidate: DecisionSummary): DisagreementKind | null {
  if (baseline.outcome === 'deny' && candidate.outcome === 'allow') return 'newly_allowed';
  if (baseline.outcome === 'allow' && candidate.outcome === 'deny') return 'newly_denied';
  if (baseline.outcome === 'deny') return null;
  if (baseline.rule !== candidate.rule) return 'rule';
  const n = Math.max(baseline.credentials.length, candidate.credentials.length);
  let target = false;
  for (let i = 0; i < n; i++) {
    const a = baseline.credentials[i];
    const b = candidate.credentials[i];
    if (!a || !b) return 'target';
    if (a.ttlSeconds !== b.ttlSeconds) return 'ttl';
    if (a.target !== b.target || a.audience !== b.audience || a.kind !== b.kind) target = true;
  }
  return target ? 'target' : null;
}
