/** Shared fixtures of the attestation tests: a test issuer, a manual clock and an AttestorSet. */
import { expect } from 'vitest';
import { attestorConfigSchema } from '../../src/config/schema.js';
import { StintError, type ErrorCode } from '../../src/errors.js';
import type { WorkloadIdentity } from '../../src/attestation/attestor.js';
import { createAttestorSet, type AttestorSet } from '../../src/attestation/registry.js';
import { TestIssuer, type TestIssuerOptions } from '../support/test_issuer.js';
import { FakeClock } from '../support/fake_clock.js';

/** Stint's audience in these tests. */
export const AUDIENCE = 'https://stint.example.test';
/** SPIFFE trust domain in these tests. */
export const TRUST_DOMAIN = 'stint.test';

/** One recorded key fetch. */
export interface FetchEvent {
  readonly attestor: string;
  readonly outcome: 'ok' | 'error';
}

/** A running issuer plus the AttestorSet that trusts it. */
export interface Harness {
  readonly clock: FakeClock;
  readonly issuer: TestIssuer;
  readonly set: AttestorSet;
  readonly fetchEvents: FetchEvent[];
  /** Mint a token the set must accept (kind-appropriate), for "still serves" checks. */
  goodToken(): Promise<string>;
  close(): Promise<void>;
}

/** Options of {@link startHarness}. */
export interface HarnessOptions {
  readonly kind?: 'oidc' | 'kubernetes' | 'github-actions';
  /** Attestor config fields (before schema defaults). */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly issuer?: TestIssuerOptions;
}

/** Start a test issuer and an AttestorSet with one attestor trusting it (via discovery). */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = new FakeClock();
  const issuer = await TestIssuer.start({ clock, ...options.issuer });
  const kind = options.kind ?? 'oidc';
  const config = attestorConfigSchema.parse({ kind, issuer: issuer.issuer, ...options.config });
  const fetchEvents: FetchEvent[] = [];
  const set = createAttestorSet([config], {
    clock,
    audience: AUDIENCE,
    trustDomain: TRUST_DOMAIN,
    onJwksFetch: (attestor, outcome) => fetchEvents.push({ attestor, outcome }),
  });
  const goodToken = (): Promise<string> => {
    switch (kind) {
      case 'kubernetes':
        return issuer.mintKubernetes({ namespace: 'default', serviceAccount: 'app', podName: 'app-0', audience: AUDIENCE });
      case 'github-actions':
        return issuer.mintGithub({ repository: 'acme/app', repositoryId: 1, ownerId: 2, audience: AUDIENCE });
      default:
        return issuer.mint(issuer.claims(AUDIENCE));
    }
  };
  return {
    clock,
    issuer,
    set,
    fetchEvents,
    goodToken,
    async close() {
      set.close();
      await issuer.close();
    },
  };
}

/**
 * Assert `promise` rejects with a StintError of `code` (and `details` subset), whose message
 * and details never contain `token` or its signature. Returns the error.
 */
export async function expectRefused(promise: Promise<unknown>, code: ErrorCode, options: { details?: Record<string, unknown>; token?: string } = {}): Promise<StintError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected rejection with ${code}`).toBeInstanceOf(StintError);
  const err = caught as StintError;
  expect({ code: err.code, details: err.details }).toMatchObject({ code, details: options.details ?? {} });
  if (options.token !== undefined) {
    const shown = `${err.message} ${JSON.stringify(err.details)}`;
    expect(shown).not.toContain(options.token);
    const signature = options.token.split('.')[2];
    if (signature && signature.length > 8) expect(shown).not.toContain(signature);
  }
  return err;
}

/** Assert the harness still accepts a good token (the failure did not poison anything). */
export async function expectStillServes(h: Harness): Promise<WorkloadIdentity> {
  return h.set.attest(await h.goodToken());
}
