/**
 * Upstream text made fit for Stint's errors and logs: secrets and token-shaped strings redacted,
 * bounded. One function, used by every provider, attestor and store that reports upstream text.
 */

/**
 * Upstream text fit for Stint's errors (which reach clients and logs): the known `secrets` (an
 * admin password, a URL's credentials) and anything shaped like a token (a JWT, a Google access or
 * refresh token, a Vault token, a bearer credential) replaced, control characters and runs of
 * whitespace made one space, cut to `max` characters. Every provider uses this one.
 */
export function safeUpstreamMessage(text: unknown, secrets: readonly string[] = [], max = 240): string {
  if (typeof text !== 'string') return '';
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  out = out
    .replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '[jwt]')
    .replace(/\bya29\.[\w.-]+/g, '[token]')
    .replace(/\b1\/\/[\w.-]+/g, '[token]')
    .replace(/\bhv[sbr]\.[\w.-]+/g, '[token]')
    .replace(/\bBearer\s+\S+/gi, 'Bearer [token]')
    // eslint-disable-next-line no-control-regex
    .replace(/[\s\u0000-\u001f\u007f]+/g, ' ')
    .trim();
  return out.length > max ? `${out.slice(0, max)}…` : out;
}
