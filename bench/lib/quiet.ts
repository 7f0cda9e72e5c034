// Waiting for a quiet machine before a benchmark: no other tskubelet (any tskubelet removes the
// runtime pods it does not know, whatever their node, so two of them destroy each other's pods)
// and no `node --test` run (of any clone: they share containerd and both CPUs).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTskubelet, listProcesses, type ProcessInfo } from './host.ts';

/** How often the process table is read while waiting, ms (a few ms of CPU each). */
const POLL_MS = 2_000;
/**
 * How long the machine must have been quiet, ms: a test script runs several `node --test` in a
 * row with short gaps; a bench started in such a gap would meet the next one.
 */
const QUIET_FOR_MS = 10_000;

/** What keeps the machine busy for a benchmark. */
export interface Busy {
  kubelets: ProcessInfo[];
  tests: ProcessInfo[];
}

/** A `node --test` run (its main process), whatever its folder. */
export function isTestRun(p: ProcessInfo): boolean {
  return basename(p.argv[0] ?? '').startsWith('node') && p.argv.includes('--test');
}

/** The parent pid of a process; 0 when it cannot be read (gone meanwhile). */
function parentPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

/** Whether `pid` is one of `own` or descends from one (a few levels up). */
function inTree(pid: number, own: ReadonlySet<number>): boolean {
  for (let p = pid, depth = 0; p > 1 && depth < 8; p = parentPid(p), depth++) if (own.has(p)) return true;
  return false;
}

/**
 * Other tskubelets and `node --test` runs running now: not `ownPids` nor their descendants (a
 * child that tskubelet forks, e.g. for mount(8), carries tskubelet's command line until it execs).
 */
export function busyProcesses(ownPids: readonly number[] = []): Busy {
  const all = listProcesses(false);
  const own = new Set([process.pid, ...ownPids]);
  return {
    kubelets: all.filter((p) => isTskubelet(p.argv) && !inTree(p.pid, own)),
    tests: all.filter((p) => isTestRun(p) && !inTree(p.pid, own)),
  };
}

/** One line per busy process, for messages. */
export function describeBusy(b: Busy): string {
  const line = (what: string, p: ProcessInfo): string => `${what} pid ${p.pid}: ${p.argv.join(' ').slice(0, 160)}`;
  return [...b.kubelets.map((p) => line('tskubelet', p)), ...b.tests.map((p) => line('test run', p))].join('\n');
}

/**
 * Blocks until neither another tskubelet nor a `node --test` run has run for QUIET_FOR_MS
 * (checked every POLL_MS; at once when nothing ran at the first check), then resolves. Calls
 * `progress` once when it starts waiting and about every minute after. Rejects when `timeoutMs`
 * passes (with what still runs) or the signal aborts.
 */
export async function waitForQuietMachine(timeoutMs: number, progress: (msg: string) => void, signal: AbortSignal): Promise<void> {
  const start = Date.now();
  let lastReport = 0;
  let quietSince = start;
  let waitedBefore = false;
  for (;;) {
    signal.throwIfAborted();
    const busy = busyProcesses();
    if (busy.kubelets.length + busy.tests.length === 0) {
      if (!waitedBefore || Date.now() - quietSince >= QUIET_FOR_MS) return;
      await sleep(POLL_MS, undefined, { signal });
      continue;
    }
    waitedBefore = true;
    quietSince = Date.now();
    const waited = Date.now() - start;
    if (waited > timeoutMs) throw new Error(`the machine is still busy after ${Math.round(waited / 1000)} s of waiting:\n${describeBusy(busy)}`);
    if (lastReport === 0 || Date.now() - lastReport > 60_000) {
      progress(`waiting for the machine to be quiet (${Math.round(waited / 1000)} s so far):\n${describeBusy(busy)}`);
      lastReport = Date.now();
    }
    await sleep(POLL_MS, undefined, { signal });
  }
}
