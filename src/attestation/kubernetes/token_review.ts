/**
 * The kubernetes attestor's optional TokenReview. A projected ServiceAccount token that verified
 * locally (always first, never skipped) is posted to the cluster's API server
 * (`POST /apis/authentication.k8s.io/v1/tokenreviews`, `spec.audiences` = the audiences Stint
 * accepted it for) through @kubernetes/client-node. The API server refuses bound tokens of
 * deleted objects, so this catches a token whose pod was deleted or whose ServiceAccount was
 * recreated while the token is still unexpired.
 *
 * The token is refused (ERR_TOKEN_REVIEW_REJECTED) unless `status.authenticated` is true,
 * `status.audiences` names an audience Stint asked for, and `status.user` is the token's
 * ServiceAccount (username, uid) and, for a pod-bound token, its pod (the
 * `authentication.kubernetes.io/pod-name` and `pod-uid` extras). An API server that cannot be
 * reached, times out, throttles (429) or fails (5xx) is ERR_ISSUER_UNAVAILABLE (retryable), never
 * a denial. Successful answers are kept for `cacheTtl` (never past the token's `exp`), keyed by
 * the token's SHA-256; failures are not kept. Concurrent reviews of one token share one call.
 *
 * Nothing here logs; errors carry the token's fingerprint only.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AuthenticationV1Api, ConfigurationOptions, V1TokenReview } from '@kubernetes/client-node';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../clock.js';
import { isNetworkError } from '../../upstream/classify.js';
import { safeUpstreamMessage } from '../../upstream/safe_message.js';
import { ConfigError, StintError, TokenError } from '../../errors.js';
import { sha256Hex } from '../../fingerprint.js';
import { apiFailureOf } from '../../kube/api_errors.js';
import { loadKubeClient } from '../../kube/client.js';
import type { TokenReviewConfig } from './token_review_config.js';

/** Extra keys the API server sets on the user of a pod-bound ServiceAccount token. */
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';

/** Successful reviews remembered at most (an LRU: the oldest go first). */
const CACHE_MAX_ENTRIES = 10_000;

/** What the locally verified token says, which the API server's answer must agree with. */
export interface ReviewExpectation {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** `kubernetes.io.serviceaccount.uid` (legacy: `service-account.uid`), when the token has one. */
  readonly serviceAccountUid?: string;
  /** The bound pod (`kubernetes.io.pod`), when the token is bound to one. */
  readonly pod?: { readonly name?: string; readonly uid?: string };
  /**
   * The audiences to review the token for: those of its `aud` that Stint accepts. Empty for a
   * legacy token (no `aud`): reviewed for the API server's own audiences, and not checked.
   */
  readonly audiences: readonly string[];
  /** The token's `exp` in epoch seconds; 0 when it has none (legacy). */
  readonly expiresAt: number;
}

/** The TokenReview of one kubernetes attestor. */
export interface TokenReviewer {
  /**
   * Confirm a locally verified token with the API server (or the cache). Resolves to the epoch
   * milliseconds until which the answer may be reused; throws ERR_TOKEN_REVIEW_REJECTED or
   * ERR_ISSUER_UNAVAILABLE.
   */
  review(token: string, fingerprint: string, expected: ReviewExpectation): Promise<number>;
  /** Start loading the client library (it takes most of a second to import). */
  warmUp(): void;
  /** Drop the cache and abort reviews in flight. */
  close(): void;
}

/** What createTokenReviewer needs besides the configuration. */
export interface TokenReviewerOptions {
  readonly attestorName: string;
  readonly clock: Clock;
  /** Config key path of `tokenReview` (e.g. `attestors.0.tokenReview`), for configuration errors. */
  readonly configPath: string;
}

interface Client {
  readonly api: AuthenticationV1Api;
  /** Wraps a middleware value the way the client's middleware API expects (an Observable). */
  readonly observable: <T>(value: T) => unknown;
}

/** Check the configured files now (a ConfigError names the key) and build the reviewer. */
export function createTokenReviewer(config: TokenReviewConfig, options: TokenReviewerOptions): TokenReviewer {
  const { attestorName, clock, configPath } = options;
  checkFiles(config, configPath);
  const cache = new LRUCache<string, number>({ max: CACHE_MAX_ENTRIES });
  const inFlight = new Map<string, Promise<number>>();
  const controllers = new Set<AbortController>();
  let clientPromise: Promise<Client> | null = null;

  const client = (): Promise<Client> => {
    // A failed load is not remembered: the next review tries again.
    clientPromise ??= loadClient(config, configPath).catch((e: unknown) => {
      clientPromise = null;
      throw e;
    });
    return clientPromise;
  };

  const unavailable = (reason: 'token_review_unavailable' | 'token_review_failed', message: string, fp: string, extra: Record<string, unknown> = {}): StintError =>
    new StintError('ERR_ISSUER_UNAVAILABLE', `attestor "${attestorName}": TokenReview ${message}`, { reason, attestor: attestorName, fingerprint: fp, ...extra });

  const rejected = (reason: string, message: string, fp: string, extra: Record<string, unknown> = {}): TokenError =>
    new TokenError('ERR_TOKEN_REVIEW_REJECTED', `the Kubernetes API server ${message}`, { reason, attestor: attestorName, fingerprint: fp, ...extra });

  /** Anything the call threw, as ERR_ISSUER_UNAVAILABLE (never the client's error itself: it may echo the request). */
  const classify = (err: unknown, fp: string): StintError => {
    if (err instanceof StintError) return err;
    const failure = apiFailureOf(err, clock.now());
    if (failure) {
      const transient = failure.status === 429 || failure.status >= 500;
      const text = `failed: ${failure.status} ${failure.reason}${failure.message ? `: ${failure.message}` : ''}`;
      return unavailable(transient ? 'token_review_unavailable' : 'token_review_failed', text, fp, {
        status: failure.status,
        upstreamReason: failure.reason,
        ...(transient ? { retryAfterSeconds: failure.retryAfterSeconds ?? (failure.status === 429 ? 10 : 5) } : {}),
      });
    }
    const e = err as { code?: unknown; name?: unknown; type?: unknown } | null;
    const code = typeof e?.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(e.code) ? e.code : undefined;
    if (code === 'STINT_TOKEN_FILE') return unavailable('token_review_unavailable', `cannot read Stint's API token file`, fp, { retryAfterSeconds: 5 });
    if (isNetworkError(err) || (e?.name === 'FetchError' && (e.type === 'system' || e.type === 'request-timeout'))) {
      return unavailable('token_review_unavailable', `failed: API server unreachable (${code ?? 'network error'})`, fp, { retryAfterSeconds: 5 });
    }
    return unavailable('token_review_failed', `failed: the API server's reply is not a TokenReview`, fp);
  };

  /** POST the TokenReview, bounded by the timeout. */
  const post = async (token: string, audiences: readonly string[], fp: string): Promise<V1TokenReview> => {
    let c: Client;
    try {
      c = await client();
    } catch (e) {
      throw e instanceof StintError ? e : unavailable('token_review_failed', 'client cannot be loaded', fp);
    }
    const controller = new AbortController();
    controllers.add(controller);
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = config.timeout * 1000;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(unavailable('token_review_unavailable', `timed out after ${config.timeout} s`, fp, { retryAfterSeconds: 5 }));
      }, timeoutMs);
    });
    const callOptions = {
      middleware: [
        {
          pre: (ctx: { setSignal(s: AbortSignal): void }) => {
            ctx.setSignal(controller.signal);
            return c.observable(ctx);
          },
          post: (res: unknown) => c.observable(res),
        },
      ],
      middlewareMergeStrategy: 'append',
    } as unknown as ConfigurationOptions;
    const body: V1TokenReview = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, ...(audiences.length > 0 ? { audiences: [...audiences] } : {}) },
    };
    try {
      return await Promise.race([c.api.createTokenReview({ body }, callOptions), timeout]);
    } catch (err) {
      throw classify(err, fp);
    } finally {
      clearTimeout(timer);
      controllers.delete(controller);
    }
  };

  /** Refuse the token unless the API server's answer vouches for exactly the verified identity. */
  const check = (review: V1TokenReview, expected: ReviewExpectation, fp: string): void => {
    const status = review.status;
    if (typeof status !== 'object' || status === null) throw unavailable('token_review_failed', `failed: the API server's reply has no status`, fp);
    if (status.authenticated !== true) {
      const why = safeUpstreamMessage(status.error, [], 200);
      throw rejected('token_review_rejected', `does not accept the token${why ? ` (${why})` : ''}: its pod or ServiceAccount may have been deleted`, fp);
    }
    if (expected.audiences.length > 0) {
      const got = Array.isArray(status.audiences) ? status.audiences : [];
      if (!got.some((a) => expected.audiences.includes(a))) {
        throw rejected('token_review_audience', `did not confirm the token for Stint's audience`, fp);
      }
    }
    const user = status.user ?? {};
    const username = `system:serviceaccount:${expected.namespace}:${expected.serviceAccount}`;
    if (user.username !== username) throw rejected('token_review_user_mismatch', `names another user than the token's ServiceAccount`, fp, { field: 'username' });
    if (expected.serviceAccountUid !== undefined && user.uid !== expected.serviceAccountUid) {
      throw rejected('token_review_user_mismatch', `names another ServiceAccount uid than the token`, fp, { field: 'uid' });
    }
    const extra = user.extra ?? {};
    const pod = expected.pod;
    if (pod?.name !== undefined && !single(extra[POD_NAME_EXTRA], pod.name)) {
      throw rejected('token_review_user_mismatch', `names another pod than the token`, fp, { field: POD_NAME_EXTRA });
    }
    if (pod?.uid !== undefined && !single(extra[POD_UID_EXTRA], pod.uid)) {
      throw rejected('token_review_user_mismatch', `names another pod uid than the token`, fp, { field: POD_UID_EXTRA });
    }
  };

  return {
    async review(token, fp, expected) {
      const key = sha256Hex(token);
      const now = clock.now();
      const cached = cache.get(key);
      if (cached !== undefined) {
        if (cached > now) return cached;
        cache.delete(key);
      }
      const shared = inFlight.get(key);
      if (shared) return shared;
      const pending = (async () => {
        const review = await post(token, expected.audiences, fp);
        check(review, expected, fp);
        const reviewedAt = clock.now();
        const until = Math.min(reviewedAt + config.cacheTtl * 1000, expected.expiresAt > 0 ? expected.expiresAt * 1000 : Infinity);
        if (until > reviewedAt) cache.set(key, until);
        return Math.max(until, reviewedAt);
      })();
      inFlight.set(key, pending);
      try {
        return await pending;
      } finally {
        inFlight.delete(key);
      }
    },
    warmUp() {
      client().catch(() => undefined);
    },
    close() {
      cache.clear();
      for (const c of controllers) c.abort();
      controllers.clear();
    },
  };
}

/** True when an extra value is exactly the one-entry list `[value]`. */
function single(values: unknown, value: string): boolean {
  return Array.isArray(values) && values.length === 1 && values[0] === value;
}

function checkFiles(config: TokenReviewConfig, configPath: string): void {
  const read = (file: string, key: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError('ERR_CONFIG_INVALID', `${configPath}.${key}`, `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'} (outside a cluster, set apiServer, caFile and tokenFile)`);
    }
  };
  try {
    new X509Certificate(read(config.caFile, 'caFile', 'CA file'));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError('ERR_CONFIG_INVALID', `${configPath}.caFile`, `${config.caFile} is not a PEM certificate`);
  }
  if (read(config.tokenFile, 'tokenFile', 'token file').trim() === '') {
    throw new ConfigError('ERR_CONFIG_INVALID', `${configPath}.tokenFile`, `${config.tokenFile} is empty`);
  }
}

async function loadClient(config: TokenReviewConfig, configPath: string): Promise<Client> {
  const { k8s, kc, observable } = await loadKubeClient(
    { mode: 'token', server: config.apiServer, caFile: config.caFile, tokenFile: config.tokenFile },
    { clusterName: 'stint-token-review', keyPath: configPath, settingsName: 'settings' },
  );
  return { api: kc.makeApiClient(k8s.AuthenticationV1Api), observable: observable as Client['observable'] };
}
