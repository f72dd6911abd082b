/** Authentication of admin (and introspection) callers by bearer token, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { StintError } from '../errors.js';

/** A named credential allowed on a protected surface. */
export interface NamedToken {
  readonly name: string;
  readonly secret: string;
}

/** Checks `Authorization: Bearer <token>` against configured tokens; only digests are kept. */
export class BearerAuthenticator {
  private readonly digests: { name: string; digest: Buffer }[];

  constructor(tokens: readonly NamedToken[]) {
    this.digests = tokens.map((t) => ({ name: t.name, digest: createHash('sha256').update(t.secret).digest() }));
  }

  /** Returns the caller's name, or throws ERR_ADMIN_UNAUTHENTICATED. */
  authenticate(authorization: string | undefined): string {
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(authorization ?? '');
    if (!m) throw new StintError('ERR_ADMIN_UNAUTHENTICATED', 'an admin credential is required (Authorization: Bearer <token>)');
    const presented = createHash('sha256').update(m[1]!).digest();
    let found: string | null = null;
    for (const { name, digest } of this.digests) if (timingSafeEqual(presented, digest)) found = name;
    if (!found) throw new StintError('ERR_ADMIN_UNAUTHENTICATED', 'the admin credential is not valid');
    return found;
  }
}
