// Atomic writes of a volume's files, as upstream's AtomicWriter (pkg/volume/util/atomic_writer.go),
// so that a container never sees a half-updated set of files:
//
//   <volume>/..2024_05_01_10_00_00.123456789   the files of one version (timestamped folder)
//   <volume>/..data -> ..2024_05_01_10_00_00.123456789
//   <volume>/<key>  -> ..data/<key>            user-visible entries (first path component)
//
// A write puts the new version in a fresh timestamped folder, points `..data_tmp` at it and
// renames that over `..data` (one rename: the switch is atomic), adds the user-visible links
// that are new, removes those that are gone and then the old version. Nothing is written when
// every file already has the wanted content (upstream compares contents only).
//
// Paths come from ConfigMap/Secret keys and pod specs: each is validated as upstream validatePath
// (relative, no `..` component, not starting with `..`, length limits) before anything is
// written, and files are created with O_EXCL in a folder this writer just made, so a path can
// neither leave the volume nor follow a symlink.
import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readFile, readdir, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { invalidInput } from '../common/errors.ts';

/** One file of a volume (upstream FileProjection). */
export interface FileProjection {
  data: Buffer;
  /** Permission bits, 0..0o777. */
  mode: number;
  /** Owner to give the file (projected service-account tokens), else root. */
  fsUser?: number;
}

/** A volume's files by relative path. */
export type Payload = Map<string, FileProjection>;

export const DATA_DIR_NAME = '..data';
const NEW_DATA_DIR_NAME = '..data_tmp';
/** Upstream limits: a file name component, a whole path (bytes). */
const MAX_FILE_NAME_LENGTH = 255;
const MAX_PATH_LENGTH = 4096;

/**
 * Upstream validatePath: throws InvalidInput unless `target` is a non-empty relative path with no
 * `..` component, not starting with `..` (the writer's own names), within the length limits.
 */
export function validatePath(target: string): void {
  if (target === '') throw invalidInput(`invalid path: must not be empty: ${JSON.stringify(target)}`);
  if (target.startsWith('/')) throw invalidInput(`invalid path: must be relative path: ${target}`);
  if (Buffer.byteLength(target) > MAX_PATH_LENGTH) throw invalidInput(`invalid path: must be less than or equal to ${MAX_PATH_LENGTH} characters`);
  if (target.includes('\0')) throw invalidInput(`invalid path: must not contain a NUL character: ${JSON.stringify(target)}`);
  const items = target.split('/');
  for (const item of items) {
    if (item === '..') throw invalidInput(`invalid path: must not contain '..': ${target}`);
    if (Buffer.byteLength(item) > MAX_FILE_NAME_LENGTH) throw invalidInput(`invalid path: filenames must be less than or equal to ${MAX_FILE_NAME_LENGTH} characters`);
  }
  if (items[0]?.startsWith('..') && items[0].length > 2) throw invalidInput(`invalid path: must not start with '..': ${target}`);
}

/**
 * Upstream validatePayload: every path validated and cleaned (`a//b/./c` -> `a/b/c`). Also
 * refuses what upstream only fails on while writing: a cleaned path that is `.` or starts with
 * `..`, and a path that is both a file and the folder of another file.
 */
export function cleanPayload(payload: Payload): Payload {
  const clean: Payload = new Map();
  for (const [p, file] of payload) {
    validatePath(p);
    const cleaned = path.posix.normalize(p).replace(/\/+$/, '');
    if (cleaned === '.' || cleaned === '') throw invalidInput(`invalid path: must name a file: ${p}`);
    validatePath(cleaned);
    if (!Number.isInteger(file.mode) || file.mode < 0 || file.mode > 0o777) throw invalidInput(`invalid mode ${file.mode} for ${cleaned}: must be between 0 and 0777 (octal)`);
    clean.set(cleaned, file);
  }
  for (const p of clean.keys()) {
    for (let dir = path.posix.dirname(p); dir !== '.'; dir = path.posix.dirname(dir)) {
      if (clean.has(dir)) throw invalidInput(`invalid payload: ${dir} is both a file and the folder of ${p}`);
    }
  }
  return clean;
}

/** Every path the payload makes visible: its files and their parent folders (upstream's newPaths). */
function payloadPaths(payload: Payload): Set<string> {
  const paths = new Set<string>();
  for (const p of payload.keys()) {
    for (let sub = p; sub !== '.'; sub = path.posix.dirname(sub)) paths.add(sub);
  }
  return paths;
}

const isErrno = (err: unknown, code: string): boolean => (err as NodeJS.ErrnoException | undefined)?.code === code;

/** Whether the file at `file` is missing or has other content than `data` (upstream shouldWriteFile). */
async function differs(file: string, data: Buffer): Promise<boolean> {
  try {
    const st = await lstat(file);
    if (!st.isFile()) return true;
    return !data.equals(await readFile(file));
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return true;
    throw err;
  }
}

/** Relative paths of everything in the old version (upstream pathsToRemove's walk). */
async function existingPaths(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true })).map((p) => p.split(path.sep).join('/'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

/** Upstream's timestamped folder name prefix: `..2006_01_02_15_04_05.` (UTC). */
function timestampPrefix(now: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

export interface WriteOptions {
  /** The time in the new folder's name (default now). */
  now?: Date;
  /** Called with the new version's folder (absolute) before it is published, e.g. to apply fsGroup ownership. */
  setPerms?: (versionDir: string) => Promise<void>;
}

/**
 * Writes `payload` into `targetDir` (which must exist) atomically, as described at the top.
 * Resolves to true when a new version was published, false when nothing had changed. Throws
 * InvalidInput for a bad path or mode (nothing is written), or the file system's error.
 * Not safe to call concurrently for the same folder: callers serialize writes per volume.
 */
export async function writeAtomically(targetDir: string, payload: Payload, opts: WriteOptions = {}): Promise<boolean> {
  const clean = cleanPayload(payload);
  const dataDirPath = path.join(targetDir, DATA_DIR_NAME);
  let oldVersion = '';
  try {
    oldVersion = await readlink(dataDirPath);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  if (oldVersion && (oldVersion.includes('/') || !oldVersion.startsWith('..'))) {
    throw invalidInput(`${dataDirPath} points to ${JSON.stringify(oldVersion)}, not to a version folder of this volume`);
  }
  const oldVersionPath = oldVersion ? path.join(targetDir, oldVersion) : '';

  let toRemove: string[] = [];
  let write = true;
  if (oldVersion) {
    const wanted = payloadPaths(clean);
    toRemove = (await existingPaths(oldVersionPath)).filter((p) => !wanted.has(p));
    let changed = false;
    for (const [p, file] of clean) {
      if (await differs(path.join(oldVersionPath, p), file.data)) {
        changed = true;
        break;
      }
    }
    write = changed || toRemove.length > 0;
  }

  if (write) {
    const versionName = timestampPrefix(opts.now ?? new Date()) + randomBytes(6).toString('hex');
    const versionDir = path.join(targetDir, versionName);
    await mkdir(versionDir, { mode: 0o755 });
    try {
      await chmod(versionDir, 0o755);
      for (const [p, file] of clean) {
        const full = path.join(versionDir, p);
        await mkdir(path.dirname(full), { recursive: true, mode: 0o755 });
        await writeFile(full, file.data, { mode: file.mode, flag: 'wx' });
        await chmod(full, file.mode);
        if (file.fsUser !== undefined) await chown(full, file.fsUser, -1);
      }
      if (opts.setPerms) await opts.setPerms(versionDir);
      const newDataDirPath = path.join(targetDir, NEW_DATA_DIR_NAME);
      await unlink(newDataDirPath).catch((err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw err; // left by a write that crashed
      });
      await symlink(versionName, newDataDirPath);
      await rename(newDataDirPath, dataDirPath);
    } catch (err) {
      await rm(versionDir, { recursive: true, force: true });
      throw err;
    }
  }

  // User-visible entries: one link per first path component, through ..data.
  for (const p of clean.keys()) {
    const first = p.split('/')[0] ?? p;
    const visible = path.join(targetDir, first);
    try {
      await lstat(visible);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      await symlink(path.posix.join(DATA_DIR_NAME, first), visible);
    }
  }
  for (const p of toRemove) {
    if (p.includes('/')) continue;
    await unlink(path.join(targetDir, p)).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
  }
  if (write && oldVersionPath) await rm(oldVersionPath, { recursive: true, force: true });
  return write;
}
