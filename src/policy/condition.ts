/**
 * CEL conditions (`condition:` on a rule): one expression over the verified identity, its claims
 * and one requested credential, type-checked and compiled once at load with
 * @marcbachmann/cel-js. A rule applies only when its condition is true for every requested
 * credential; an evaluation error (a missing claim, a type mismatch at run time) counts as false.
 *
 * The CEL library is loaded at the first condition compiled, not with this module (issue 12: a
 * policy without conditions does not carry it in memory). It is required synchronously
 * (require(esm), Node >= 20.19, the engines range) because policies compile synchronously, at
 * start and on reload alike.
 */
import { createRequire } from 'node:module';
import type { Environment } from '@marcbachmann/cel-js';
import type { WorkloadIdentity } from '../attestation/attestor.js';
import { StintError } from '../errors.js';
import type { CredentialRequest, RequestContext } from './decision.js';

/** Longest accepted expression, in characters. */
export const MAX_CONDITION_LENGTH = 4096;

/**
 * The variables an expression may read:
 * - `claims`: the verified claims (map of string to dyn; integers are CEL ints)
 * - `identity`: `attestor`, `attestorName`, `issuer`, `subject`, `id` (strings)
 * - `request`: `kind`, `audience`, `target` (strings, "" when absent), `ttl` (int seconds, 0 = the
 *   rule's default), `scopes` (list of strings)
 * - `context`: `reason`, `ticket`, `runId` (strings, "" when absent)
 * - `now`: int epoch seconds; `time`: `hour` (0-23), `minute`, `weekday` (0 = Sunday), UTC
 */
function createEnvironment(): Environment {
  return new (celLibrary().Environment)({ limits: { maxAstNodes: 2000, maxDepth: 64, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 16 } })
    .registerVariable('claims', 'map<string, dyn>')
    .registerVariable({ name: 'identity', schema: { attestor: 'string', attestorName: 'string', issuer: 'string', subject: 'string', id: 'string' } })
    .registerVariable({ name: 'request', schema: { kind: 'string', audience: 'string', target: 'string', ttl: 'int', scopes: 'list<string>' } })
    .registerVariable({ name: 'context', schema: { reason: 'string', ticket: 'string', runId: 'string' } })
    .registerVariable('now', 'int')
    .registerVariable({ name: 'time', schema: { hour: 'int', minute: 'int', weekday: 'int' } });
}

/** The CEL library, required at first use; a broken installation is a typed error naming it. */
function celLibrary(): typeof import('@marcbachmann/cel-js') {
  try {
    return createRequire(import.meta.url)('@marcbachmann/cel-js') as typeof import('@marcbachmann/cel-js');
  } catch (cause) {
    throw new StintError('ERR_INTERNAL', 'cannot load the CEL library (@marcbachmann/cel-js) that policy conditions need', { package: '@marcbachmann/cel-js' }, { cause });
  }
}

let shared: Environment | undefined;
function environment(): Environment {
  shared ??= createEnvironment();
  return shared;
}

/** A compiled condition. */
export interface CompiledExpression {
  readonly source: string;
  readonly run: (vars: Record<string, unknown>) => unknown;
}

/** A condition that does not compile: the message and the 0-based offset in the expression. */
export interface ConditionProblem {
  readonly message: string;
  readonly offset: number;
}

/** Type-check and compile an expression; it must be of type bool. */
export function compileCondition(source: string): CompiledExpression | ConditionProblem {
  if (source.length > MAX_CONDITION_LENGTH) return { message: `condition is longer than ${MAX_CONDITION_LENGTH} characters`, offset: 0 };
  const env = environment();
  let checked: { valid: boolean; type?: string; error?: { message: string; summary?: string; range?: { start: number } } };
  try {
    checked = env.check(source) as typeof checked;
  } catch (e) {
    return problemOf(e);
  }
  if (!checked.valid) return problemOf(checked.error);
  if (checked.type !== 'bool') return { message: `condition must be of type bool, got ${checked.type ?? 'unknown'}`, offset: 0 };
  try {
    const fn = env.parse(source);
    return { source, run: (vars) => fn(vars) };
  } catch (e) {
    return problemOf(e);
  }
}

function problemOf(e: unknown): ConditionProblem {
  const err = e as { summary?: string; message?: string; range?: { start?: number } } | undefined;
  const message = err?.summary ?? (err?.message ?? 'invalid condition').split('\n', 1)[0] ?? 'invalid condition';
  return { message, offset: typeof err?.range?.start === 'number' ? err.range.start : 0 };
}

/** True when `c` is a compile problem. */
export function isConditionProblem(c: CompiledExpression | ConditionProblem): c is ConditionProblem {
  return 'offset' in c;
}

/** Variables shared by every requested credential of one decision (built once per decision). */
export interface ConditionScope {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly identity: Readonly<Record<string, string>>;
  readonly context: Readonly<Record<string, string>>;
  readonly now: bigint;
  readonly time: Readonly<Record<string, bigint>>;
}

/** Build the scope of one decision; claims' integers become CEL ints. */
export function conditionScope(identity: WorkloadIdentity, context: RequestContext | undefined, now: number): ConditionScope {
  const seconds = Number.isFinite(now) ? Math.floor(now) : 0;
  const date = new Date(seconds * 1000);
  return {
    claims: celValue(identity.claims) as Record<string, unknown>,
    identity: { attestor: str(identity.attestor), attestorName: str(identity.attestorName), issuer: str(identity.issuer), subject: str(identity.subject), id: str(identity.id) },
    context: { reason: str(context?.reason), ticket: str(context?.ticket), runId: str(context?.runId) },
    now: BigInt(seconds),
    time: { hour: BigInt(date.getUTCHours()), minute: BigInt(date.getUTCMinutes()), weekday: BigInt(date.getUTCDay()) },
  };
}

/** True when the expression holds for one requested credential; errors are false. */
export function conditionHoldsFor(expr: CompiledExpression, scope: ConditionScope, request: CredentialRequest): boolean {
  try {
    const ttl = typeof request.ttlSeconds === 'number' && Number.isSafeInteger(request.ttlSeconds) && request.ttlSeconds > 0 ? request.ttlSeconds : 0;
    const vars = {
      claims: scope.claims,
      identity: scope.identity,
      context: scope.context,
      now: scope.now,
      time: scope.time,
      request: {
        kind: str(request.kind),
        audience: str(request.audience),
        target: str(request.target),
        ttl: BigInt(ttl),
        scopes: Array.isArray(request.scopes) ? request.scopes.filter((s) => typeof s === 'string') : [],
      },
    };
    return expr.run(vars) === true;
  } catch {
    return false;
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** JSON claims to CEL values: safe integers become BigInt (CEL int), the rest stays as is. */
function celValue(v: unknown): unknown {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(celValue);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = celValue((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}
