// What the node is made of, read once at start-up (upstream: cAdvisor's MachineInfo and VersionInfo,
// cached by the kubelet, plus the root filesystem's capacity from the container manager).
import { readdir, readFile, statfs } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import * as path from 'node:path';
import { errorMessage, KubeletError } from '../common/errors.ts';

export interface HugePageInfo {
  /** Page size in KiB (2048, 1048576). */
  readonly pageSizeKiB: number;
  /** Pages reserved (nr_hugepages); 0 when the size is supported but none are set aside. */
  readonly numPages: number;
}

export interface MachineInfo {
  readonly numCores: number;
  /** MemTotal from /proc/meminfo, bytes. */
  readonly memoryCapacityBytes: number;
  /** Size of the filesystem holding the kubelet root dir, bytes; undefined when statfs failed. */
  readonly ephemeralStorageCapacityBytes: number | undefined;
  readonly hugePages: readonly HugePageInfo[];
  readonly machineID: string;
  /** '' where the DMI product UUID cannot be read (containers, some VMs, non-root). */
  readonly systemUUID: string;
  readonly bootID: string;
  readonly kernelVersion: string;
  /** PRETTY_NAME of /etc/os-release; 'Linux' when absent (as cAdvisor). */
  readonly osImage: string;
  readonly operatingSystem: 'linux';
  /** Go's GOARCH name for this CPU (amd64, arm64, ...). */
  readonly architecture: string;
}

/** Node's process.arch -> Go's GOARCH, which the API's labels and nodeInfo use. */
const GOARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le', // Node on Linux/POWER is little-endian only
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

export function goArch(nodeArch: string = process.arch): string {
  return GOARCH[nodeArch] ?? nodeArch;
}

export interface MachineInfoOptions {
  /** Prefix of /proc, /sys and /etc, for tests. Default '/'. */
  fsRoot?: string;
}

async function readTrimmed(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return '';
  }
}

/** MemTotal of a /proc/meminfo text, in bytes; undefined when absent. */
export function parseMemTotal(meminfo: string): number | undefined {
  const m = /^MemTotal:\s+(\d+)\s*kB$/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** PRETTY_NAME of an os-release text, unquoted; 'Linux' when absent (cAdvisor's default). */
export function parsePrettyName(osRelease: string): string {
  const m = /^PRETTY_NAME=(.*)$/m.exec(osRelease);
  if (!m) return 'Linux';
  const v = m[1]!.trim();
  return v.replace(/^(["'])(.*)\1$/, '$2') || 'Linux';
}

async function readHugePages(sysRoot: string): Promise<HugePageInfo[]> {
  const dir = path.join(sysRoot, 'kernel/mm/hugepages');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return []; // no huge page support
  }
  const out: HugePageInfo[] = [];
  for (const name of names) {
    const m = /^hugepages-(\d+)kB$/.exec(name);
    if (!m) continue;
    const nr = Number.parseInt(await readTrimmed(path.join(dir, name, 'nr_hugepages')), 10);
    out.push({ pageSizeKiB: Number(m[1]), numPages: Number.isFinite(nr) ? nr : 0 });
  }
  return out.sort((a, b) => a.pageSizeKiB - b.pageSizeKiB);
}

/** Capacity of the filesystem holding `dir` (or its nearest existing ancestor), bytes. */
async function filesystemCapacity(dir: string): Promise<number | undefined> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      const s = await statfs(d);
      return s.blocks * s.bsize;
    } catch {
      if (d === path.dirname(d)) return undefined;
    }
  }
}

/**
 * Reads the machine's description. Call once at start-up (the values do not change while the
 * kubelet runs, except ephemeral storage on a resize, which upstream also reads once). Missing
 * identity files give ''; only an unreadable /proc/meminfo fails (KubeletError Internal).
 */
export async function readMachineInfo(rootDir: string, opts: MachineInfoOptions = {}): Promise<MachineInfo> {
  const root = opts.fsRoot ?? '/';
  const proc = path.join(root, 'proc');
  const sys = path.join(root, 'sys');
  const etc = path.join(root, 'etc');
  let meminfo: string;
  try {
    meminfo = await readFile(path.join(proc, 'meminfo'), 'utf8');
  } catch (err) {
    throw new KubeletError('Internal', `cannot read ${path.join(proc, 'meminfo')}: ${errorMessage(err)}`, { cause: err });
  }
  const memory = parseMemTotal(meminfo);
  if (memory === undefined) throw new KubeletError('Internal', `no MemTotal in ${path.join(proc, 'meminfo')}`);
  const [machineID, dbusMachineID, systemUUID, bootID, osRelease, hugePages, storage] = await Promise.all([
    readTrimmed(path.join(etc, 'machine-id')),
    readTrimmed(path.join(root, 'var/lib/dbus/machine-id')),
    readTrimmed(path.join(sys, 'class/dmi/id/product_uuid')),
    readTrimmed(path.join(proc, 'sys/kernel/random/boot_id')),
    readTrimmed(path.join(etc, 'os-release')),
    readHugePages(sys),
    filesystemCapacity(rootDir),
  ]);
  return {
    numCores: cpus().length,
    memoryCapacityBytes: memory,
    ephemeralStorageCapacityBytes: storage,
    hugePages,
    machineID: machineID || dbusMachineID,
    systemUUID,
    bootID,
    kernelVersion: release(),
    osImage: parsePrettyName(osRelease),
    operatingSystem: 'linux',
    architecture: goArch(),
  };
}
