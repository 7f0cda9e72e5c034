// volumeMount subPath / subPathExpr and mountPropagation, as upstream's makeMounts
// (pkg/kubelet/kubelet_pods.go) and subpath package (pkg/volume/util/subpath/subpath_linux.go).
//
// The container sees <volume>/<subPath>, which must never lead outside the volume -- whatever the
// containers that share the volume planted there (a symlink `escape -> /`, `sib -> ../../<pod>`)
// or swap in while the mount is made. Upstream, and this file, in Node terms:
//
//  1. realpath() the volume and <volume>/<subPath> once (symlinks that stay inside the volume are
//     allowed, as upstream) and refuse a result outside the volume.
//  2. Open the result again from the volume's root one component at a time, never following a
//     symlink: upstream uses openat(parentFd, name, O_PATH|O_NOFOLLOW). Node has no openat, but
//     opening `/proc/self/fd/<parentFd>/<name>` is the same call: the kernel jumps through the
//     magic link to the exact folder the fd holds (no name is looked up again) and then resolves
//     the single component <name> with O_NOFOLLOW. A symlink swapped in after step 1 is opened as
//     the link itself (O_PATH|O_NOFOLLOW) and refused when fstat says S_IFLNK; a parent renamed
//     or replaced is irrelevant, the walk holds the folder itself.
//  3. Check that the opened fd still is the validated path: readlink(/proc/self/fd/N) must equal
//     the realpath of step 1 (catches a folder moved away during the walk).
//  4. Bind-mount /proc/<kubelet pid>/fd/N (mount --no-canonicalize, so mount(8) does not resolve
//     it to a name) onto <pod>/volume-subpaths/<volume>/<container>/<index> while the fd is open:
//     the kernel mounts exactly the opened inode, and no swap after step 2 can redirect it. That
//     bind target, outside every volume and out of the containers' reach, goes to CRI.
//
// A missing subPath is made inside the volume with the volume's mode (upstream SafeMakeDir): the
// folders are created one by one through the fd of their parent (mkdir /proc/self/fd/P/name does
// not follow a symlink planted as `name`: it fails with EEXIST) and opened with O_NOFOLLOW.
// The bind targets stay until the pod's volumes are torn down (cleanSubPaths), as upstream; a
// container restart reuses its mount when it still is the same file.
import type { Stats, BigIntStats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readlink, realpath, rmdir, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import type { Mount } from '../cri/types.ts';
import { invalidInput, unsupported } from '../common/errors.ts';
import { expandVariables, type EnvVarValue } from '../kuberuntime/envvars.ts';
import { safeComponent } from '../logs/paths.ts';
import type { Mounter } from './mounter.ts';

/** CRI's propagation names. */
export type MountPropagation = Exclude<NonNullable<Mount['propagation']>, number>;

/** Folder of the bind targets under the pod's folder (upstream containerSubPathDirectoryName). */
export const SUBPATH_DIR_NAME = 'volume-subpaths';

/**
 * Linux O_PATH (asm-generic value: x86-64, arm64, riscv64...; Node does not export it): an fd
 * that names a file without opening it, so a FIFO or device in the volume is never opened.
 */
const O_PATH = 0o10000000;
/** One component, not followed when it is a symlink (upstream openFDFlags). */
const WALK_FLAGS = O_PATH | fsConstants.O_NOFOLLOW;
/** Folders the bind targets live in, and folder targets (upstream 0750); file targets 0640. */
const TARGET_DIR_MODE = 0o750;
const TARGET_FILE_MODE = 0o640;

/**
 * Upstream translateMountPropagation: unset and None -> private, HostToContainer -> rslave,
 * Bidirectional -> rshared. Throws InvalidInput for any other value.
 */
export function translateMountPropagation(mode: string | undefined | null): MountPropagation {
  switch (mode ?? 'None') {
    case 'None':
      return 'PROPAGATION_PRIVATE';
    case 'HostToContainer':
      return 'PROPAGATION_HOST_TO_CONTAINER';
    case 'Bidirectional':
      return 'PROPAGATION_BIDIRECTIONAL';
    default:
      throw invalidInput(`invalid MountPropagation mode: ${JSON.stringify(mode)}`);
  }
}

/** Upstream's rule (API validation): Bidirectional propagation only for privileged containers. */
export const BIDIRECTIONAL_NEEDS_PRIVILEGED = 'Bidirectional mount propagation is available only to privileged containers';

/**
 * Upstream ExpandContainerVolumeMounts: `$(VAR)` in subPathExpr from the container's environment
 * only. A variable that is missing or empty fails the whole expansion (InvalidInput
 * `missing value for A, B`, sorted); `$$(VAR)` is the literal `$(VAR)`. Pure.
 */
export function expandSubPathExpr(expr: string, env: readonly EnvVarValue[]): string {
  const values = new Map(env.map((e) => [e.name, e.value]));
  const missing = new Set<string>();
  const expanded = expandVariables(expr, (name) => {
    const v = values.get(name) ?? '';
    if (v === '') missing.add(name);
    return v;
  });
  if (missing.size > 0) throw invalidInput(`missing value for ${[...missing].sort().join(', ')}`);
  return expanded;
}

/** Upstream makeMounts' checks of a (expanded) subPath: relative, no `..`. Throws InvalidInput. Pure. */
export function checkSubPath(subPath: string): void {
  if (subPath.startsWith('/')) throw invalidInput(`error SubPath \`${subPath}\` must not be an absolute path`);
  if (subPath.split('/').includes('..')) throw invalidInput(`unable to provision SubPath \`${subPath}\`: must not contain '..'`);
  if (subPath.includes('\0')) throw invalidInput(`unable to provision SubPath ${JSON.stringify(subPath)}: must not contain a NUL character`);
}

/** Upstream PathWithinBase: `fullPath` is `base` or below it (both absolute and clean). Pure. */
export function pathWithinBase(fullPath: string, base: string): boolean {
  const rel = path.relative(base, fullPath);
  return rel !== '..' && !rel.startsWith('../') && !path.isAbsolute(rel);
}

/** The components to walk from `base` to `fullPath`, or null when it is not within `base`. Pure. */
export function walkSegments(base: string, fullPath: string): string[] | null {
  if (!pathWithinBase(fullPath, base)) return null;
  const rel = path.relative(base, fullPath);
  return rel === '' ? [] : rel.split('/');
}

/** What one component opened with O_PATH|O_NOFOLLOW turned out to be. */
export type WalkEntry = 'directory' | 'symlink' | 'other';

export function walkEntryOf(st: Stats | BigIntStats): WalkEntry {
  return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : 'other';
}

/**
 * The path-walking decision for one opened component (pure): null to go on, else why the walk
 * stops. A symlink is never acceptable here: the path was resolved beforehand, so one found now
 * was swapped in since (upstream: `unexpected symlink found`). Only the last component may be
 * something other than a folder.
 */
export function walkStepProblem(currentPath: string, entry: WalkEntry, last: boolean): string | null {
  if (entry === 'symlink') return `unexpected symlink found ${currentPath}`;
  if (!last && entry !== 'directory') return `${currentPath} is not a directory`;
  return null;
}

/** Upstream getSubpathBindTarget: <podDir>/volume-subpaths/<volume>/<container>/<index>. */
export function subPathBindTarget(podDir: string, volumeName: string, containerName: string, index: number): string {
  return path.join(podDir, SUBPATH_DIR_NAME, safeComponent('volume name', volumeName), safeComponent('container name', containerName), String(index));
}

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;
const fdPath = (fh: FileHandle, name?: string): string => `/proc/self/fd/${fh.fd}${name === undefined ? '' : `/${name}`}`;

function checkPlatform(): void {
  if (process.platform !== 'linux') throw unsupported('subPath needs Linux (openat through /proc/self/fd and bind mounts)');
}

/**
 * Upstream doSafeOpen: opens `fullPath` (realpath'd, within the realpath'd `base`) from `base`
 * one component at a time without following symlinks (see the file comment). Resolves to an
 * O_PATH handle the caller closes. Throws InvalidInput when a component is a symlink or not a
 * folder, or the file system's error (ENOENT when something was removed meanwhile).
 */
export async function safeOpen(fullPath: string, base: string): Promise<FileHandle> {
  checkPlatform();
  const segments = walkSegments(base, fullPath);
  if (!segments) throw invalidInput(`path ${fullPath} is outside of allowed base ${base}`);
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw invalidInput(`path ${fullPath} is not clean`);
  // The base itself: resolved by the caller, so a symlink here was swapped in.
  let current: FileHandle = await open(base, WALK_FLAGS | fsConstants.O_DIRECTORY);
  try {
    let currentPath = base;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i] as string;
      currentPath = path.join(currentPath, seg);
      const child = await open(fdPath(current, seg), WALK_FLAGS);
      const parent = current;
      current = child;
      await parent.close();
      const problem = walkStepProblem(currentPath, walkEntryOf(await child.stat()), i === segments.length - 1);
      if (problem) throw invalidInput(problem);
    }
    return current;
  } catch (err) {
    await current.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Upstream SafeMakeDir: makes the folder <base>/<subPath> and the missing ones above it, each with
 * `mode` (permission bits and setgid), without ever leaving `base`: the existing part is resolved
 * and must be within `base`, then opened with safeOpen, and each new folder is made and opened
 * through its parent's fd with O_NOFOLLOW. An existing folder is left as it is (whatever its
 * mode). Throws InvalidInput when the path leads outside, or the file system's error.
 */
export async function safeMakeDir(base: string, subPath: string, mode: number): Promise<void> {
  checkPlatform();
  checkSubPath(subPath);
  const realBase = await realpath(base);
  const full = path.join(realBase, subPath);
  if (!pathWithinBase(full, realBase)) throw invalidInput(`path ${full} is outside of allowed base ${realBase}`);
  try {
    const st = await stat(full);
    if (st.isDirectory()) return; // upstream: exists; whether it is inside is checked by the bind
    throw invalidInput(`mkdir ${full}: not a directory`);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
  // The longest existing prefix (following symlinks, as upstream findExistingPrefix), resolved.
  const dirs = path.relative(realBase, full).split('/');
  let existing = realBase;
  let toCreate = dirs;
  for (let i = 0; i < dirs.length; i++) {
    const candidate = path.join(realBase, ...dirs.slice(0, i + 1));
    try {
      await stat(candidate);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      existing = path.join(realBase, ...dirs.slice(0, i));
      toCreate = dirs.slice(i);
      break;
    }
  }
  const realExisting = await realpath(existing);
  if (!pathWithinBase(realExisting, realBase)) throw invalidInput(`path ${realExisting} is outside of allowed base ${realBase}`);
  let parent = await safeOpen(realExisting, realBase);
  try {
    const perm = mode & 0o2777;
    for (const name of toCreate) {
      if (name === '' || name === '.' || name === '..') throw invalidInput(`path ${full} is not clean`);
      await mkdir(fdPath(parent, name), { mode: perm });
      const child = await open(fdPath(parent, name), WALK_FLAGS | fsConstants.O_DIRECTORY);
      const done = parent;
      parent = child;
      await done.close();
      // mkdir's mode went through the umask: set the volume's mode on the very folder opened.
      await chmod(fdPath(parent), perm);
    }
  } finally {
    await parent.close().catch(() => undefined);
  }
}

/** One subPath mount to prepare (upstream subpath.Subpath). */
export interface SubPathSpec {
  /** The pod's folder, canonical (realpath): the bind target is found in the mount table by name. */
  podDir: string;
  volumeName: string;
  containerName: string;
  /** Index of the volumeMount in the container's volumeMounts. */
  index: number;
  /** The volume's host path. */
  volumePath: string;
  /** The expanded subPath, checked with checkSubPath. */
  subPath: string;
}

/**
 * Upstream doBindSubPath: resolves <volumePath>/<subPath>, refuses it outside the volume, opens it
 * safely and bind-mounts the opened inode onto the bind target (see the file comment). Resolves to
 * the bind target, the host path to give CRI. Reuses a target already mounted with the same file.
 * Throws InvalidInput when the path leads outside the volume or was changed under us; the file
 * system's or mount's error otherwise. The caller must not pass the details to the pod's status.
 */
export async function bindSubPath(mounter: Mounter, spec: SubPathSpec): Promise<string> {
  checkPlatform();
  checkSubPath(spec.subPath);
  const realBase = await realpath(spec.volumePath);
  const realFull = await realpath(path.join(spec.volumePath, spec.subPath));
  if (!pathWithinBase(realFull, realBase)) throw invalidInput(`subpath ${JSON.stringify(realFull)} not within volume path ${JSON.stringify(realBase)}`);
  const fh = await safeOpen(realFull, realBase);
  try {
    const opened = await readlink(fdPath(fh));
    if (opened !== realFull) throw invalidInput(`subpath ${JSON.stringify(realFull)} changed while it was opened (now ${JSON.stringify(opened)})`);
    const st = await fh.stat({ bigint: true });
    const target = subPathBindTarget(spec.podDir, spec.volumeName, spec.containerName, spec.index);
    if ((await mounter.mountPointsUnder(target)).includes(target)) {
      const t = await stat(target, { bigint: true });
      if (t.dev === st.dev && t.ino === st.ino) return target;
      await mounter.unmount(target);
    }
    await prepareTarget(target, st.isDirectory());
    try {
      await mounter.bindMount(`/proc/${process.pid}/fd/${fh.fd}`, target);
    } catch (err) {
      await removeTarget(target).catch(() => undefined);
      throw err;
    }
    return target;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Makes the bind target: a folder for a folder, an empty file for anything else (upstream). */
async function prepareTarget(target: string, directory: boolean): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true, mode: TARGET_DIR_MODE });
  let existing: Stats | null = null;
  try {
    existing = await lstat(target);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
  if (existing && existing.isDirectory() !== directory) {
    await removeTarget(target);
    existing = null;
  }
  if (existing) return;
  if (directory) await mkdir(target, { mode: TARGET_DIR_MODE });
  else await writeFile(target, '', { mode: TARGET_FILE_MODE, flag: 'wx' });
}

/**
 * Removes one bind target that is not mounted any more, never its content: rmdir for a folder,
 * unlink for a file (both fail with EBUSY or ENOTEMPTY instead of reaching into a mount).
 */
async function removeTarget(target: string): Promise<void> {
  const st = await lstat(target);
  if (st.isDirectory()) await rmdir(target);
  else await unlink(target);
}

/**
 * Upstream CleanSubPaths for the whole pod: unmounts every bind target under
 * <podDir>/volume-subpaths (podDir canonical) and removes that folder. Removal is rmdir/unlink of
 * the known three levels only, so content reached through a mount that is still there is never
 * deleted: such a mount makes this throw. Idempotent.
 */
export async function cleanSubPaths(mounter: Mounter, podDir: string): Promise<void> {
  const dir = path.join(podDir, SUBPATH_DIR_NAME);
  for (const p of await mounter.mountPointsUnder(dir)) await mounter.unmount(p);
  const list = async (d: string): Promise<string[]> => {
    try {
      return await readdir(d);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return [];
      throw err;
    }
  };
  const removeDir = async (d: string): Promise<void> => {
    try {
      await rmdir(d);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  };
  for (const volume of await list(dir)) {
    const volumeDir = path.join(dir, volume);
    if (!(await lstat(volumeDir)).isDirectory()) {
      await unlink(volumeDir);
      continue;
    }
    for (const container of await list(volumeDir)) {
      const containerDir = path.join(volumeDir, container);
      if (!(await lstat(containerDir)).isDirectory()) {
        await unlink(containerDir);
        continue;
      }
      for (const index of await list(containerDir)) await removeTarget(path.join(containerDir, index));
      await removeDir(containerDir);
    }
    await removeDir(volumeDir);
  }
  await removeDir(dir);
}
