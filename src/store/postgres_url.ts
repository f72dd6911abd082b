/**
 * PostgreSQL connection URLs from secret references: checked at startup, and the strings to
 * redact from every message about them. Beside the PostgreSQL store; the PostgreSQL credential
 * provider uses it for its admin URL too.
 */
import { ConfigError } from '../errors.js';

/**
 * Check a PostgreSQL connection URL read from a secret reference; returns the strings to redact from
 * any message about it (the URL and its password, encoded and decoded). The error names the key
 * path, never the URL.
 */
export function postgresUrlSecrets(url: string, keyPath: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('ERR_CONFIG_INVALID', keyPath, 'is not a URL (expected postgresql://user:password@host:port/database)');
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new ConfigError('ERR_CONFIG_INVALID', keyPath, 'is not a postgresql:// URL');
  }
  const secrets = [url];
  if (parsed.password) {
    secrets.push(parsed.password);
    try {
      secrets.push(decodeURIComponent(parsed.password));
    } catch {
      // keep the encoded form only
    }
  }
  return secrets;
}
