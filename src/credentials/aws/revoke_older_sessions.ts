/**
 * "Revoke older sessions" for the aws-sts provider: STS sessions cannot be revoked one by one, so
 * on revoke Stint attaches to the grant's role the inline deny policy AWS documents for this
 * (the console's "Revoke active sessions", policy AWSRevokeOlderSessions): every action is
 * denied to sessions whose `aws:TokenIssueTime` is before the revocation time. Opt-in
 * (`providers.aws.revokeOlderSessions`), because it cuts off every session of the role issued
 * before that time, whichever workload holds it.
 *
 * The policy is merged, never overwritten backwards: the current document is read
 * (GetRolePolicy), the Stint statement's time becomes the later of the old and the new one, and
 * other statements in the same policy are kept. Calls to one role are serialized in the process;
 * after writing, the policy is read back so that a concurrent writer (another replica) that wrote
 * an older time is corrected (once). A failure is reported as a not-effective revocation with IAM's code,
 * never thrown: the grant stays revoked in Stint either way.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import { z } from 'zod';
import { StintError, UpstreamError } from '../../errors.js';
import { boundedDuration } from '../../config/fields.js';
import { callUpstream, type UpstreamObserver } from '../../upstream/call.js';
import type { Clock } from '../../clock.js';
import type { GrantRef, RevokeResult } from '../provider.js';
import { lazySdkClient } from './lazy_client.js';
import { readStaticAwsCredentials, staticAwsCredentialsSchema } from './static_credentials.js';
import { AWS_STS_KIND, classifyAwsSdkError, sanitizeCode, type AwsServiceErrors } from './errors.js';

/** The policy name used when the configuration names none. */
export const DEFAULT_REVOKE_POLICY_NAME = 'StintRevokeOlderSessions';

/** The `Sid` of the statement Stint owns inside that policy. */
export const REVOKE_STATEMENT_SID = 'StintRevokeOlderSessions';

const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

/** Configuration of `providers.aws.revokeOlderSessions`. */
export const revokeOlderSessionsSchema = z
  .object({
    /** Attach the deny policy on revoke (default false: revoke only marks the grant). */
    enabled: z.boolean().default(false),
    /** Name of the role's inline policy that Stint owns and updates. */
    policyName: z.string().regex(POLICY_NAME, 'an IAM policy name is 1-128 characters of letters, digits and +=,.@_-').default(DEFAULT_REVOKE_POLICY_NAME),
    /** IAM endpoint URL (a local IAM in tests); default the partition's global endpoint. */
    endpoint: z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL').optional(),
    /** Signing region of IAM (us-east-1 in the aws partition, cn-north-1 in aws-cn, us-gov-west-1 in GovCloud). */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'expected an AWS region such as us-east-1').default('us-east-1'),
    /** Bound of each IAM call. */
    timeout: boundedDuration(1, 60).default(5),
    /** Stint's IAM principal (iam:GetRolePolicy, iam:PutRolePolicy on the roles), by reference; default the SDK's chain. */
    credentials: staticAwsCredentialsSchema.optional(),
  })
  .strict();
export type RevokeOlderSessionsConfig = z.infer<typeof revokeOlderSessionsSchema>;

import type { RevokeCause } from '../provider.js';

export type { RevokeCause };

/** Causes that never attach the deny policy. */
export const ROUTINE_REVOKE_CAUSES: ReadonlySet<RevokeCause> = new Set<RevokeCause>(['workload', 'rollback']);

/** What the revoker needs besides its configuration. */
export interface RevokeOlderSessionsDeps {
  readonly clock: Clock;
  readonly onUpstreamCall?: UpstreamObserver;
}

/** Attaches or moves forward the deny policy of a grant's role. */
export interface OlderSessionsRevoker {
  /** Deny every session of the grant's role issued before now; never throws. */
  revoke(grant: GrantRef): Promise<RevokeResult>;
  /** Release the IAM client. */
  close(): void;
}

/** The IAM role name of a grant: from its target (the role ARN) or its assumed-role ARN. */
export function roleNameOf(grant: Pick<GrantRef, 'target' | 'revocationHandle'>): string | null {
  const role = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]{1,64})$/.exec(grant.target ?? '');
  if (role) return role[1]!;
  const assumed = /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/([\w+=,.@-]{1,64})\/[\w+=,.@-]+$/.exec(grant.revocationHandle ?? '');
  return assumed ? assumed[1]! : null;
}

/** The revocation time as IAM condition text: the next whole second (ISO 8601, UTC, no fraction). */
export function revocationTime(nowMs: number): string {
  return new Date(Math.ceil(nowMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

interface PolicyStatement {
  Sid?: unknown;
  Effect?: unknown;
  Action?: unknown;
  Resource?: unknown;
  Condition?: unknown;
  [key: string]: unknown;
}

/** The deny statement for sessions issued before `time`. */
export function denyOlderStatement(time: string): PolicyStatement {
  return { Sid: REVOKE_STATEMENT_SID, Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': time } } };
}

/** The time in Stint's statement of a policy document, or null when it has none. */
export function statementTime(document: { Statement?: unknown } | null): string | null {
  const statements = document ? asStatements(document.Statement) : [];
  const mine = statements.find((s) => s.Sid === REVOKE_STATEMENT_SID);
  const cond = mine?.Condition as { DateLessThan?: Record<string, unknown> } | undefined;
  const time = cond?.DateLessThan?.['aws:TokenIssueTime'];
  return typeof time === 'string' && Number.isFinite(Date.parse(time)) ? time : null;
}

/**
 * The policy document with Stint's statement at the later of its current time and `time`; other
 * statements are kept. `changed` is false when the current time already covers `time`.
 */
export function mergeRevokePolicy(current: { Statement?: unknown } | null, time: string): { document: { Version: string; Statement: PolicyStatement[] }; changed: boolean; time: string } {
  const existing = statementTime(current);
  const later = existing !== null && Date.parse(existing) >= Date.parse(time) ? existing : time;
  const others = current ? asStatements(current.Statement).filter((s) => s.Sid !== REVOKE_STATEMENT_SID) : [];
  return { document: { Version: '2012-10-17', Statement: [...others, denyOlderStatement(later)] }, changed: later !== existing, time: later };
}

function asStatements(value: unknown): PolicyStatement[] {
  const list = Array.isArray(value) ? value : value !== undefined && value !== null ? [value] : [];
  return list.filter((s): s is PolicyStatement => typeof s === 'object' && s !== null && !Array.isArray(s));
}

/** A policy document as IAM returns it (URL-encoded JSON), or null when it is not JSON. */
export function parsePolicyDocument(text: string | undefined): { Statement?: unknown } | null {
  if (!text) return null;
  for (const candidate of [text, safeDecode(text)]) {
    if (candidate === null) continue;
    try {
      const doc: unknown = JSON.parse(candidate);
      if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return doc as { Statement?: unknown };
    } catch {
      // try the next form
    }
  }
  return null;
}

function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** The blast radius, said with every successful revocation. */
function effectiveNote(role: string, policy: string, time: string): string {
  return `denied every session of IAM role ${role} issued before ${time} (inline policy ${policy}): the revoked credentials and those of every other workload using the role issued before then; new exchanges get working credentials; remove the policy to lift it`;
}

/** Create the revoker for `providers.aws.revokeOlderSessions` (enabled). */
export function createOlderSessionsRevoker(config: RevokeOlderSessionsConfig, deps: RevokeOlderSessionsDeps): OlderSessionsRevoker {
  const credentials = readStaticAwsCredentials(config.credentials, 'providers.aws.revokeOlderSessions.credentials');
  const timeoutMs = config.timeout * 1000;
  // The IAM SDK is imported at the first revocation, not at start (as the STS SDK is).
  const iamClient = lazySdkClient(
    () => import('@aws-sdk/client-iam'),
    (mod) =>
      new mod.IAMClient({
        region: config.region,
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        maxAttempts: 2,
        requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
        ...(credentials ? { credentials } : {}),
      }),
  );
  const iam = (): Promise<{ client: IAMClient; mod: typeof import('@aws-sdk/client-iam') }> => iamClient.get();
  const call = <T>(operation: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    callUpstream({ kind: AWS_STS_KIND, operation, timeoutMs, observe: deps.onUpstreamCall, classify: classifyIamError }, fn);

  const read = async (roleName: string): Promise<{ Statement?: unknown } | null> =>
    call('GetRolePolicy', async (abortSignal) => {
      const { client: c, mod } = await iam();
      try {
        const out = await c.send(new mod.GetRolePolicyCommand({ RoleName: roleName, PolicyName: config.policyName }), { abortSignal });
        return parsePolicyDocument(out.PolicyDocument);
      } catch (err) {
        // NoSuchEntity names the role policy when only the policy is missing (a missing role is a failure).
        if (err instanceof mod.NoSuchEntityException && /role policy/i.test(err.message)) return null;
        throw err;
      }
    });
  const write = async (roleName: string, document: object): Promise<void> =>
    call('PutRolePolicy', async (abortSignal) => {
      const { client: c, mod } = await iam();
      await c.send(new mod.PutRolePolicyCommand({ RoleName: roleName, PolicyName: config.policyName, PolicyDocument: JSON.stringify(document) }), { abortSignal });
    });

  const perRole = new Map<string, Promise<unknown>>();
  const apply = async (roleName: string, time: string): Promise<string> => {
    // Written, then read back: when another replica wrote an older time over it at once, written again (once).
    // IAM reads are eventually consistent, so a read-back that still shows the old document after the
    // second write is not an error: PutRolePolicy succeeded.
    for (let round = 0; round < 2; round++) {
      const merged = mergeRevokePolicy(await read(roleName), time);
      if (!merged.changed) return merged.time;
      await write(roleName, merged.document);
      const now = statementTime(await read(roleName));
      if (now === null || Date.parse(now) >= Date.parse(time)) return now ?? time;
    }
    return time;
  };

  return {
    async revoke(grant) {
      const roleName = roleNameOf(grant);
      if (!roleName) return { effective: false, note: `revokeOlderSessions: grant ${grant.id} names no IAM role; its STS credentials stay valid until they expire` };
      const time = revocationTime(deps.clock.now());
      const previous = perRole.get(roleName) ?? Promise.resolve();
      const run = previous.catch(() => undefined).then(() => apply(roleName, time));
      perRole.set(roleName, run);
      try {
        const applied = await run;
        return { effective: true, note: effectiveNote(roleName, config.policyName, applied) };
      } catch (err) {
        const e = err instanceof StintError ? err : classifyIamError(err);
        // The classified message: IAM's code, status and redacted text, or "IAM unreachable (ECONNREFUSED)", or a timeout.
        const reason = e instanceof UpstreamError ? e.message.replace(`${AWS_STS_KIND}: `, '') : e.code;
        return { effective: false, note: `revokeOlderSessions failed for IAM role ${roleName} (${reason}): the STS credentials stay valid until they expire; attach the deny policy by hand (docs/providers/aws.md)` };
      } finally {
        if (perRole.get(roleName) === run) perRole.delete(roleName);
      }
    },
    close() {
      iamClient.destroy();
    },
  };
}

const IAM_ERRORS: AwsServiceErrors = {
  service: 'IAM',
  codeOf: (e, status) => sanitizeCode(typeof e.Code === 'string' && e.Code ? e.Code : typeof e.name === 'string' && e.name !== 'Unknown' ? e.name.replace(/Exception$/, '') : `HTTP${status ?? 0}`),
  denied: new Set(),
  statusWhenUnknown: 400,
  noCredentials: () => 'no AWS credentials for IAM',
};

/** Classify anything an IAM call threw (the message never holds a key: codes and IAM's redacted text only). */
export function classifyIamError(err: unknown): StintError {
  return classifyAwsSdkError(err, IAM_ERRORS);
}
