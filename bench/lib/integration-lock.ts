// The machine's integration lock (`flock /tmp/tskubelet-integration.lock`), which every run that
// starts a kubelet against the one containerd holds: any kubelet removes the runtime pods it does
// not know, so two of them destroy each other's pods. A bench holds it for its whole run through
// a helper `flock` process whose command waits on a pipe from the bench: the lock goes when the
// bench releases it or dies (the pipe closes), never later.
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export const INTEGRATION_LOCK = '/tmp/tskubelet-integration.lock';

/** A held lock; release() is idempotent and resolves once the lock is free. */
export interface HeldLock {
  /** 'helper': taken by this bench; 'inherited': an ancestor (e.g. `flock ... npm run`) holds it. */
  how: 'helper' | 'inherited';
  release(): Promise<void>;
}

function parentPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

/** The pids that hold a flock on `file` now, from /proc/locks (matched by inode). */
export function lockHolders(file: string): number[] {
  let ino: number;
  try {
    ino = statSync(file).ino;
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    // "3: FLOCK  ADVISORY  WRITE 27138 fe:00:9977934 0 EOF"; waiters ("3: -> FLOCK ...") hold nothing.
    if (line.includes('->')) continue;
    const f = line.trim().split(/\s+/);
    if (f[1] !== 'FLOCK' || f.length < 6) continue;
    const inode = Number((f[5] ?? '').split(':')[2]);
    if (inode === ino) out.push(Number(f[4]));
  }
  return out;
}

function describePid(pid: number): string {
  try {
    return `pid ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 160)}`;
  } catch {
    return `pid ${pid}`;
  }
}

/**
 * Takes the integration lock, waiting up to `waitS` seconds (progress every minute names the
 * holder). When an ancestor of this process already holds it (`flock LOCK npm run ...`), uses
 * that. Rejects when the wait times out or `signal` aborts.
 */
export async function holdIntegrationLock(waitS: number, progress: (msg: string) => void, signal: AbortSignal): Promise<HeldLock> {
  try {
    writeFileSync(INTEGRATION_LOCK, '', { flag: 'a' });
  } catch {
    // exists and not writable: flock still works on it
  }
  const holders = lockHolders(INTEGRATION_LOCK);
  for (let p = process.pid, depth = 0; p > 1 && depth < 16; p = parentPid(p), depth++) {
    if (holders.includes(p)) return { how: 'inherited', release: async () => undefined };
  }
  const child = spawn('flock', ['-w', String(waitS), INTEGRATION_LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', (code) => resolve(code));
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const locked = new Promise<boolean>((resolve) => {
    createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).once('line', (l) => resolve(l.trim() === 'locked'));
    void exited.then(() => resolve(false));
  });
  let waitedMs = 0;
  const reporter = setInterval(() => {
    waitedMs += 60_000;
    progress(`still waiting for ${INTEGRATION_LOCK} (${waitedMs / 60_000} min), held by ${lockHolders(INTEGRATION_LOCK).map(describePid).join('; ') || 'nobody now'}`);
  }, 60_000);
  if (holders.length > 0) progress(`waiting up to ${waitS} s for ${INTEGRATION_LOCK}, held by ${holders.map(describePid).join('; ')}`);
  const onAbort = (): void => {
    child.kill('SIGTERM');
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const ok = await locked;
    if (!ok) {
      signal.throwIfAborted();
      const code = await exited;
      throw new Error(code === 1
        ? `${INTEGRATION_LOCK} is still held after ${waitS} s (${lockHolders(INTEGRATION_LOCK).map(describePid).join('; ') || 'holder gone meanwhile'}); try again later or raise --wait`
        : `flock on ${INTEGRATION_LOCK} failed (exit ${code}): ${stderr.trim() || 'is util-linux flock installed?'}`);
    }
  } finally {
    clearInterval(reporter);
    signal.removeEventListener('abort', onAbort);
  }
  let released = false;
  return {
    how: 'helper',
    release: async () => {
      if (released) return;
      released = true;
      child.stdin?.end();
      await exited;
    },
  };
}
