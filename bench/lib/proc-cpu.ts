// CPU time of the container runtime's helpers, read from /proc: the shims (one per pod) with
// what they reaped (runc create/start/kill run as their children), and what containerd reaped
// (CNI plugins, shim start-up), which neither containerd's own CPU figure nor the shims' holds.
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** /proc CPU ticks per second (CLK_TCK; 100 on Linux in practice). */
const TICKS_PER_S = 100;

/** utime+stime and cutime+cstime (children waited for) of a process, ms; NaN when unreadable. */
export function procCpu(pid: number): { selfMs: number; childrenMs: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
    const tick = (i: number): number => Number(f[i]) * (1000 / TICKS_PER_S);
    return { selfMs: tick(11) + tick(12), childrenMs: tick(13) + tick(14) };
  } catch {
    return { selfMs: Number.NaN, childrenMs: Number.NaN };
  }
}

/**
 * CPU so far (ms) of every containerd-shim process (its own and its reaped children's) plus what
 * containerd (`containerdPid`) reaped. Shims that exited meanwhile are not counted: compare two
 * readings only over a window in which no pod was removed.
 */
export function runtimeHelpersCpuMs(containerdPid: number | undefined): number {
  let total = containerdPid ? procCpu(containerdPid).childrenMs : 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv0 = '';
    try {
      argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0] ?? '';
    } catch {
      continue;
    }
    if (!basename(argv0).startsWith('containerd-shim')) continue;
    const c = procCpu(Number(entry));
    if (!Number.isNaN(c.selfMs)) total += c.selfMs + c.childrenMs;
  }
  return total;
}
