// hostPath volumes, as upstream's plugin (pkg/volume/hostpath): the host path is handed to the
// runtime as it is (nothing is copied), after the type check of `hostPath.type`:
//   ""                 no check at all
//   DirectoryOrCreate  created (mkdir -p, 0755) when missing, else must be a directory
//   Directory          must be a directory
//   FileOrCreate       created empty (0644) when missing -- its parent must exist, as upstream --
//                      else must be a file
//   File, Socket, CharDevice, BlockDevice   must be one
// The checks follow symlinks (upstream uses stat). A failed check is upstream's message
// (`hostPath type check failed: /x is not a directory`), which the caller wraps as FailedMount.
import type { Stats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { invalidInput } from '../common/errors.ts';

/** The values of hostPath.type (upstream supportedHostPathTypes). */
export const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];

/** What a host path is (upstream GetFileType), or Other for what it does not recognise (a FIFO). */
export type HostFileType = 'Directory' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice' | 'Other';

/** The next step of a type check (pure: see hostPathTypeCheck). */
export type HostPathStep = { kind: 'ok' } | { kind: 'mkdir' } | { kind: 'createFile' } | { kind: 'fail'; message: string };

/** Mode of a folder DirectoryOrCreate makes (upstream makeDir; the process umask applies). */
const CREATED_DIR_MODE = 0o755;
/** Mode of a file FileOrCreate makes (upstream makeFile). */
const CREATED_FILE_MODE = 0o644;

export function hostFileType(st: Stats): HostFileType {
  if (st.isDirectory()) return 'Directory';
  if (st.isFile()) return 'File';
  if (st.isSocket()) return 'Socket';
  if (st.isCharacterDevice()) return 'CharDevice';
  if (st.isBlockDevice()) return 'BlockDevice';
  return 'Other';
}

/**
 * Upstream checkTypeInternal, as a decision: what to do for `path` of `type` when it is `found`
 * (null: it does not exist). Pure.
 */
export function hostPathTypeCheck(path: string, type: string, found: HostFileType | null): HostPathStep {
  const fail = (what: string): HostPathStep => ({ kind: 'fail', message: `hostPath type check failed: ${path} is not ${what}` });
  switch (type) {
    case '':
      return { kind: 'ok' };
    case 'DirectoryOrCreate':
      if (found === null) return { kind: 'mkdir' };
      return found === 'Directory' ? { kind: 'ok' } : fail('a directory');
    case 'Directory':
      return found === 'Directory' ? { kind: 'ok' } : fail('a directory');
    case 'FileOrCreate':
      if (found === null) return { kind: 'createFile' };
      return found === 'File' ? { kind: 'ok' } : fail('a file');
    case 'File':
      return found === 'File' ? { kind: 'ok' } : fail('a file');
    case 'Socket':
      return found === 'Socket' ? { kind: 'ok' } : fail('a socket file');
    case 'CharDevice':
      return found === 'CharDevice' ? { kind: 'ok' } : fail('a character device');
    case 'BlockDevice':
      return found === 'BlockDevice' ? { kind: 'ok' } : fail('a block device');
    default:
      return { kind: 'fail', message: `${type} is an invalid volume type` };
  }
}

/**
 * Upstream hostPathMounter.SetUp: checks (and for the *OrCreate types makes) the host path.
 * Throws InvalidInput with upstream's message when the check fails, or the file system's error
 * when making it fails (e.g. FileOrCreate under a missing folder). Never follows `..`.
 */
export async function setUpHostPath(hostPath: string, type: string): Promise<void> {
  if (hostPath.split('/').includes('..')) throw invalidInput(`invalid HostPath \`${hostPath}\`: must not contain '..'`);
  // Our own rule (upstream has none): a relative path would depend on the kubelet's working folder.
  if (!hostPath.startsWith('/')) throw invalidInput(`invalid HostPath \`${hostPath}\`: must be an absolute path`);
  if (type === '') return;
  let found: HostFileType | null;
  try {
    found = hostFileType(await stat(hostPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    found = null;
  }
  const step = hostPathTypeCheck(hostPath, type, found);
  switch (step.kind) {
    case 'ok':
      return;
    case 'fail':
      throw invalidInput(step.message);
    case 'mkdir':
      await mkdir(hostPath, { recursive: true, mode: CREATED_DIR_MODE });
      return;
    case 'createFile': {
      // O_CREAT without O_EXCL or O_TRUNC (upstream os.OpenFile(path, O_CREATE, 0644)): a file
      // that appeared meanwhile is kept as it is.
      const fh = await open(hostPath, fsConstants.O_RDONLY | fsConstants.O_CREAT | fsConstants.O_NONBLOCK, CREATED_FILE_MODE);
      await fh.close();
      return;
    }
  }
}
