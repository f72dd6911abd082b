/**
 * What the in-process pipeline tests share: the payments workload they exchange for (one rule head,
 * its name and match on the test cluster's `payments` namespace, and its service accounts'
 * identities) and the exchange pipeline with the tests' defaults, so each test writes only the allow
 * entries, providers and stores it is about.
 */
import { expect } from 'vitest';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import { StintError } from '../../src/errors.js';
import type { IdentityVerifier } from '../../src/pipeline/contracts.js';
import { ExchangePipeline, type ExchangeDeps } from '../../src/pipeline/exchange.js';
import { k8s } from '../policy/helpers.js';
import type { Auditor } from '../../src/audit/auditor.js';
import type { Clock } from '../../src/clock.js';
import { breakGlassConfigSchema } from '../../src/config/break_glass.js';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import { BreakGlassService } from '../../src/pipeline/break_glass.js';
import type { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import type { StintMetrics } from '../../src/telemetry/metrics.js';

/** The `payments` rule's name and match, as the first lines of a rule in a policy's `rules:` list. */
export const PAYMENTS_RULE = `  - name: payments
    match: { attestor: kubernetes, attestorName: cluster, issuer: https://k8s.example, claims: { namespace: payments } }`;

/** The `payments` rule allowing Vault credentials of `database/creds/payments` (10 min, at most 30). */
export const PAYMENTS_VAULT_RULE = `${PAYMENTS_RULE}
    allow:
      - kind: vault
        targets: [database/creds/payments]
        ttl: { default: 10m, max: 30m }`;

/** A service account of the payments namespace on the test cluster (the rule matches any of them). */
export function paymentsIdentity(serviceAccount = 'api'): WorkloadIdentity {
  return k8s({ namespace: 'payments' }, { id: `spiffe://stint.local/ns/payments/sa/${serviceAccount}`, subject: `system:serviceaccount:payments:${serviceAccount}` });
}

/** A verifier of Stint's IdentityVerifier interface that attests a subject token as `identityOf(token)`. */
export function tokenTableVerifier(identityOf: (token: string) => WorkloadIdentity): IdentityVerifier {
  return { attest: async (t) => identityOf(t.value), accepts: () => true, ready: () => true, close: () => undefined };
}

/** The exchange pipeline as the in-process tests run it: a 1 h TTL cap and no verified-identity cache unless given. */
export function testPipeline(deps: Omit<ExchangeDeps, 'maxTtlSeconds' | 'subjectTokenCacheSize'> & Partial<Pick<ExchangeDeps, 'maxTtlSeconds' | 'subjectTokenCacheSize'>>): ExchangePipeline {
  return new ExchangePipeline({ maxTtlSeconds: 3600, subjectTokenCacheSize: 0, ...deps });
}

/** The code of the StintError `p` rejects with (fails the test when it resolves or rejects with anything else). */
export async function refusedCode(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(StintError);
  return (e as StintError).code;
}

/** The break-glass service the in-process tests run: sealed `credentials` served by `provider`, a ticket issuer when `ticket` is given. */
export function breakGlassService(deps: { store: Store; clock: Clock; metrics: StintMetrics; auditor: Auditor; provider: CredentialProvider; credentials: readonly Record<string, unknown>[]; ticket?: Record<string, unknown>; approvals?: number }): BreakGlassService {
  const { provider } = deps;
  return new BreakGlassService({
    config: breakGlassConfigSchema.parse({ credentials: deps.credentials, ...(deps.ticket ? { ticket: deps.ticket } : {}), ...(deps.approvals ? { approvals: deps.approvals } : {}) }),
    store: deps.store,
    auditor: deps.auditor,
    providers: { get: () => provider, has: (k) => k === provider.kind, kinds: () => [provider.kind] },
    clock: deps.clock,
    logger: createLogger('silent'),
    metrics: deps.metrics,
    trustDomain: 'stint.test',
    maxTtlSeconds: 3600,
  });
}
