/** Builders shared by the policy tests. */
import type { ClaimValue, WorkloadIdentity } from '../../src/attestation/attestor.js';
import { ConfigError } from '../../src/errors.js';
import { compilePolicy, type CompiledPolicy } from '../../src/policy/index.js';

/** Global TTL cap used unless a test says otherwise (2h). */
export const MAX_TTL = 7200;

/** Compile YAML text with the default global cap. */
export function policy(yaml: string, maxTtlSeconds = MAX_TTL): CompiledPolicy {
  return compilePolicy(yaml, { filename: 'test.yaml', maxTtlSeconds });
}

/** A Kubernetes identity from the test issuer with the given claims. */
export function k8s(claims: Record<string, ClaimValue>, extra: Partial<WorkloadIdentity> = {}): WorkloadIdentity {
  return {
    attestor: 'kubernetes',
    attestorName: 'cluster',
    issuer: 'https://k8s.example',
    subject: 'system:serviceaccount:default:demo',
    id: 'spiffe://stint.local/ns/default/sa/demo',
    claims,
    expiresAt: 2_000_000_000,
    ...extra,
  };
}

/** A one-rule policy whose rule matches the given claims YAML (indented block) and allows a stint-jwt. */
export function claimsPolicy(claimsYaml: string): CompiledPolicy {
  return policy(`version: 1
rules:
  - name: r
    match:
      attestor: kubernetes
      issuer: https://k8s.example
      claims:
${claimsYaml.trim().split('\n').map((l) => `        ${l}`).join('\n')}
    allow:
      - kind: stint-jwt
        audiences: [aud]
        ttl: { default: 10m, max: 1h }
`);
}

/** True when the identity is allowed one stint-jwt for audience `aud`. */
export function allows(p: CompiledPolicy, identity: WorkloadIdentity): boolean {
  return p.decide(identity, [{ kind: 'stint-jwt', audience: 'aud' }], 0).outcome === 'allow';
}

/** Compile and return the ConfigError thrown (fails the test if none is thrown). */
export function policyError(yaml: string, maxTtlSeconds = MAX_TTL): ConfigError {
  try {
    compilePolicy(yaml, { filename: 'broken.yaml', maxTtlSeconds });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected the policy to be rejected');
}
