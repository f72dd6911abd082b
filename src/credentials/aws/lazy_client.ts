/**
 * An AWS SDK client made at its first use: the SDK module (STS ~16 MiB, IAM) is imported then, not
 * when the service starts, so a provider configured but idle costs no memory. Shared by the STS
 * provider and the IAM revoker.
 */

/** The client and its module once loaded; `destroy` frees the client's sockets if it was ever made. */
export interface LazySdkClient<M, C> {
  get(): Promise<{ client: C; mod: M }>;
  destroy(): void;
}

/** A client of module `load()` made by `make` at the first `get()`. */
export function lazySdkClient<M, C extends { destroy(): void }>(load: () => Promise<M>, make: (mod: M) => C): LazySdkClient<M, C> {
  let loading: Promise<M> | null = null;
  let client: C | null = null;
  return {
    async get() {
      loading ??= load();
      const mod = await loading;
      client ??= make(mod);
      return { client, mod };
    },
    destroy() {
      client?.destroy();
    },
  };
}
