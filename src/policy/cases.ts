/**
 * Policy unit tests (`stint policy test policy.yaml cases.yaml`), in the manner of `opa test`:
 * each case is a verified identity and a request with the expected decision, rule, reason and TTL.
 * Format: docs/policy.md ("Policy tests").
 */
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { ClaimValue, WorkloadIdentity } from '../attestation/attestor.js';
import { parseDuration } from '../duration.js';
import { durationField } from '../duration_field.js';
import { ConfigError } from '../errors.js';
import type { CredentialRequest, Decision, PolicyEngine } from './decision.js';
import { RULE_ATTESTOR_KINDS } from './schema.js';

/** A requested TTL (`15m`, `1h` or seconds), parsed to seconds. */
const duration = durationField(parseDuration);

const credentialSchema = z.strictObject({
  kind: z.string().min(1),
  audience: z.string().optional(),
  target: z.string().optional(),
  ttl: duration.optional(),
  scopes: z.array(z.string()).optional(),
});

const caseSchema = z.strictObject({
  name: z.string().min(1),
  identity: z.strictObject({
    kind: z.enum(RULE_ATTESTOR_KINDS),
    name: z.string().optional(),
    issuer: z.string().min(1),
    subject: z.string().optional(),
    id: z.string().optional(),
    claims: z.record(z.string(), z.unknown()).default({}),
    legacy: z.boolean().default(false),
  }),
  request: credentialSchema.optional(),
  credentials: z.array(credentialSchema).optional(),
  context: z.strictObject({ reason: z.string().optional(), ticket: z.string().optional(), runId: z.string().optional() }).optional(),
  /** RFC 3339 time of the decision (CEL `now` and `time`); default 2026-01-01T12:00:00Z. */
  time: z.string().optional(),
  expect: z.strictObject({
    decision: z.enum(['allow', 'deny']),
    rule: z.string().nullable().optional(),
    reason: z.string().optional(),
    ttl: duration.optional(),
    nearestRule: z.string().optional(),
  }),
});

const casesSchema = z.strictObject({ cases: z.array(caseSchema).min(1) });

/** One policy test case. */
export type PolicyCase = z.infer<typeof caseSchema> & { readonly line: number };

/** The result of one case. */
export interface CaseResult {
  readonly name: string;
  readonly line: number;
  readonly ok: boolean;
  /** What differed, one line each. */
  readonly problems: readonly string[];
  readonly decision: Decision;
}

const DEFAULT_TIME = Date.parse('2026-01-01T12:00:00Z');

/** Parse a cases file; throws ConfigError ERR_CONFIG_INVALID naming the key and line. */
export function parseCases(text: string, filename = '<cases>'): PolicyCase[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError('ERR_CONFIG_INVALID', '', `${filename}:${e.linePos?.[0]?.line ?? 0}: ${e.message.split('\n')[0]}`);
  }
  let data: unknown;
  try {
    // An unresolved alias or an alias bomb is a problem of the file, not a crash of the command.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError('ERR_CONFIG_INVALID', '', `${filename}: ${(e as Error).message.split('\n')[0]}`);
  }
  const result = casesSchema.safeParse(data);
  if (!result.success) {
    const iss = result.error.issues[0]!;
    throw new ConfigError('ERR_CONFIG_INVALID', iss.path.join('.'), `${iss.message} in ${filename}`);
  }
  const seq = doc.get('cases', true) as { items?: { range?: [number, number, number] }[] } | undefined;
  return result.data.cases.map((c, i) => ({ ...c, line: lines.linePos(seq?.items?.[i]?.range?.[0] ?? 0).line }));
}

/** One case from a plain object (`stint policy explain --input`); `name` and `expect` may be left out. */
export function caseFromObject(obj: unknown): PolicyCase {
  const base = typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>) : {};
  const result = caseSchema.safeParse({ name: 'input', expect: { decision: 'deny' }, ...base });
  if (!result.success) {
    const iss = result.error.issues[0]!;
    throw new ConfigError('ERR_CONFIG_INVALID', iss.path.join('.'), iss.message);
  }
  return { ...result.data, line: 0 };
}

/** The identity of a case. */
export function caseIdentity(c: PolicyCase): WorkloadIdentity {
  const id = c.identity;
  return {
    attestor: id.kind,
    attestorName: id.name ?? id.kind,
    issuer: id.issuer,
    subject: id.subject ?? (typeof id.claims.sub === 'string' ? id.claims.sub : ''),
    id: id.id ?? `${id.issuer}#${id.subject ?? ''}`,
    claims: id.claims as Record<string, ClaimValue>,
    expiresAt: 0,
    ...(id.legacy ? { legacy: true } : {}),
  };
}

/** The requested credentials of a case. */
export function caseRequests(c: PolicyCase): CredentialRequest[] {
  const list = c.credentials ?? (c.request ? [c.request] : []);
  return list.map((r) => ({
    kind: r.kind,
    ...(r.audience !== undefined ? { audience: r.audience } : {}),
    ...(r.target !== undefined ? { target: r.target } : {}),
    ...(r.ttl !== undefined ? { ttlSeconds: r.ttl } : {}),
    ...(r.scopes !== undefined ? { scopes: r.scopes } : {}),
  }));
}

/** Run every case against the policy. */
export function runCases(policy: PolicyEngine, cases: readonly PolicyCase[]): CaseResult[] {
  return cases.map((c) => {
    const time = c.time ? Date.parse(c.time) : DEFAULT_TIME;
    const decision = policy.decide(caseIdentity(c), caseRequests(c), Math.floor((Number.isNaN(time) ? DEFAULT_TIME : time) / 1000), c.context ?? {});
    const problems: string[] = [];
    const e = c.expect;
    if (decision.outcome !== e.decision) problems.push(`decision: expected ${e.decision}, got ${decision.outcome} (${decision.reason}${decision.outcome === 'deny' ? `: ${decision.message}` : ''})`);
    if (e.rule !== undefined && decision.rule !== e.rule) problems.push(`rule: expected ${JSON.stringify(e.rule)}, got ${JSON.stringify(decision.rule)}`);
    if (e.reason !== undefined && decision.reason !== e.reason) problems.push(`reason: expected ${e.reason}, got ${decision.reason}`);
    if (e.ttl !== undefined) {
      const ttl = decision.outcome === 'allow' ? decision.credentials[0]?.ttlSeconds : undefined;
      if (ttl !== e.ttl) problems.push(`ttl: expected ${e.ttl}s, got ${ttl === undefined ? 'none' : `${ttl}s`}`);
    }
    if (e.nearestRule !== undefined) {
      const nearest = decision.outcome === 'deny' ? (decision.nearestRule ?? decision.rule) : undefined;
      if (nearest !== e.nearestRule) problems.push(`nearestRule: expected ${e.nearestRule}, got ${nearest ?? 'none'}`);
    }
    return { name: c.name, line: c.line, ok: problems.length === 0, problems, decision };
  });
}
