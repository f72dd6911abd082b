/** A credential as the sidecar holds it, and how outputs pick values out of it. */

/** One issued credential. Times are epoch milliseconds. */
export interface HeldCredential {
  /** The configured credential name. */
  readonly name: string;
  readonly kind: string;
  readonly token: string;
  readonly grantId: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** When the service suggests renewing. */
  readonly renewAfter: number;
  /** Stint can extend this grant in place (POST /renew) rather than issue a new credential. */
  readonly renewable?: boolean;
  /** The lifetime first granted (expiresAt − issuedAt at issuance); renewals in place keep it. */
  readonly lifetime?: number;
}

/** The value named by a source: `token`, `grant_id`, `expires_at`, `kind`, `fields.<name>`; undefined when absent. */
export function valueOf(cred: HeldCredential, source: string): string | undefined {
  switch (source) {
    case 'token':
      return cred.token;
    case 'grant_id':
      return cred.grantId;
    case 'expires_at':
      return new Date(cred.expiresAt).toISOString();
    case 'kind':
      return cred.kind;
    default:
      return source.startsWith('fields.') ? cred.fields[source.slice('fields.'.length)] : undefined;
  }
}

/** Like valueOf, but a missing value is an error naming the credential and source (never a value). */
export function requireValue(cred: HeldCredential, source: string): string {
  const v = valueOf(cred, source);
  if (v === undefined) throw Object.assign(new Error(`credential ${cred.name} (kind ${cred.kind}) has no ${source}`), { code: 'MISSING_VALUE' });
  return v;
}
