/**
 * Authentication of bearer-token callers, compared in constant time: admins on the admin
 * listener, resource servers (introspection clients) on `POST /introspect`. Each surface has its
 * own authenticator over its own secrets, so a credential works only where it is scoped.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { StintError } from '../errors.js';

/** A named credential allowed on a protected surface. */
export interface NamedToken {
  readonly name: string;
  readonly secret: string;
}

const BEARER = /^Bearer[ ]+([^\s]+)\s*$/i;

/** Checks `Authorization: Bearer <token>` against configured tokens; only digests are kept. */
export class BearerAuthenticator {
  private readonly digests: { name: string; digest: Buffer }[];

  /** `what` names the credential in errors ("an admin credential", "an introspection credential"). */
  constructor(tokens: readonly NamedToken[], private readonly what = 'an admin credential') {
    this.digests = tokens.map((t) => ({ name: t.name, digest: createHash('sha256').update(t.secret).digest() }));
  }

  /** The name of the matching credential, or null (no header, not a bearer token, or no match). */
  match(authorization: string | undefined): string | null {
    const m = BEARER.exec(authorization ?? '');
    if (!m) return null;
    const presented = createHash('sha256').update(m[1]!).digest();
    let found: string | null = null;
    for (const { name, digest } of this.digests) if (timingSafeEqual(presented, digest)) found = name;
    return found;
  }

  /** Returns the caller's name, or throws ERR_ADMIN_UNAUTHENTICATED. */
  authenticate(authorization: string | undefined): string {
    if (!BEARER.test(authorization ?? '')) throw new StintError('ERR_ADMIN_UNAUTHENTICATED', `${this.what} is required (Authorization: Bearer <token>)`, { reason: 'credential_missing' });
    const found = this.match(authorization);
    if (!found) throw new StintError('ERR_ADMIN_UNAUTHENTICATED', `${this.what} is not valid`, { reason: 'credential_invalid' });
    return found;
  }
}
