/**
 * A resource server's introspection credential for end-to-end tests: `POST /introspect` takes it
 * (and refuses admin tokens). The secret reaches the service through an environment variable its
 * child process inherits; `introspectionConfig` is the YAML to add to a service configuration
 * (startE2E({ introspection: true }) does).
 */
import { randomBytes } from 'node:crypto';

/** The variable the service reads the introspection secret from. */
export const INTROSPECTION_SECRET_ENV = 'STINT_E2E_INTROSPECTION_SECRET';

/** The introspection secret of this test process (made once; set in the environment children inherit). */
export function introspectionSecret(): string {
  process.env[INTROSPECTION_SECRET_ENV] ??= randomBytes(24).toString('base64url');
  return process.env[INTROSPECTION_SECRET_ENV];
}

/** Top-level YAML naming the introspection client `resource-server`. */
export function introspectionConfig(): string {
  introspectionSecret();
  return `introspection:\n  clients:\n    - { name: resource-server, secret: { env: ${INTROSPECTION_SECRET_ENV} } }\n`;
}

/** POST /introspect as the resource server. */
export async function introspectAsResourceServer(baseUrl: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/introspect`, { method: 'POST', headers: { authorization: `Bearer ${introspectionSecret()}` }, body: new URLSearchParams({ token }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
