/** The sidecar's Prometheus metrics, written in the text exposition format by hand (no client library in every pod). */

interface CredentialCounters {
  renewals: number;
  inPlace: number;
  failures: Map<string, number>;
  revocations: number;
  outputFailures: Map<string, number>;
  expiresAt: number | null;
  /** Lifetime of the served credential when it was obtained (ms), and when that was. */
  lifetime: number | null;
  renewedAt: number | null;
}

/** Metrics of one sidecar. */
export class SidecarMetrics {
  readonly #by = new Map<string, CredentialCounters>();
  readonly #now: () => number;

  /** `now` (ms) dates renewals; the sidecar's clock. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #of(name: string): CredentialCounters {
    let c = this.#by.get(name);
    if (!c) this.#by.set(name, (c = { renewals: 0, inPlace: 0, failures: new Map(), revocations: 0, outputFailures: new Map(), expiresAt: null, lifetime: null, renewedAt: null }));
    return c;
  }

  /** Register a credential so its series exist from the start. */
  register(name: string): void {
    this.#of(name);
  }

  /** A credential was obtained (first issue or renewal), or extended in place. */
  renewed(name: string, expiresAt: number, inPlace = false): void {
    const c = this.#of(name);
    c.renewals++;
    if (inPlace) c.inPlace++;
    c.expiresAt = expiresAt;
    c.renewedAt = this.#now();
    c.lifetime = Math.max(0, expiresAt - c.renewedAt);
  }

  /** An exchange failed with a (bounded) error code. */
  failed(name: string, code: string): void {
    const m = this.#of(name).failures;
    m.set(code, (m.get(code) ?? 0) + 1);
  }

  /** An output could not be updated. */
  outputFailed(name: string, type: string): void {
    const m = this.#of(name).outputFailures;
    m.set(type, (m.get(type) ?? 0) + 1);
  }

  /** Stint revoked the served grant: the credential was withdrawn. */
  revoked(name: string): void {
    const c = this.#of(name);
    c.revocations++;
    c.expiresAt = null;
  }

  /** The credential expired without a replacement. */
  expired(name: string): void {
    this.#of(name).expiresAt = null;
  }

  /** The exposition text. */
  render(now: number): string {
    const lines: string[] = [];
    const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const family = (name: string, type: string, help: string, samples: string[]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
    };
    const entries = [...this.#by.entries()];
    family('stint_sidecar_renewals_total', 'counter', 'Credentials obtained from Stint (first issue and renewals).', entries.map(([n, c]) => `stint_sidecar_renewals_total{credential="${esc(n)}"} ${c.renewals}`));
    family('stint_sidecar_renewals_in_place_total', 'counter', 'Renewals that extended the held grant (same secret) instead of exchanging for a new one.', entries.map(([n, c]) => `stint_sidecar_renewals_in_place_total{credential="${esc(n)}"} ${c.inPlace}`));
    family('stint_sidecar_revocations_total', 'counter', 'Served grants Stint revoked (seen by the revocation check); each was withdrawn from every output.', entries.map(([n, c]) => `stint_sidecar_revocations_total{credential="${esc(n)}"} ${c.revocations}`));
    family(
      'stint_sidecar_renewal_failures_total',
      'counter',
      'Failed exchanges, by Stint error code.',
      entries.flatMap(([n, c]) => [...c.failures].map(([code, v]) => `stint_sidecar_renewal_failures_total{credential="${esc(n)}",code="${esc(code)}"} ${v}`)),
    );
    family(
      'stint_sidecar_output_failures_total',
      'counter',
      'Failed updates of an output, by output type.',
      entries.flatMap(([n, c]) => [...c.outputFailures].map(([type, v]) => `stint_sidecar_output_failures_total{credential="${esc(n)}",output="${esc(type)}"} ${v}`)),
    );
    family(
      'stint_sidecar_credential_expiry_seconds',
      'gauge',
      'Seconds until the served credential expires (absent while none is served).',
      entries.filter(([, c]) => c.expiresAt !== null && c.expiresAt > now).map(([n, c]) => `stint_sidecar_credential_expiry_seconds{credential="${esc(n)}"} ${((c.expiresAt! - now) / 1000).toFixed(3)}`),
    );
    family(
      'stint_sidecar_credential_lifetime_seconds',
      'gauge',
      'Lifetime of the served credential when it was obtained (with expiry_seconds: the fraction of it left).',
      entries.filter(([, c]) => c.expiresAt !== null && c.expiresAt > now && c.lifetime !== null).map(([n, c]) => `stint_sidecar_credential_lifetime_seconds{credential="${esc(n)}"} ${(c.lifetime! / 1000).toFixed(3)}`),
    );
    family(
      'stint_sidecar_last_renewal_timestamp_seconds',
      'gauge',
      'Unix time of the last successful renewal (absent before the first).',
      entries.filter(([, c]) => c.renewedAt !== null).map(([n, c]) => `stint_sidecar_last_renewal_timestamp_seconds{credential="${esc(n)}"} ${(c.renewedAt! / 1000).toFixed(3)}`),
    );
    family('stint_sidecar_credential_ready', 'gauge', '1 while an unexpired credential is served.', entries.map(([n, c]) => `stint_sidecar_credential_ready{credential="${esc(n)}"} ${c.expiresAt !== null && c.expiresAt > now ? 1 : 0}`));
    const mem = process.memoryUsage();
    family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [`process_resident_memory_bytes ${mem.rss}`]);
    family('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use, in bytes.', [`nodejs_heap_size_used_bytes ${mem.heapUsed}`]);
    family('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap reserved, in bytes.', [`nodejs_heap_size_total_bytes ${mem.heapTotal}`]);
    family('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript objects, in bytes.', [`nodejs_external_memory_bytes ${mem.external}`]);
    return `${lines.join('\n')}\n`;
  }
}
