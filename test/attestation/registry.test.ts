/** The registry: one line per kind, unique names and issuers, routing by byte-exact iss. */
import { JWT_TOKEN_TYPE } from '../../src/attestation/token_types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ATTESTORS, createAttestorSet, type AttestorSet } from '../../src/attestation/registry.js';
import { attestorConfigSchema, type AttestorConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { AUDIENCE, expectRefused, TRUST_DOMAIN } from './helpers.js';
import { TestIssuer } from '../support/test_issuer.js';
import { FakeClock } from '../support/fake_clock.js';

const parse = (raw: Record<string, unknown>): AttestorConfig => attestorConfigSchema.parse(raw);
const deps = () => ({ clock: new FakeClock(), audience: AUDIENCE, trustDomain: TRUST_DOMAIN });

describe('registration', () => {
  it('registers every attestor kind', () => {
    expect(ATTESTORS.map((p) => p.kind).sort()).toEqual(['aws-iam', 'aws-iid', 'azure', 'gcp-instance', 'github-actions', 'kubernetes', 'oidc']);
  });

  it('refuses two attestors with the same default name', () => {
    const configs = [parse({ kind: 'oidc', issuer: 'https://a.example' }), parse({ kind: 'oidc', issuer: 'https://b.example' })];
    expect(() => createAttestorSet(configs, deps())).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID', path: 'attestors.1.name' }));
  });

  it('accepts two attestors of one kind with distinct names', () => {
    const configs = [parse({ kind: 'oidc', name: 'a', issuer: 'https://a.example' }), parse({ kind: 'oidc', name: 'b', issuer: 'https://b.example' })];
    const set = createAttestorSet(configs, deps());
    expect(set.attestors.map((a) => a.name)).toEqual(['a', 'b']);
    set.close();
  });

  it('refuses two attestors for the same issuer', () => {
    const configs = [parse({ kind: 'oidc', name: 'a', issuer: 'https://a.example' }), parse({ kind: 'github-actions', issuer: 'https://a.example' })];
    expect(() => createAttestorSet(configs, deps())).toThrow(ConfigError);
  });

  it('refuses two clusters that both accept legacy tokens (their issuer is the same)', () => {
    const configs = [
      parse({ kind: 'kubernetes', name: 'c1', issuer: 'https://c1.example', acceptLegacyTokens: true }),
      parse({ kind: 'kubernetes', name: 'c2', issuer: 'https://c2.example', acceptLegacyTokens: true }),
    ];
    expect(() => createAttestorSet(configs, deps())).toThrow(expect.objectContaining({ path: 'attestors.1.issuer' }));
  });
});

describe('routing', () => {
  let k8s: TestIssuer;
  let gitlab: TestIssuer;
  let set: AttestorSet;
  let clock: FakeClock;

  const setUp = async (): Promise<void> => {
    clock = new FakeClock();
    k8s = await TestIssuer.start({ clock });
    gitlab = await TestIssuer.start({ clock, path: '/gitlab' });
    set = createAttestorSet(
      [parse({ kind: 'kubernetes', issuer: k8s.issuer }), parse({ kind: 'oidc', name: 'gitlab', issuer: gitlab.issuer, identityClaim: 'project_path' })],
      { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN },
    );
  };
  afterEach(async () => {
    set.close();
    await k8s.close();
    await gitlab.close();
  });

  it('routes each token to the attestor of its issuer', async () => {
    await setUp();
    const a = await set.attest(await k8s.mintKubernetes({ namespace: 'ns', serviceAccount: 'sa', audience: AUDIENCE }));
    const b = await set.attest(await gitlab.mintGitlab({ projectPath: 'g/p', projectId: 1, audience: AUDIENCE }));
    expect([a.attestorName, b.attestorName]).toEqual(['kubernetes', 'gitlab']);
    expect(gitlab.requests.length).toBeGreaterThan(0);
  });

  it("does not accept one issuer's token signed with another configured issuer's key", async () => {
    await setUp();
    const token = await gitlab.mintGitlab({ projectPath: 'g/p', projectId: 1, audience: AUDIENCE, key: k8s.signingKey });
    await expectRefused(set.attest(token), 'ERR_TOKEN_KEY_NOT_FOUND');
  });

  it('refuses an unknown issuer without contacting any issuer', async () => {
    await setUp();
    const token = await k8s.mint(k8s.claims(AUDIENCE, { iss: 'https://unknown.example' }));
    await expectRefused(set.attest(token), 'ERR_TOKEN_ISSUER_UNKNOWN', { details: { reason: 'unknown_issuer' } });
    expect([...k8s.requests, ...gitlab.requests]).toEqual([]);
  });

  it('refuses a legacy Kubernetes token even when no attestor accepts legacy tokens', async () => {
    await setUp();
    await expectRefused(set.attest(await k8s.mintLegacyKubernetes({ namespace: 'ns', serviceAccount: 'sa' })), 'ERR_TOKEN_LEGACY_REJECTED');
  });

  it('is ready only when every attestor has keys', async () => {
    await setUp();
    expect(set.ready()).toBe(false);
    gitlab.fail('http-500');
    await expect(set.warm()).resolves.toBe(false);
    gitlab.recover();
    clock.advance(30_000);
    await expect(set.warm()).resolves.toBe(true);
    expect(set.ready()).toBe(true);
  });

  it('reports key fetches per attestor name', async () => {
    clock = new FakeClock();
    k8s = await TestIssuer.start({ clock });
    gitlab = await TestIssuer.start({ clock });
    const seen: [string, string][] = [];
    set = createAttestorSet([parse({ kind: 'kubernetes', issuer: k8s.issuer }), parse({ kind: 'oidc', name: 'gitlab', issuer: gitlab.issuer })], {
      clock,
      audience: AUDIENCE,
      trustDomain: TRUST_DOMAIN,
      onJwksFetch: (name, outcome, seconds) => {
        expect(seconds).toBeGreaterThanOrEqual(0);
        seen.push([name, outcome]);
      },
    });
    gitlab.fail('close');
    await set.warm();
    expect(seen.sort()).toEqual([['gitlab', 'error'], ['kubernetes', 'ok']]);
  });

  it("applies each attestor's own algorithm allowlist and size cap after routing", async () => {
    clock = new FakeClock();
    k8s = await TestIssuer.start({ clock, alg: 'ES256' });
    gitlab = await TestIssuer.start({ clock, alg: 'ES256' });
    set = createAttestorSet(
      [
        parse({ kind: 'kubernetes', issuer: k8s.issuer, algorithms: ['RS256'], maxTokenBytes: 1500 }),
        parse({ kind: 'oidc', issuer: gitlab.issuer, algorithms: ['ES256'], maxTokenBytes: 16384 }),
      ],
      { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN },
    );
    const es256 = await k8s.mintKubernetes({ namespace: 'ns', serviceAccount: 'sa', audience: AUDIENCE });
    await expectRefused(set.attest(es256), 'ERR_TOKEN_ALG_NOT_ALLOWED', { details: { alg: 'ES256' } });
    const rs = k8s.rotate('RS256');
    const big = await k8s.mintKubernetes({ namespace: 'ns', serviceAccount: 'sa', audience: AUDIENCE, key: rs, claims: { pad: 'x'.repeat(1500) } });
    await expectRefused(set.attest(big), 'ERR_TOKEN_TOO_LARGE', { details: { maxTokenBytes: 1500 } });
    await expect(set.attest(await gitlab.mint(gitlab.claims(AUDIENCE, { pad: 'x'.repeat(1500) })))).resolves.toBeDefined();
  });

  it('an empty set refuses every token as from an unknown issuer', async () => {
    clock = new FakeClock();
    k8s = await TestIssuer.start({ clock });
    gitlab = await TestIssuer.start({ clock });
    set = createAttestorSet([], { clock, audience: AUDIENCE, trustDomain: TRUST_DOMAIN });
    expect(set.ready()).toBe(true);
    await expectRefused(set.attest(await k8s.mint(k8s.claims(AUDIENCE))), 'ERR_TOKEN_ISSUER_UNKNOWN');
  });
});

describe('attestors used directly', () => {
  it('reject (never throw synchronously) on a malformed token', async () => {
    const set = createAttestorSet([parse({ kind: 'oidc', issuer: 'https://a.example' })], deps());
    try {
      const attestor = set.attestors[0]!;
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = attestor.attest({ type: JWT_TOKEN_TYPE, value: 'not a token' });
      }).not.toThrow();
      await expectRefused(promise!, 'ERR_TOKEN_MALFORMED');
    } finally {
      set.close();
    }
  });
});
