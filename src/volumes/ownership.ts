// fsGroup ownership of a writable volume (upstream pkg/volume SetVolumeOwnership): everything
// below the volume's folder gets group fsGroup (owner kept), files at least rw for the group,
// folders rwx for the group and setgid, so that files created later inherit the group. With
// fsGroupChangePolicy OnRootMismatch the walk is skipped when the folder itself is already right.
import { lchown, lstat, chmod, readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';

/** upstream rwMask / roMask / execMask. */
const RW_MASK = 0o660;
const RO_MASK = 0o440;
const EXEC_MASK = 0o110;
const SETGID = 0o2000;

/** upstream requiresPermissionChange: whether the volume's root is not yet group `gid` with the group bits and setgid. */
export async function requiresPermissionChange(dir: string, gid: number, readOnly: boolean): Promise<boolean> {
  const st = await stat(dir);
  if (st.gid !== gid || !st.isDirectory()) return true;
  const want = (readOnly ? RO_MASK : RW_MASK) | EXEC_MASK;
  return (st.mode & want) !== want || (st.mode & SETGID) === 0;
}

/**
 * Applies fsGroup `gid` to `dir` and everything below it (symlinks: their own group only, never
 * followed). `changePolicy` OnRootMismatch skips a root that is already right; anything else
 * (Always, the default) walks the whole tree. Rejects with the first file-system error.
 */
export async function setVolumeOwnership(dir: string, gid: number, opts: { readOnly: boolean; changePolicy?: string | undefined }): Promise<void> {
  if (opts.changePolicy === 'OnRootMismatch' && !(await requiresPermissionChange(dir, gid, opts.readOnly))) return;
  const mask = opts.readOnly ? RO_MASK : RW_MASK;
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    await lchown(p, -1, gid);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      await chmod(p, (st.mode & 0o7777) | mask | EXEC_MASK | SETGID);
      for (const name of await readdir(p)) await walk(path.join(p, name));
    } else {
      await chmod(p, (st.mode & 0o7777) | mask);
    }
  };
  await walk(dir);
}
