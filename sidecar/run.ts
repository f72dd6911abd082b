/** The three modes of `stint-sidecar`: sidecar (long-running), init (fetch once and exit), exec (run a child). */
import type { Server } from 'node:http';
import { StintError } from '../src/errors.js';
import { isRetryable } from '../src/client/retryable.js';
import { StintClient } from '../src/client/stint_client.js';
import type { SidecarConfig } from './config/schema.js';
import { CredentialKeeper } from './keeper.js';
import type { Logger } from './log.js';
import { SidecarMetrics } from './metrics.js';
import { createOutput } from './outputs/index.js';
import type { Output } from './outputs/output.js';
import { startOpsServer } from './ops_server.js';
import { backoffDelay, type RenewalPolicy } from './schedule.js';
import { close } from './outputs/listen.js';
import { createSubjectTokenSource, type SubjectProof, type SubjectTokenSource } from '../src/client/subject_token/index.js';
import { startHeapTrim } from './heap_trim.js';

/** A mode of the program. */
export type Mode = 'sidecar' | 'init' | 'exec';

interface Runtime {
  readonly keepers: CredentialKeeper[];
  readonly outputs: Output[];
  readonly client: StintClient;
  readonly metrics: SidecarMetrics;
  readonly subjectToken: SubjectTokenSource;
  ops: Server | null;
  stopHeapTrim: () => void;
}

const now = (): number => Date.now();

async function setUp(config: SidecarConfig, log: Logger): Promise<Runtime> {
  // The client, the subject token source and every output are made at once (each may import its
  // module): the first exchange waits for the slowest of them, not for their sum. The failure
  // reported is the first in this order, as when they were made one after the other.
  const clientMade = StintClient.create(config.stint, { now });
  const [madeClient, madeSource, madeOutputs] = await Promise.allSettled([
    clientMade,
    createSubjectTokenSource(config.subjectToken, { nonce: async (kind) => (await clientMade).nonce(kind), now }),
    Promise.all(config.credentials.map((c) => Promise.all(c.outputs.map((oc) => createOutput(oc, { log, now }))))),
  ]);
  if (madeClient.status === 'rejected') throw madeClient.reason;
  if (madeSource.status === 'rejected') throw madeSource.reason;
  if (madeOutputs.status === 'rejected') throw madeOutputs.reason;
  const client = madeClient.value;
  const subjectToken = madeSource.value;
  const metrics = new SidecarMetrics();
  const policy: RenewalPolicy = config.renewal;
  const keepers: CredentialKeeper[] = [];
  const outputs: Output[] = [];
  for (const [i, c] of config.credentials.entries()) {
    const own: Output[] = [];
    for (const o of madeOutputs.value[i]!) {
      await o.start?.();
      own.push(o);
      outputs.push(o);
    }
    keepers.push(
      new CredentialKeeper({ name: c.name, kind: c.kind, audience: c.audience, target: c.target, ttl: c.ttl, scopes: c.scopes, renewInPlace: c.renewInPlace }, c.required, own, {
        client,
        subjectToken,
        policy,
        log,
        metrics,
        now,
        random: Math.random,
        revocationCheck: config.revocationCheck === false ? 0 : config.revocationCheck,
      }),
    );
  }
  return { keepers, outputs, client, metrics, subjectToken, ops: null, stopHeapTrim: () => {} };
}

/** Obtain every credential once, retrying transient failures until the init timeout; throws the first permanent failure. */
async function obtainAll(rt: Runtime, config: SidecarConfig, log: Logger, stopped: () => boolean = () => false): Promise<void> {
  const deadline = now() + config.init.timeout;
  await Promise.all(
    rt.keepers.map(async (k) => {
      for (let failures = 0; ; ) {
        if (stopped() || (await k.attempt()) || stopped()) return;
        const err = k.lastError!;
        failures++;
        const wait = backoffDelay(failures, config.renewal, Math.random);
        if (!isRetryable(err) || now() + wait > deadline) {
          throw new StintError(err.code, `credential ${k.request.name}: ${err.message}`, { ...err.details, credential: k.request.name });
        }
        log.log('info', 'retrying', { credential: k.request.name, in_ms: Math.round(wait) });
        await new Promise((r) => setTimeout(r, wait));
      }
    }),
  );
}

async function tearDown(rt: Runtime, config: SidecarConfig, log: Logger, revoke: boolean): Promise<void> {
  rt.stopHeapTrim();
  for (const k of rt.keepers) k.stop();
  await Promise.all(rt.keepers.map((k) => k.settle()));
  if (revoke) await revokeGrants(rt, config, log);
  await Promise.all(rt.outputs.map((o) => o.stop?.()));
  await close(rt.ops);
  rt.client.close();
}

/** Revoke the grants currently served (shutdown.revokeGrants). */
async function revokeGrants(rt: Runtime, config: SidecarConfig, log: Logger): Promise<void> {
  const held = rt.keepers.map((k) => k.current).filter((c) => c !== null && c.grantId);
  if (held.length === 0) return;
  let subject: SubjectProof;
  try {
    subject = await rt.subjectToken.read();
  } catch (e) {
    log.log('error', 'grants not revoked: no subject token', { error: (e as Error).message });
    return;
  }
  for (const cred of held) {
    try {
      await rt.client.revoke(subject, cred!.grantId, 'stint-sidecar shutdown');
      log.log('info', 'grant revoked', { credential: cred!.name, grant_id: cred!.grantId });
    } catch (e) {
      const err = e as StintError;
      log.log('error', 'grant not revoked', { credential: cred!.name, grant_id: cred!.grantId, code: err.code, error: err.message });
      if (err.details?.reason === 'revoke_unsupported') return;
    }
  }
}

/** Long-running modes keep the heap at its live size (heap_trim.ts). */
function trimHeap(log: Logger): () => void {
  return startHeapTrim(undefined, (before, after) => log.log('debug', 'heap trimmed', { before_bytes: before, after_bytes: after }));
}

/** Wait for SIGTERM or SIGINT. */
function terminated(): Promise<NodeJS.Signals> {
  return new Promise((r) => {
    process.once('SIGTERM', () => r('SIGTERM'));
    process.once('SIGINT', () => r('SIGINT'));
  });
}

/** init mode: fetch once, write every output, exit 0; or a non-zero status with a clear message. */
export async function runInit(config: SidecarConfig, log: Logger): Promise<number> {
  const rt = await setUp(config, log);
  for (const o of rt.outputs) if (o.type === 'aws-container' || o.type === 'gcp-metadata') log.log('warn', `a ${o.type} output serves nothing in init mode (the process exits)`, { where: o.where });
  try {
    await obtainAll(rt, config, log);
    log.log('info', 'init complete: every credential written', { credentials: rt.keepers.map((k) => k.request.name) });
    return 0;
  } finally {
    await tearDown(rt, config, log, false);
  }
}

/** sidecar mode: keep every credential fresh until SIGTERM. */
export async function runSidecar(config: SidecarConfig, log: Logger): Promise<number> {
  const stop = terminated();
  const rt = await setUp(config, log);
  if (config.ops.listen !== false) rt.ops = await startOpsServer(config.ops.listen, rt.keepers, rt.metrics, now, log);
  for (const k of rt.keepers) k.start();
  rt.stopHeapTrim = trimHeap(log);
  log.log('info', 'stint-sidecar running', { mode: 'sidecar', credentials: rt.keepers.map((k) => k.request.name), ops: config.ops.listen, outputs: rt.outputs.map((o) => `${o.type}:${o.where}`) });
  const sig = await stop;
  log.log('info', 'stopping', { signal: sig });
  await tearDown(rt, config, log, config.shutdown.revokeGrants);
  log.log('info', 'stopped');
  return 0;
}

/** exec mode: obtain every credential, run the command with them in its environment, follow rotations, exit with its status. */
export async function runExec(config: SidecarConfig, log: Logger, command: readonly string[]): Promise<number> {
  const { Supervisor, FORWARDED_SIGNALS } = await import('./exec/child.js');
  const rt = await setUp(config, log);
  if (config.ops.listen !== false) rt.ops = await startOpsServer(config.ops.listen, rt.keepers, rt.metrics, now, log);
  let supervisor: InstanceType<typeof Supervisor> | null = null;
  let stopRequested: NodeJS.Signals | null = null;
  const forward = (sig: NodeJS.Signals): void => {
    if (supervisor) supervisor.signal(sig);
    else if (sig === 'SIGTERM' || sig === 'SIGINT') stopRequested = sig;
  };
  for (const sig of FORWARDED_SIGNALS) process.on(sig, forward);
  try {
    await obtainAll(rt, config, log, () => stopRequested !== null);
  } catch (e) {
    for (const sig of FORWARDED_SIGNALS) process.off(sig, forward);
    await tearDown(rt, config, log, false);
    throw e;
  }
  if (stopRequested) {
    // Stopped before the command ever ran: do not start it.
    for (const sig of FORWARDED_SIGNALS) process.off(sig, forward);
    await tearDown(rt, config, log, config.shutdown.revokeGrants);
    return 128 + (stopRequested === 'SIGTERM' ? 15 : 2);
  }
  const env = (): NodeJS.ProcessEnv => {
    const vars: NodeJS.ProcessEnv = { ...process.env };
    for (const o of rt.outputs) Object.assign(vars, o.env?.());
    return vars;
  };
  supervisor = new Supervisor(command, env, log, config.exec.gracePeriod);
  const sup = supervisor;
  // Rotations close together (several credentials) cause one restart or one signal.
  let pending: NodeJS.Timeout | null = null;
  const rotated = (): void => {
    if (config.exec.onRotation === 'none' || pending) return;
    pending = setTimeout(() => {
      pending = null;
      if (config.exec.onRotation === 'restart') void sup.restart();
      else {
        log.log('info', 'signalling the command: credentials rotated', { signal: config.exec.signal });
        sup.signal(config.exec.signal);
      }
    }, 50);
  };
  for (const k of rt.keepers) {
    k.onChange((change) => {
      // A renewal in place keeps the same secret: nothing for the command to pick up.
      if (change === 'issued' || change === 'rotated') rotated();
    });
    k.start();
  }
  sup.start();
  rt.stopHeapTrim = trimHeap(log);
  const status = await sup.finished;
  if (pending) clearTimeout(pending);
  for (const sig of FORWARDED_SIGNALS) process.off(sig, forward);
  await tearDown(rt, config, log, config.shutdown.revokeGrants);
  return status;
}
