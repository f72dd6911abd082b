/**
 * The stateful core of a service, opened in dependency order: attestors, the store, the keyring
 * and the credential providers. Each part pushes its cleanup onto the disposal stack as soon as
 * it exists, so a failure further on closes it (attestors and providers included).
 */
import type { AttestationBindings, AttestationNonces } from '../attestation/attestor.js';
import { createStoreNonces } from '../attestation/nonces.js';
import { createAttestorSet, type AttestorSet } from '../attestation/registry.js';
import { Auditor } from '../audit/auditor.js';
import { builtinProviders, createProviderRegistry, type ProviderRegistry } from '../credentials/registry.js';
import { Keyring } from '../keys/keyring.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { instrumentStore } from '../telemetry/metrics.js';
import type { ServiceContext } from './context.js';
import type { Disposer } from './disposer.js';

/** The opened core. */
export interface ServiceCore {
  readonly attestors: AttestorSet;
  /** Server nonces of attestors whose proofs embed one (kept in the store). */
  readonly nonces: AttestationNonces;
  readonly store: Store;
  readonly auditor: Auditor;
  readonly keyring: Keyring;
  readonly providers: ProviderRegistry;
}

/** Open the core; every part opened is on `disposer` before the next one opens. */
export async function openCore(ctx: ServiceContext, disposer: Disposer): Promise<ServiceCore> {
  const { config, clock, metrics } = ctx;
  // Attestors reach the Store (opened next) only while attesting, after start: replay state and nonces.
  let opened: Store | null = null;
  const bindings: AttestationBindings = { bindAttestation: (input) => opened!.bindAttestation(input) };
  const nonces = createStoreNonces(bindings, clock);
  const attestors = disposer.use('attestors', createAttestorSet(config.attestors, {
    clock,
    audience: ctx.audience,
    trustDomain: config.trustDomain,
    bindings,
    nonces,
    onJwksFetch: (name, outcome, seconds) => {
      metrics.jwksFetches.inc({ attestor: name, outcome });
      metrics.jwksFetchDuration.observe({ attestor: name }, seconds);
    },
  }), (a) => a.close());
  const store = disposer.use('store', instrumentStore(await openStore(config.store), metrics), (s) => s.close());
  opened = store;
  const auditor = new Auditor(store, ctx.logger, clock, metrics);
  const keyring = await openKeyring(ctx, store, auditor);
  const providers = openProviders(ctx, keyring, disposer);
  return { attestors, nonces, store, auditor, keyring, providers };
}

/** The signing keys, with any transition already due applied (a new store gets its first key). */
async function openKeyring(ctx: ServiceContext, store: Store, auditor: Auditor): Promise<Keyring> {
  const { config } = ctx;
  const keyring = await Keyring.open({
    store,
    clock: ctx.clock,
    algorithm: config.signing.algorithm,
    rotationPeriodSeconds: config.signing.rotationPeriod,
    prepublishSeconds: config.signing.prepublish,
    maxTokenTtlSeconds: config.credentials.maxTtl,
    onEvent: (type, kid) => {
      void auditor.record({ type, requestId: null, identity: null, rule: null, outcome: 'info', reason: null, grantIds: [], data: { kid } }).catch(() => undefined);
    },
  });
  await keyring.tick();
  return keyring;
}

/** The built-in providers of the configuration; each one's close is on the stack before the registry checks them. */
function openProviders(ctx: ServiceContext, keyring: Keyring, disposer: Disposer): ProviderRegistry {
  const { config, metrics } = ctx;
  const providers = builtinProviders({
    issuer: config.issuer,
    keyring,
    clock: ctx.clock,
    maxTtlSeconds: config.credentials.maxTtl,
    jwtTyp: config.credentials.jwtTyp,
    upstream: config.providers,
    onUpstreamCall: (provider, operation, outcome, seconds, code) => {
      metrics.upstreamDuration.observe({ provider, operation, outcome }, seconds);
      if (outcome === 'error') metrics.upstreamErrors.inc({ provider, code: code ?? 'unknown' });
    },
  });
  for (const p of providers) {
    if (p.close) disposer.defer(`provider ${p.kind}`, () => p.close?.());
  }
  return createProviderRegistry(providers);
}
