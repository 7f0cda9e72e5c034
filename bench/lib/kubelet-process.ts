// The tskubelet under test as a child process: started in its own process group (so a Ctrl-C
// on the terminal reaches the bench, which then cleans up in order, and not tskubelet, which
// would stop and leave the pods running), its stderr log kept in a file and fed line by line
// to a listener, stopped with SIGTERM (SIGKILL after a grace period).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface KubeletProcessOptions {
  /** The program and its arguments (e.g. bin/tskubelet --pod-manifest-path ...). */
  command: string;
  args: string[];
  cwd: string;
  /** Where the raw log (stdout and stderr) goes. */
  logFile: string;
  /** Called with every stderr line, in order. */
  onLine: (line: string) => void;
}

/** How long tskubelet may take to stop after SIGTERM before it gets SIGKILL (ms). */
const STOP_GRACE_MS = 10_000;
/** Lines of log kept in memory for error messages. */
const TAIL_LINES = 30;

export class KubeletProcess {
  private readonly child: ChildProcess;
  private readonly log: WriteStream;
  private readonly tailLines: string[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<void>;

  /** Starts the process at once; a failure to spawn shows as an early exit. */
  constructor(opts: KubeletProcessOptions) {
    this.log = createWriteStream(opts.logFile, { flags: 'a' });
    this.child = spawn(opts.command, opts.args, { cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise<void>((resolve) => {
      this.child.once('error', (err) => {
        this.remember(`spawn failed: ${err.message}`);
        this.exitInfo ??= { code: null, signal: null };
        resolve();
      });
      // 'close' (not 'exit'): the process ended and its output is fully read.
      this.child.once('close', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
    });
    this.child.stdout?.pipe(this.log, { end: false });
    if (this.child.stderr) {
      const rl = createInterface({ input: this.child.stderr, crlfDelay: Infinity });
      rl.on('line', (line) => {
        if (!this.log.writableEnded) this.log.write(line + '\n');
        this.remember(line);
        opts.onLine(line);
      });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.exitInfo === null;
  }

  /** How it ended, for messages ('still running' while it runs). */
  describeExit(): string {
    if (!this.exitInfo) return 'still running';
    return this.exitInfo.signal ? `killed by ${this.exitInfo.signal}` : `exited with code ${this.exitInfo.code}`;
  }

  /** The last lines of its log. */
  tail(): string[] {
    return [...this.tailLines];
  }

  private remember(line: string): void {
    this.tailLines.push(line);
    if (this.tailLines.length > TAIL_LINES) this.tailLines.shift();
  }

  /** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves once it exited and the log is flushed. */
  async stop(): Promise<void> {
    if (this.running && this.child.pid !== undefined) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (this.running) this.child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }

  /** Last resort when the bench itself must exit now: SIGKILL, no waiting. */
  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/**
 * Keeps tskubelet's log (`<tempRoot>/kubelet.log`) beyond the temp folder's removal, as
 * `<tmpdir>/<name>` (the last run's only), and says where through `progress`.
 */
export function saveKubeletLog(tempRoot: string | undefined, name: string, progress: (msg: string) => void): void {
  if (!tempRoot) return;
  const src = join(tempRoot, 'kubelet.log');
  if (!existsSync(src)) return;
  const dest = join(tmpdir(), name);
  try {
    copyFileSync(src, dest);
    progress(`tskubelet's log: ${dest}`);
  } catch (err) {
    progress(`could not keep tskubelet's log: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Waits until tskubelet's /healthz answers ok and its log says it started (`started()`); throws
 * with the log's tail if it exits or is not ready within `timeoutMs`.
 */
export async function waitKubeletStarted(kubelet: KubeletProcess, started: () => boolean, healthzPort: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + timeoutMs;
  let healthy = false;
  while (!(healthy && started())) {
    signal.throwIfAborted();
    if (!kubelet.running) throw new Error(`tskubelet ${kubelet.describeExit()} during start-up:\n${kubelet.tail().join('\n')}`);
    if (Date.now() > until) throw new Error(`tskubelet was not ready within ${timeoutMs / 1000} s (healthz ${healthy ? 'ok' : 'not ok'}, started ${started()}):\n${kubelet.tail().join('\n')}`);
    if (!healthy) {
      healthy = await fetch(`http://127.0.0.1:${healthzPort}/healthz`, { signal: AbortSignal.any([signal, AbortSignal.timeout(1_000)]) }).then((res) => res.ok, () => false);
    }
    await sleepMs(100, undefined, { signal });
  }
}
