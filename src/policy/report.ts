/** Summaries of shadow disagreements (policy.shadow_disagreement audit events) by kind, rule and identity. */
import { DISAGREEMENT_KINDS, type DisagreementKind } from './shadow.js';

/** One row by rule: the enforced rule and the shadow rule of a kind of disagreement. */
export interface ShadowRuleRow {
  readonly kind: DisagreementKind;
  readonly enforcedRule: string | null;
  readonly shadowRule: string | null;
  readonly count: number;
  /** Request id of the latest example. */
  readonly example: string;
}

/** One row by identity. */
export interface ShadowIdentityRow {
  readonly identity: string;
  readonly count: number;
  readonly kinds: Readonly<Partial<Record<DisagreementKind, number>>>;
}

/** The report. */
export interface ShadowReport {
  readonly total: number;
  readonly byKind: Readonly<Record<DisagreementKind, number>>;
  readonly byRule: readonly ShadowRuleRow[];
  readonly byIdentity: readonly ShadowIdentityRow[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Build the report from audit events (store shape), newest first as queryAudit returns them. */
export function shadowReport(events: readonly { type: string; identity: string | null; requestId: string | null; reason: string | null; data: Readonly<Obj> }[]): ShadowReport {
  const byKind = Object.fromEntries(DISAGREEMENT_KINDS.map((k) => [k, 0])) as Record<DisagreementKind, number>;
  const rules = new Map<string, { kind: DisagreementKind; enforcedRule: string | null; shadowRule: string | null; count: number; example: string }>();
  const identities = new Map<string, { identity: string; count: number; kinds: Partial<Record<DisagreementKind, number>> }>();
  let total = 0;
  for (const e of events) {
    if (e.type !== 'policy.shadow_disagreement') continue;
    const kind = (DISAGREEMENT_KINDS as readonly string[]).includes(e.reason ?? '') ? (e.reason as DisagreementKind) : null;
    if (!kind) continue;
    total++;
    byKind[kind]++;
    const enforcedRule = isObj(e.data.enforced) && typeof e.data.enforced.rule === 'string' ? e.data.enforced.rule : null;
    const shadowRule = isObj(e.data.shadow) && typeof e.data.shadow.rule === 'string' ? e.data.shadow.rule : null;
    const key = JSON.stringify([kind, enforcedRule, shadowRule]);
    const row = rules.get(key) ?? { kind, enforcedRule, shadowRule, count: 0, example: e.requestId ?? '' };
    row.count++;
    rules.set(key, row);
    const id = e.identity ?? '';
    const irow = identities.get(id) ?? { identity: id, count: 0, kinds: {} };
    irow.count++;
    irow.kinds[kind] = (irow.kinds[kind] ?? 0) + 1;
    identities.set(id, irow);
  }
  const order = (k: DisagreementKind): number => DISAGREEMENT_KINDS.indexOf(k);
  return {
    total,
    byKind,
    byRule: [...rules.values()].sort((a, b) => b.count - a.count || order(a.kind) - order(b.kind)),
    byIdentity: [...identities.values()].sort((a, b) => b.count - a.count || a.identity.localeCompare(b.identity)),
  };
}
