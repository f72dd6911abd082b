/**
 * Atomic file replacement: write a temp file in the same folder (mode set at creation), fsync,
 * chown when asked, rename over the target, fsync the folder. A reader sees the old content or
 * the new, never a partial or empty file. Dependency-free, for both programs: the sidecar's file
 * outputs and the aws-iid subject token source's nonce file.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Mode and ownership of a written file. */
export interface FilePerms {
  readonly mode: number;
  readonly owner?: number;
  readonly group?: number;
}

/** Replace `path` with `data` atomically. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, perms: FilePerms): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', perms.mode);
  try {
    try {
      await handle.writeFile(data);
      // The umask may have narrowed the mode at creation; set it exactly.
      await handle.chmod(perms.mode);
      if (perms.owner !== undefined || perms.group !== undefined) await handle.chown(perms.owner ?? -1, perms.group ?? -1);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
}

/** Remove `path` (absent is fine). */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await syncDir(dirname(path));
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}
