// tmpfs mounts for volumes that hold secrets (secret, projected) and memory-backed emptyDirs,
// as upstream's emptyDir medium Memory wrapper: the data never reaches the disk; bind mounts for
// subPaths (subpath.ts). Mounting uses
// mount(8)/umount(8) (Node has no mount syscall), run through a CommandRunner (a fork of this
// process per command would cost ms of CPU each); what is mounted is read from
// /proc/self/mountinfo, so a restarted kubelet finds its earlier mounts.
import { readFile } from 'node:fs/promises';
import { CommandRunner } from '../common/command-runner.ts';
import { KubeletError, errorMessage } from '../common/errors.ts';

export interface Mounter {
  /** Mounts a tmpfs on `dir` (an existing folder) unless something is mounted there already. Throws when mounting fails. */
  mountTmpfs(dir: string, opts: { sizeBytes?: number }): Promise<void>;
  /**
   * Bind-mounts `source` onto `target` (an existing folder or file) without canonicalizing either
   * (mount --no-canonicalize): a /proc/<pid>/fd/<n> source is then resolved by the kernel to the
   * very file the fd holds, never to a name. Throws when mounting fails.
   */
  bindMount(source: string, target: string): Promise<void>;
  /** Mount points at or below `dir`, deepest first. */
  mountPointsUnder(dir: string): Promise<string[]>;
  /** Unmounts `dir` (lazily when it is busy). Throws when it stays mounted. */
  unmount(dir: string): Promise<void>;
}

/** Mount points of a /proc/<pid>/mountinfo text (field 5, octal escapes such as \040 decoded). */
export function parseMountInfo(text: string): string[] {
  const points: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const raw = fields[4];
    if (!raw) continue;
    points.push(raw.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))));
  }
  return points;
}

/** `points` at or below `dir`, deepest first. */
export function mountPointsBelow(points: string[], dir: string): string[] {
  const base = dir.replace(/\/+$/, '');
  return points.filter((p) => p === base || p.startsWith(`${base}/`)).sort((a, b) => b.length - a.length);
}

/** Timeout of one mount/umount call, ms. */
const MOUNT_TIMEOUT_MS = 10_000;

/** The real mounter: needs CAP_SYS_ADMIN (root) in the mount namespace containerd uses. */
export class SystemMounter implements Mounter {
  private readonly commands: CommandRunner;

  constructor(commands = new CommandRunner()) {
    this.commands = commands;
  }

  private async mountPoints(): Promise<string[]> {
    return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  }

  /** Runs mount/umount; throws unless it exits 0 (Transient with its output; the runner's own error, e.g. InvalidInput, as its code). */
  private async run(what: string, file: string, args: string[]): Promise<void> {
    let res;
    try {
      res = await this.commands.run(file, args, MOUNT_TIMEOUT_MS);
    } catch (err) {
      throw new KubeletError(err instanceof KubeletError ? err.code : 'Transient', `${what} failed: ${errorMessage(err)}`, { cause: err });
    }
    if (res.exitCode !== 0) throw new KubeletError('Transient', `${what} failed: exit status ${res.exitCode}: ${res.output.trim()}`);
  }

  async mountTmpfs(dir: string, opts: { sizeBytes?: number }): Promise<void> {
    if ((await this.mountPoints()).includes(dir)) return;
    const options = ['mode=0755', ...(opts.sizeBytes ? [`size=${opts.sizeBytes}`] : [])].join(',');
    await this.run(`mount -t tmpfs on ${dir}`, 'mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  }

  async bindMount(source: string, target: string): Promise<void> {
    await this.run(`mount --bind ${source} ${target}`, 'mount', ['--no-canonicalize', '--bind', source, target]);
  }

  async mountPointsUnder(dir: string): Promise<string[]> {
    return mountPointsBelow(await this.mountPoints(), dir);
  }

  async unmount(dir: string): Promise<void> {
    try {
      await this.run(`umount ${dir}`, 'umount', [dir]);
    } catch (err) {
      if (!(await this.mountPoints()).includes(dir)) return;
      await this.run(`umount -l ${dir}`, 'umount', ['-l', dir]).catch(() => {
        throw err;
      });
    }
  }
}
