/** Vault paths Stint reads and lists: checked before any call, so nothing odd reaches a URL. */
import { StintError } from '../../errors.js';

/** A Vault API path: segments of `[A-Za-z0-9_.@=+:,~-]`, no empty, `.` or `..` segment. */
export const VAULT_PATH = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9_.@=+:,~-]+(?:\/[A-Za-z0-9_.@=+:,~-]+)*$/;

/** Longest path accepted. */
const MAX_PATH = 512;

/** Mounts that are not secrets engines: reading them is never a dynamic secret. */
const NOT_SECRETS = /^(?:sys|auth|identity|cubbyhole)(?:\/|$)/;

/** Is `path` a well-formed Vault path? */
export function isVaultPath(path: string): boolean {
  return path.length <= MAX_PATH && VAULT_PATH.test(path);
}

/** The secret path a grant names (its target), or ERR_INVALID_REQUEST. */
export function secretPathOf(kind: string, target: string | undefined): string {
  if (target === undefined || target === '') {
    throw new StintError('ERR_INVALID_REQUEST', `a ${kind} credential needs a target: the Vault path of a dynamic secret (e.g. database/creds/readonly)`, { kind, field: 'target' });
  }
  if (!isVaultPath(target)) {
    throw new StintError('ERR_INVALID_REQUEST', `${kind} target ${JSON.stringify(target.slice(0, 100))} is not a Vault path (segments of letters, digits and _.@=+:,~-)`, { kind, field: 'target' });
  }
  if (NOT_SECRETS.test(target)) {
    throw new StintError('ERR_INVALID_REQUEST', `${kind} target ${JSON.stringify(target.slice(0, 100))} is not a secrets engine path`, { kind, field: 'target' });
  }
  return target;
}
