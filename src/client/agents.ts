/**
 * The connection pools of a Stint client: one keep-alive agent over plain http (loopback), or an
 * https agent with the configured CA bundle and client certificate (mTLS), rebuilt when those files
 * change on disk (cert-manager or a projected Secret rotates them) before the next request, without
 * a restart.
 */
import { readFileSync, statSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { ConfigError } from '../errors.js';

/** The TLS files of an endpoint (PEM paths). */
export interface TlsFiles {
  readonly caFile?: string;
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
}

/** Which TLS file: a key of TlsFiles. */
export type TlsFileKey = keyof TlsFiles;

/** The setting each TLS file came from, named in configuration errors (the sidecar's `stint.caFile`, the action's `ca-bundle`). */
export type TlsSettingNames = Readonly<Partial<Record<TlsFileKey, string>>>;

/** The agent for the next request. */
export interface AgentSource {
  current(): HttpAgent | HttpsAgent;
  close(): void;
}

const POOL = { keepAlive: true, maxSockets: 4 } as const;

/** One keep-alive agent for plain http. */
export function plainAgents(): AgentSource {
  const agent = new HttpAgent(POOL);
  return { current: () => agent, close: () => agent.destroy() };
}

/** The https agents of `files`; an unreadable file at start is ERR_CONFIG_INVALID naming its setting. */
export function tlsAgents(files: TlsFiles, build: (options: { ca?: Buffer; cert?: Buffer; key?: Buffer; keepAlive: true; maxSockets: number }) => HttpsAgent, names: TlsSettingNames = {}): AgentSource {
  return new TlsAgents(files, (options) => build({ ...POOL, ...options }), names);
}

/**
 * The https agent, rebuilt when the CA bundle or the client certificate or key changes on disk
 * (inode, size or modification time: a projected Secret swaps a symlink, cert-manager rewrites).
 * At start an unreadable file is a configuration error; later, a file caught mid-rotation keeps
 * the previous agent until the next request.
 */
class TlsAgents implements AgentSource {
  readonly #files: [TlsFileKey, string][];
  readonly #build: (options: { ca?: Buffer; cert?: Buffer; key?: Buffer }) => HttpsAgent;
  #agent: HttpsAgent;
  #stamp: string;

  constructor(files: TlsFiles, build: (options: { ca?: Buffer; cert?: Buffer; key?: Buffer }) => HttpsAgent, names: TlsSettingNames) {
    this.#build = build;
    this.#files = [];
    if (files.caFile) this.#files.push(['caFile', files.caFile]);
    if (files.clientCertFile && files.clientKeyFile) this.#files.push(['clientCertFile', files.clientCertFile], ['clientKeyFile', files.clientKeyFile]);
    this.#stamp = this.#stampNow();
    try {
      this.#agent = this.#load();
    } catch (e) {
      const { key, file, code } = e as { key: TlsFileKey; file: string; code: string };
      throw new ConfigError('ERR_CONFIG_INVALID', names[key] ?? `stint.${key}`, `cannot read ${file}: ${code}`);
    }
  }

  current(): HttpsAgent {
    if (this.#files.length === 0) return this.#agent;
    const stamp = this.#stampNow();
    if (stamp === this.#stamp) return this.#agent;
    try {
      const next = this.#load();
      this.#agent.destroy();
      this.#agent = next;
      this.#stamp = stamp;
    } catch {
      // Mid-rotation (a file missing or unreadable for a moment): the previous agent, retry next time.
    }
    return this.#agent;
  }

  close(): void {
    this.#agent.destroy();
  }

  #stampNow(): string {
    return this.#files
      .map(([, file]) => {
        try {
          const s = statSync(file);
          return `${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  }

  #load(): HttpsAgent {
    const read: Partial<Record<TlsFileKey, Buffer>> = {};
    for (const [key, file] of this.#files) {
      try {
        read[key] = readFileSync(file);
      } catch (e) {
        throw Object.assign(new Error(`cannot read ${file}`), { key, file, code: (e as NodeJS.ErrnoException).code ?? 'error' });
      }
    }
    return this.#build({ ...(read.caFile ? { ca: read.caFile } : {}), ...(read.clientCertFile && read.clientKeyFile ? { cert: read.clientCertFile, key: read.clientKeyFile } : {}) });
  }
}
