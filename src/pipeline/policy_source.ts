/** Holds the enforced policy snapshot; a reload swaps it atomically, each request reads it once. */
import type { PolicyEngine } from '../policy/decision.js';
import type { PolicySource } from './contracts.js';

/** What the Admin API shows of the loaded policy. */
export interface PolicyInfo {
  readonly digest: string;
  readonly rules: readonly string[];
  readonly source: string;
  readonly loadedAt: number;
}

/** The current policy and its source. */
export class PolicyHolder implements PolicySource {
  private snapshot: { engine: PolicyEngine; info: PolicyInfo };

  constructor(engine: PolicyEngine, source: string, loadedAt: number) {
    this.snapshot = { engine, info: { digest: engine.digest, rules: engine.ruleNames, source, loadedAt } };
  }

  /** The enforced policy. */
  current(): PolicyEngine {
    return this.snapshot.engine;
  }

  /** Replace the policy (atomic for readers). */
  replace(engine: PolicyEngine, source: string, loadedAt: number): void {
    this.snapshot = { engine, info: { digest: engine.digest, rules: engine.ruleNames, source, loadedAt } };
  }

  /** Digest, rule names, source and load time. */
  info(): PolicyInfo {
    return this.snapshot.info;
  }
}
