/**
 * The credential provider registry: providers by kind. A new kind is one file in this folder and
 * one line in builtinProviders below.
 */
import type { Clock } from '../clock.js';
import { StintError } from '../errors.js';
import type { CredentialProvider } from './provider.js';
import { createStintJwtProvider, type StintJwtSigner } from './stint_jwt.js';

/** Providers by kind. */
export interface ProviderRegistry {
  /** The provider of `kind`; an unknown kind is ERR_INVALID_REQUEST with details.kind. */
  get(kind: string): CredentialProvider;
  /** True when `kind` is registered. */
  has(kind: string): boolean;
  /** Registered kinds, in registration order. */
  kinds(): string[];
}

/** What the built-in providers are built from. */
export interface BuiltinProviderDeps {
  /** Stint's issuer URL. */
  readonly issuer: string;
  readonly keyring: StintJwtSigner;
  readonly clock: Clock;
  /** Hard cap on any credential's TTL (configuration `credentials.maxTtl`). */
  readonly maxTtlSeconds: number;
}

/** The built-in providers: one line per kind. */
export function builtinProviders(deps: BuiltinProviderDeps): CredentialProvider[] {
  return [
    createStintJwtProvider({ issuer: deps.issuer, keyring: deps.keyring, clock: deps.clock, maxTtlSeconds: deps.maxTtlSeconds }),
    // aws-sts, gcp-access-token, vault, kubernetes, postgresql: one line each.
  ];
}

/** Build a registry; two providers of the same kind are a configuration error. */
export function createProviderRegistry(providers: readonly CredentialProvider[]): ProviderRegistry {
  const byKind = new Map<string, CredentialProvider>();
  for (const p of providers) {
    if (byKind.has(p.kind)) throw new StintError('ERR_CONFIG_INVALID', `credential kind ${p.kind} is registered twice`, { kind: p.kind });
    byKind.set(p.kind, p);
  }
  const kinds = [...byKind.keys()];
  return {
    get(kind: string): CredentialProvider {
      const provider = byKind.get(kind);
      if (!provider) throw new StintError('ERR_INVALID_REQUEST', `unknown credential kind ${JSON.stringify(kind.slice(0, 64))}`, { kind: kind.slice(0, 64) });
      return provider;
    },
    has(kind: string): boolean {
      return byKind.has(kind);
    },
    kinds(): string[] {
      return [...kinds];
    },
  };
}
