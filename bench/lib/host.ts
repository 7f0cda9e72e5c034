// Facts about this machine and its processes, read from /proc and os: other tskubelets (which
// would remove the bench's pods), CPU time used, and the machine summary for the report.
// Also the benchmark's wall clock (sub-millisecond, on the same clock as the runtime's and
// tskubelet's timestamps).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { basename } from 'node:path';

/**
 * Wall-clock ms since the epoch with sub-ms resolution: the monotonic performance.now() plus an
 * offset taken when Date.now() ticks. Call calibrate() at the start of each measured phase, so
 * that clock slewing between phases does not add up (within one phase, seconds, it is negligible).
 */
export class WallClock {
  private offsetMs = Date.now() - performance.now();

  /** Spins until Date.now() changes (< 1 ms), then pins the offset at that tick. */
  calibrate(): void {
    const start = Date.now();
    let now = start;
    while (now === start) now = Date.now();
    this.offsetMs = now - performance.now();
  }

  now(): number {
    return performance.now() + this.offsetMs;
  }
}

/** A process found in /proc: pid, argv and working folder ('' when unreadable). */
export interface ProcessInfo {
  pid: number;
  argv: string[];
  cwd: string;
}

/** Every process of the machine with its argv and (withCwd) working folder; processes that vanish meanwhile are skipped. */
export function listProcesses(withCwd = true): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
      if (argv.length === 0) continue;
      let cwd = '';
      try {
        if (withCwd) cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // not ours to read
      }
      out.push({ pid: Number(entry), argv, cwd });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/** True for a node (or bash wrapper) process running tskubelet (src/main.ts or bin/tskubelet). */
export function isTskubelet(argv: readonly string[]): boolean {
  const prog = basename(argv[0] ?? '');
  if (!/^(node|bash|sh)$/.test(prog) && !prog.startsWith('node')) return false;
  // The program is the first argument that is neither an option nor an option's value (a linter
  // or an editor given src/main.ts as a file to check is not a tskubelet).
  const args = argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('-')) {
      if (NODE_VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    if (a.endsWith('scripts/node.sh')) continue; // bash scripts/node.sh [node options] src/main.ts
    return a.endsWith('src/main.ts') || a.endsWith('bin/tskubelet');
  }
  return false;
}

/** Node options whose value is the next argument. */
const NODE_VALUE_OPTIONS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader', '--cpu-prof-dir', '--heap-prof-dir', '--diagnostic-dir']);

/** True for a process running this benchmark (bench/static-pods.ts). */
export function isBench(argv: readonly string[]): boolean {
  return argv.slice(1).some((a) => a.endsWith('bench/static-pods.ts'));
}

/** A `node --test` run started in `repoDir` (this project's test suites). */
export function isTestRunOf(p: ProcessInfo, repoDir: string): boolean {
  return basename(p.argv[0] ?? '').startsWith('node') && p.argv.includes('--test') && (p.cwd === repoDir || p.cwd.startsWith(`${repoDir}/`));
}

/** Ticks per second of /proc CPU times (sysconf CLK_TCK; 100 on Linux in practice). */
const CLOCK_TICKS = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of a process so far, ms; NaN when it cannot be read. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU time of the whole machine so far (all CPUs: user, nice, system, irq, softirq, steal), ms. */
export function machineBusyMs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** The pid of the containerd daemon (the process named containerd), or undefined. */
export function containerdPid(): number | undefined {
  for (const p of listProcesses()) if (basename(p.argv[0] ?? '') === 'containerd') return p.pid;
  return undefined;
}

export interface MachineFacts {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadavg: [number, number, number];
}

export function machineFacts(): MachineFacts {
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    loadavg: [l1, l5, l15],
  };
}

/** The checked-out commit of the repository at `dir` (read-only git), or 'unknown'. */
export function gitCommit(dir: string): string {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}
