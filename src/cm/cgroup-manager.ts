// Cgroups of the cgroupfs driver (upstream pkg/kubelet/cm/cgroup_manager_linux.go over
// libcontainer's fs / fs2 managers), reduced to what the kubelet sets: cpu shares, CFS quota and
// period, the memory limit and the pids limit. cgroup v1 (one hierarchy per controller: cpu,
// memory, pids) and v2 (the unified hierarchy; cpu.weight, cpu.max, memory.max, pids.max, with
// the controllers enabled in every ancestor's cgroup.subtree_control). The runtime creates the
// containers' cgroups below the pod cgroups; everything else in the other v1 hierarchies
// (cpuset, devices, ...) it creates on its own.
import { access, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { errorMessage } from '../common/errors.ts';

export const CGROUP_MOUNT = '/sys/fs/cgroup';

/** What the kubelet sets on a cgroup; an absent field is left as it is. */
export interface CgroupResources {
  cpuShares?: number;
  /** CFS quota, µs; -1 = no limit. */
  cpuQuota?: number;
  /** CFS period, µs. */
  cpuPeriod?: number;
  memoryLimitBytes?: number;
  /** Max processes; -1 or 0 = no limit ("max"). */
  pidsLimit?: number;
}

/** The cgroup operations of the QoS and pod managers. Names are cgroupfs paths ('/kubepods/burstable'). */
export interface CgroupManager {
  /** cgroup v1 or v2 (detected once, never rejects). */
  version(): Promise<1 | 2>;
  exists(name: string): Promise<boolean>;
  /** Creates the cgroup (and missing parents) in every hierarchy the kubelet uses, then sets `resources`. Rejects on an I/O error. */
  create(name: string, resources: CgroupResources): Promise<void>;
  /** Sets `resources` on an existing cgroup. Rejects naming the file that could not be written. */
  update(name: string, resources: CgroupResources): Promise<void>;
  /** The names of the child cgroups ([] when none or absent). */
  children(name: string): Promise<string[]>;
  /** Memory in use by the cgroup, bytes (v1 memory.usage_in_bytes, v2 memory.current). Rejects when unreadable. */
  memoryUsage(name: string): Promise<bigint>;
}

/** Upstream CpuSharesToCpuWeight (runc): shares [2, 262144] -> cpu.weight [1, 10000]. */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.trunc(((shares - 2) * 9999) / 262142);
}

/** The files and values to write for `r` (in order), per cgroup version. Pure. */
export function cgroupFileWrites(version: 1 | 2, r: CgroupResources): { controller: 'cpu' | 'memory' | 'pids'; file: string; value: string }[] {
  const out: { controller: 'cpu' | 'memory' | 'pids'; file: string; value: string }[] = [];
  const pids = r.pidsLimit === undefined ? undefined : r.pidsLimit > 0 ? String(r.pidsLimit) : 'max';
  if (version === 1) {
    if (r.cpuShares !== undefined) out.push({ controller: 'cpu', file: 'cpu.shares', value: String(r.cpuShares) });
    if (r.cpuPeriod !== undefined) out.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(r.cpuPeriod) });
    if (r.cpuQuota !== undefined) out.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(r.cpuQuota) });
    if (r.memoryLimitBytes !== undefined) out.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(r.memoryLimitBytes) });
    if (pids !== undefined) out.push({ controller: 'pids', file: 'pids.max', value: pids });
    return out;
  }
  if (r.cpuShares !== undefined) out.push({ controller: 'cpu', file: 'cpu.weight', value: String(cpuSharesToWeight(r.cpuShares)) });
  if (r.cpuQuota !== undefined || r.cpuPeriod !== undefined) {
    const quota = r.cpuQuota === undefined || r.cpuQuota < 0 ? 'max' : String(r.cpuQuota);
    out.push({ controller: 'cpu', file: 'cpu.max', value: r.cpuPeriod !== undefined ? `${quota} ${r.cpuPeriod}` : quota });
  }
  if (r.memoryLimitBytes !== undefined) out.push({ controller: 'memory', file: 'memory.max', value: r.memoryLimitBytes > 0 ? String(r.memoryLimitBytes) : 'max' });
  if (pids !== undefined) out.push({ controller: 'pids', file: 'pids.max', value: pids });
  return out;
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/** The cgroupfs driver over the mounted hierarchies. */
export class CgroupfsManager implements CgroupManager {
  private readonly mount: string;
  private layout: Promise<{ version: 1 | 2; dirs: Record<'cpu' | 'memory' | 'pids', string | null> }> | null = null;

  constructor(opts: { mount?: string } = {}) {
    this.mount = opts.mount ?? CGROUP_MOUNT;
  }

  private detect(): Promise<{ version: 1 | 2; dirs: Record<'cpu' | 'memory' | 'pids', string | null> }> {
    this.layout ??= (async () => {
      if (await exists(path.join(this.mount, 'cgroup.controllers'))) return { version: 2 as const, dirs: { cpu: this.mount, memory: this.mount, pids: this.mount } };
      const first = async (...names: string[]): Promise<string | null> => {
        for (const n of names) if (await exists(path.join(this.mount, n, 'cgroup.procs'))) return path.join(this.mount, n);
        return null;
      };
      return { version: 1 as const, dirs: { cpu: await first('cpu', 'cpu,cpuacct'), memory: await first('memory'), pids: await first('pids') } };
    })();
    return this.layout;
  }

  async version(): Promise<1 | 2> {
    return (await this.detect()).version;
  }

  private async hierarchies(): Promise<string[]> {
    const { dirs } = await this.detect();
    return [...new Set(Object.values(dirs).filter((d): d is string => d !== null))];
  }

  async exists(name: string): Promise<boolean> {
    for (const h of await this.hierarchies()) if (!(await exists(path.join(h, name)))) return false;
    return true;
  }

  async create(name: string, resources: CgroupResources): Promise<void> {
    if ((await this.version()) === 2) await this.enableControllers(name);
    for (const h of await this.hierarchies()) await mkdir(path.join(h, name), { recursive: true });
    await this.update(name, resources);
  }

  async update(name: string, resources: CgroupResources): Promise<void> {
    const { version, dirs } = await this.detect();
    const writes = cgroupFileWrites(version, resources);
    const failures: string[] = [];
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i]!;
      const dir = dirs[w.controller];
      if (!dir) continue; // controller not mounted: nothing to set
      const file = path.join(dir, name, w.file);
      try {
        await writeFile(file, w.value);
      } catch (err) {
        // Lowering the CFS period below the current quota is refused: quota first, then the period again.
        const next = writes[i + 1];
        if (version === 1 && w.file === 'cpu.cfs_period_us' && next?.file === 'cpu.cfs_quota_us') {
          try {
            await writeFile(path.join(dir, name, next.file), next.value);
            await writeFile(file, w.value);
            i++;
            continue;
          } catch {
            // reported below
          }
        }
        failures.push(`${file}=${w.value}: ${errorMessage(err)}`);
      }
    }
    if (failures.length > 0) throw new Error(`cannot set cgroup ${name}: ${failures.join('; ')}`);
  }

  async children(name: string): Promise<string[]> {
    const { dirs } = await this.detect();
    const dir = dirs.memory ?? dirs.cpu;
    if (!dir) return [];
    try {
      return (await readdir(path.join(dir, name), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return [];
    }
  }

  async memoryUsage(name: string): Promise<bigint> {
    const { version, dirs } = await this.detect();
    if (!dirs.memory) throw new Error('the memory cgroup controller is not mounted');
    const text = await readFile(path.join(dirs.memory, name, version === 1 ? 'memory.usage_in_bytes' : 'memory.current'), 'utf8');
    return BigInt(text.trim());
  }

  /** v2: the cpu, memory and pids controllers enabled for the children of every ancestor of `name`. */
  private async enableControllers(name: string): Promise<void> {
    const available = (await readFile(path.join(this.mount, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/);
    const wanted = ['cpu', 'memory', 'pids'].filter((c) => available.includes(c));
    const parts = name.split('/').filter(Boolean);
    for (let i = 0; i < parts.length; i++) {
      const dir = path.join(this.mount, ...parts.slice(0, i));
      await mkdir(dir, { recursive: true });
      for (const c of wanted) await writeFile(path.join(dir, 'cgroup.subtree_control'), `+${c}`).catch(() => undefined);
    }
  }
}
