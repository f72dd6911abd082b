import { TokenError } from '../../errors.js';

/**
 * Check `aud`: a string or a non-empty array of strings; exactly one entry unless
 * `allowMultiple`; that entry (or, with `allowMultiple`, at least one) byte-exact in `accepted`.
 */
export function checkAudience(aud: unknown, accepted: readonly string[], allowMultiple: boolean, fp: () => string): void {
  const fail = (reason: string, message: string): never => {
    throw new TokenError('ERR_TOKEN_AUDIENCE_INVALID', message, { claim: 'aud', reason, fingerprint: fp() });
  };
  if (aud === undefined) fail('missing', 'token has no audience');
  const list = typeof aud === 'string' ? [aud] : aud;
  if (!Array.isArray(list) || list.some((a) => typeof a !== 'string')) return fail('invalid', 'token audience must be a string or an array of strings');
  if (list.length === 0) fail('missing', 'token audience is empty');
  if (list.length > 1 && !allowMultiple) {
    fail('multiple', 'token names several audiences (replayable by each); exactly one is accepted');
  }
  if (!list.some((a) => accepted.includes(a as string))) fail('not_accepted', "token audience is not Stint's");
}
