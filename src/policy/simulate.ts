/**
 * Simulation: replay recorded decisions (exchange.allowed / exchange.denied audit events, which
 * keep the verified identity and the request, never the subject token) against a draft policy,
 * and classify each as unchanged, newly denied, newly allowed, or changed rule, TTL or target.
 */
import type { ClaimValue, WorkloadIdentity } from '../attestation/attestor.js';
import type { CredentialRequest, PolicyEngine, RequestContext } from './decision.js';
import { disagreement, summarize, type DecisionSummary, type DisagreementKind } from './shadow.js';

/** One recorded decision, ready to replay. */
export interface RecordedDecision {
  readonly eventId: string;
  readonly requestId: string;
  /** Epoch seconds the decision was made at. */
  readonly now: number;
  readonly identity: WorkloadIdentity;
  readonly requests: readonly CredentialRequest[];
  readonly context: RequestContext;
  readonly recorded: DecisionSummary;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * Read one audit event (the store's shape, or a line of `stint audit --json`) as a recorded
 * decision; null for events that are not decisions.
 */
export function recordedDecision(event: unknown): RecordedDecision | null {
  if (!isObj(event)) return null;
  const type = str(event.type);
  if (type !== 'exchange.allowed' && type !== 'exchange.denied') return null;
  let data: unknown = event.data;
  if (!isObj(data) && typeof event.data_json === 'string') data = JSON.parse(event.data_json) as unknown;
  if (!isObj(data)) return null;
  const time = typeof event.time === 'number' ? event.time : Date.parse(str(event.time));
  const now = typeof data.decidedAt === 'number' ? data.decidedAt : Math.floor(time / 1000);
  const identity: WorkloadIdentity = {
    attestor: str(data.attestor) as WorkloadIdentity['attestor'],
    attestorName: str(data.attestorName),
    issuer: str(data.issuer),
    subject: str(data.subject),
    id: str(event.identity),
    claims: (isObj(data.claims) ? data.claims : {}) as Record<string, ClaimValue>,
    expiresAt: 0,
    ...(data.legacy === true ? { legacy: true } : {}),
  };
  const requests = (Array.isArray(data.request) ? data.request : []) as CredentialRequest[];
  const context = (isObj(data.context) ? data.context : {}) as RequestContext;
  const outcome = type === 'exchange.allowed' ? 'allow' : 'deny';
  const rule = str(event.rule) || null;
  let recorded: DecisionSummary;
  if (isObj(data.decision)) {
    recorded = data.decision as unknown as DecisionSummary;
  } else {
    const granted = Array.isArray(data.granted) ? (data.granted as Obj[]) : [];
    recorded = {
      outcome,
      rule,
      reason: str(event.reason),
      credentials: outcome === 'allow' ? granted.map((g) => ({ kind: str(g.kind), audience: str(g.audience) || null, target: str(g.target) || null, ttlSeconds: Number(g.ttlSeconds) })) : [],
    };
  }
  return { eventId: str(event.id), requestId: str(event.requestId ?? event.request_id), now, identity, requests, context, recorded };
}

/** One difference found by the simulation. */
export interface SimulatedChange {
  readonly eventId: string;
  readonly requestId: string;
  readonly identity: string;
  readonly request: readonly CredentialRequest[];
  readonly recorded: DecisionSummary;
  readonly draft: DecisionSummary;
  /** For a draft denial: the draft's message. */
  readonly message?: string;
}

/** The outcome of a simulation. */
export interface SimulationReport {
  readonly total: number;
  readonly unchanged: number;
  readonly counts: Readonly<Record<DisagreementKind, number>>;
  /** Up to `examples` changes of each kind. */
  readonly examples: Readonly<Record<DisagreementKind, readonly SimulatedChange[]>>;
}

/** Replay the records against the draft policy. */
export function simulate(draft: PolicyEngine, records: readonly RecordedDecision[], opts: { examples?: number } = {}): SimulationReport {
  const max = opts.examples ?? 5;
  const counts: Record<DisagreementKind, number> = { newly_allowed: 0, newly_denied: 0, rule: 0, ttl: 0, target: 0 };
  const examples: Record<DisagreementKind, SimulatedChange[]> = { newly_allowed: [], newly_denied: [], rule: [], ttl: [], target: [] };
  let unchanged = 0;
  for (const r of records) {
    const decision = draft.decide(r.identity, r.requests, r.now, r.context);
    const summary = summarize(decision);
    const kind = disagreement(r.recorded, summary);
    if (kind === null) {
      unchanged++;
      continue;
    }
    counts[kind]++;
    if (examples[kind].length < max) {
      examples[kind].push({
        eventId: r.eventId,
        requestId: r.requestId,
        identity: r.identity.id,
        request: r.requests,
        recorded: r.recorded,
        draft: summary,
        ...(decision.outcome === 'deny' ? { message: decision.message } : {}),
      });
    }
  }
  return { total: records.length, unchanged, counts, examples };
}

/** True when the simulation found decisions that would change outcome. */
export function outcomeChanged(report: SimulationReport): boolean {
  return report.counts.newly_allowed > 0 || report.counts.newly_denied > 0;
}
