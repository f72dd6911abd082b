/**
 * `npm run bench` (second part): policy decision time with 1,000 rules, enforced alone and with a
 * shadow policy evaluated beside it (the live shadow-mode cost: a second decision plus the
 * comparison), for a match on the last rule, a denial with its nearest-rule scan, glob-only rules
 * and CEL conditions. Goal: p99 under 50 µs per decision. Timing lives here, never in vitest.
 */
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import type { CredentialRequest, Decision, PolicyEngine } from '../../src/policy/decision.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { disagreement, summarize } from '../../src/policy/shadow.js';
import { benchSelected } from './sections.js';

const RULES = 1000;
const CALLS = 20_000;
const WARMUP = 2_000;
const GOAL_P99_US = 50;
const ISSUER = 'https://k8s.bench';

type Shape = 'pinned' | 'glob' | 'suffix' | 'cel';

/**
 * 1,000 rules on one issuer: each pins a namespace exactly (indexed by value), or by a glob with a
 * literal prefix (indexed by prefix), or by a glob starting with a wildcard (not indexable: every
 * rule is tested), or pins it exactly and adds a CEL condition.
 */
function policyYaml(shape: Shape, ttl = '10m'): string {
  const rules: string[] = [];
  for (let i = 0; i < RULES; i++) {
    const ns = shape === 'glob' ? `{ glob: "ns-${i}-*" }` : shape === 'suffix' ? `{ glob: "*-ns-${i}" }` : `ns-${i}`;
    const claims = `{ namespace: ${ns}, service_account: { glob: "app-*" } }`;
    rules.push(`  - name: r-${i}
    match: { attestor: kubernetes, issuer: ${ISSUER}, claims: ${claims} }
${shape === 'cel' ? `    condition: 'request.ttl <= 3600 && claims.service_account.startsWith("app-") && time.hour >= 0'\n` : ''}    allow:
      - kind: stint-jwt
        audiences: [https://api.example.com, { glob: "https://*.example.com" }]
        ttl: { default: ${ttl}, max: 1h }`);
  }
  return `version: 1\nrules:\n${rules.join('\n')}\n`;
}

function identity(namespace: string): WorkloadIdentity {
  return {
    attestor: 'kubernetes',
    attestorName: 'cluster',
    issuer: ISSUER,
    subject: `system:serviceaccount:${namespace}:app-1`,
    id: `spiffe://bench/ns/${namespace}/sa/app-1`,
    claims: { namespace, service_account: 'app-1', pod_name: 'app-1-abc', iss: ISSUER, sub: `system:serviceaccount:${namespace}:app-1` },
    expiresAt: 2_000_000_000,
  };
}

interface Result {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
}

/** Time one decision (and, with a shadow, the shadow decision plus the comparison) per call, in µs. */
function measure(enforced: PolicyEngine, shadow: PolicyEngine | undefined, id: WorkloadIdentity, requests: readonly CredentialRequest[], expect: Decision['outcome']): Result {
  const samples = new Float64Array(CALLS);
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const t0 = process.hrtime.bigint();
    const d = enforced.decide(id, requests, now);
    // As the pipeline does: the shadow decision without the nearest-rule scan, explained again only on a disagreeing denial.
    if (shadow) {
      const s = shadow.decide(id, requests, now, undefined, { explain: false });
      if (disagreement(summarize(d), summarize(s)) !== null && s.outcome === 'deny') shadow.decide(id, requests, now);
    }
    const t1 = process.hrtime.bigint();
    if (d.outcome !== expect) throw new Error(`unexpected ${d.outcome} (${d.reason})`);
    if (i >= WARMUP) samples[i - WARMUP] = Number(t1 - t0) / 1000;
  }
  const sorted = Array.from(samples).sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

const fmt = (n: number): string => `${n.toFixed(1)} µs`;

function main(): void {
  const requests: CredentialRequest[] = [{ kind: 'stint-jwt', audience: 'https://api.example.com' }];
  const rows: string[][] = [['scenario (1,000 rules)', 'shadow', 'p50', 'p99', 'mean', `p99 < ${GOAL_P99_US} µs`]];
  for (const shape of ['pinned', 'glob', 'suffix', 'cel'] as const) {
    const enforced = compilePolicy(policyYaml(shape), { maxTtlSeconds: 3600 });
    // The candidate differs in every rule's TTL, so each shadow decision is a disagreement (worst case).
    const candidate = compilePolicy(policyYaml(shape, '5m'), { maxTtlSeconds: 3600 });
    const cases: [string, WorkloadIdentity, Decision['outcome']][] = [
      [`${shape}: match on the last rule`, identity(shape === 'glob' ? `ns-${RULES - 1}-x` : shape === 'suffix' ? `x-ns-${RULES - 1}` : `ns-${RULES - 1}`), 'allow'],
      [`${shape}: no rule matches (nearest-rule scan)`, identity('unknown'), 'deny'],
    ];
    for (const [name, id, outcome] of cases) {
      for (const shadow of [undefined, candidate]) {
        const r = measure(enforced, shadow, id, requests, outcome);
        const ok = r.p99 < GOAL_P99_US;
        rows.push([name, shadow ? 'yes' : 'no', fmt(r.p50), fmt(r.p99), fmt(r.mean), ok ? 'yes' : 'NO']);
      }
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const out = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  out.push('', 'shadow = the enforced decision plus the shadow decision and their comparison, per request.');
  out.push('pinned = exact namespace (indexed by value); glob = "ns-N-*" (indexed by literal prefix); suffix = "*-ns-N" (not indexable: every rule is tested);');
  out.push('cel = pinned plus a CEL condition on every rule. Pin one claim exactly, or by a glob with a literal prefix, in large policies.');
  process.stdout.write(`${out.join('\n')}\n`);
}

if (benchSelected('policy')) main();
