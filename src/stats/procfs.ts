// Host facts from /proc and the filesystems: pure parsers over the files' text, and thin readers.
import { lstat, readdir, readFile, statfs } from 'node:fs/promises';
import * as path from 'node:path';

/** /proc/meminfo as bytes ("MemTotal: 24684084 kB" -> MemTotal: 25276502016); counts without a unit as they are. */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([^:\s]+):\s+(\d+)(\s+kB)?\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * (m[3] ? 1024 : 1);
  }
  return out;
}

/** The boot time of /proc/stat ("btime <s>"), ms since the epoch; undefined when absent. */
export function parseBootTimeMs(procStat: string): number | undefined {
  const m = /^btime\s+(\d+)$/m.exec(procStat);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** The number of scheduling entities (processes and threads) of /proc/loadavg ("0.1 0.2 0.3 3/166 5017" -> 166). */
export function parseLoadavgProcs(text: string): number | undefined {
  const m = /^\S+\s+\S+\s+\S+\s+\d+\/(\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

export interface InterfaceCounters {
  name: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** /proc/<pid>/net/dev: one entry per interface, in file order. */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (!name || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({ name, rxBytes: f[0]!, rxPackets: f[1]!, rxErrors: f[2]!, rxDropped: f[3]!, txBytes: f[8]!, txPackets: f[9]!, txErrors: f[10]!, txDropped: f[11]! });
  }
  return out;
}

/** Interfaces cAdvisor leaves out of a container's network stats (loopback, host ends of veth pairs, bridges of docker/nerdctl). */
const IGNORED_INTERFACE_PREFIXES = ['lo', 'veth', 'docker', 'nerdctl'];

export function isIgnoredInterface(name: string): boolean {
  return IGNORED_INTERFACE_PREFIXES.some((p) => name.startsWith(p));
}

export interface MountEntry {
  mountPoint: string;
  /** The mount source (device, or e.g. "overlay", "tmpfs"). */
  source: string;
  fsType: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** /proc/self/mountinfo: mount point, filesystem type and source of each mount, in file order. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 5 || right.length < 2) continue;
    out.push({ mountPoint: unescapeMount(left[4]!), fsType: right[0]!, source: unescapeMount(right[1]!) });
  }
  return out;
}

/** The mount holding `file` (the last, i.e. topmost, mount with the longest matching mount point). */
export function mountOf(mounts: readonly MountEntry[], file: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const inside = file === mp || mp === '/' || file.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** Capacity and free space of a filesystem (statfs), bytes and inodes. */
export interface FsInfo {
  capacityBytes: number;
  availableBytes: number;
  /** capacity - free blocks (cAdvisor's "usage" of a filesystem). */
  usedBytes: number;
  inodes: number;
  inodesFree: number;
  /** statfs f_type (TMPFS_MAGIC for tmpfs). */
  type: number;
}

export const TMPFS_MAGIC = 0x01021994;

/** statfs of `dir` (or of its nearest existing ancestor); null when nothing could be read. */
export async function readFsInfo(dir: string): Promise<FsInfo | null> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      const s = await statfs(d);
      return {
        capacityBytes: s.blocks * s.bsize,
        availableBytes: s.bavail * s.bsize,
        usedBytes: (s.blocks - s.bfree) * s.bsize,
        inodes: s.files,
        inodesFree: s.ffree,
        type: s.type,
      };
    } catch {
      if (d === path.dirname(d)) return null;
    }
  }
}

export interface DiskUsage {
  /** Allocated bytes (blocks × 512), each inode counted once. */
  bytes: number;
  /** Distinct inodes, the folder itself included. */
  inodes: number;
}

/**
 * Disk usage of a folder tree, as upstream's fs.DiskUsage (du): allocated blocks of every file,
 * hard links counted once, symbolic links not followed, mount points not crossed. Resolves to
 * null when `dir` does not exist; entries that vanish during the walk are skipped. Blocks the
 * event loop only per folder; cost is linear in the number of entries.
 */
export async function diskUsage(dir: string, signal?: AbortSignal): Promise<DiskUsage | null> {
  let root;
  try {
    root = await lstat(dir, { bigint: false });
  } catch {
    return null;
  }
  const seen = new Set<number>();
  let bytes = 0;
  const count = (ino: number, blocks: number): void => {
    if (seen.has(ino)) return;
    seen.add(ino);
    bytes += blocks * 512;
  };
  count(root.ino, root.blocks);
  if (!root.isDirectory()) return { bytes, inodes: seen.size };
  const stack = [dir];
  while (stack.length > 0) {
    signal?.throwIfAborted();
    const d = stack.pop()!;
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const name of names) {
      const p = path.join(d, name);
      let s;
      try {
        s = await lstat(p);
      } catch {
        continue;
      }
      if (s.dev !== root.dev) continue; // another filesystem mounted here
      count(s.ino, s.blocks);
      if (s.isDirectory()) stack.push(p);
    }
  }
  return { bytes, inodes: seen.size };
}

/** A file's text, or undefined when it cannot be read. */
export async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}
