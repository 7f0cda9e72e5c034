// CommandRunner: runs short system commands (mount, umount) through one long-lived bash helper
// instead of forking this process for each. A fork costs in proportion to the parent's memory:
// at ~100 MiB resident, child_process.execFile took ~4.4 ms of the agent's CPU per command and
// held its event loop for ~8 ms; through the helper, whose own forks are cheap, ~0.3 ms and no
// hold (microbenchmark of /bin/true, 100 calls).
//
// Protocol. To the helper's stdin: the argument count, then each argument, each ended by NUL, so
// no argument is ever parsed by a shell. From its stdout: the exit status, then the command's
// output (stdout and stderr together, trailing newlines and NULs dropped), each ended by NUL.
// Commands run one at a time, in call order: mount and umount take milliseconds, but one that
// hangs holds the others until its timeout. A command that outlasts its timeout has the helper's
// whole process group killed; the next call starts a new helper. The helper ends by itself when
// its stdin closes (this process ended).
import { spawn, type ChildProcess } from 'node:child_process';
import { invalidInput, transient } from './errors.ts';

const HELPER_SCRIPT = [
  "while IFS= read -r -d '' n; do",
  '  args=()',
  "  for ((i = 0; i < n; i++)); do IFS= read -r -d '' a || exit 0; args+=(\"$a\"); done",
  '  out=$("${args[@]}" 2>&1 </dev/null)',
  "  printf '%s\\0%s\\0' \"$?\" \"$out\"",
  'done',
].join('\n');

export interface CommandResult {
  exitCode: number;
  /** stdout and stderr together, trailing newlines dropped. */
  output: string;
}

interface Helper {
  child: ChildProcess;
  received: Buffer[];
  /** Settles the command in flight (at most one). */
  answer: ((res: CommandResult | Error) => void) | null;
  /** Its process group was killed (once is enough). */
  killed: boolean;
}

export class CommandRunner {
  private helper: Helper | null = null;
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `file` with `args`; resolves with its exit status and output, rejects (Transient) when it could not be run or timed out. */
  run(file: string, args: readonly string[], timeoutMs: number): Promise<CommandResult> {
    const argv = [file, ...args];
    if (argv.some((a) => a.includes('\0'))) return Promise.reject(invalidInput(`${file}: an argument holds a NUL byte`));
    const result = this.tail.then(() => this.runNow(argv, timeoutMs));
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Ends the helper (it would also end by itself once this process exits). */
  close(): void {
    if (this.helper) this.kill(this.helper, new Error('command runner closed'));
  }

  private async runNow(argv: readonly string[], timeoutMs: number): Promise<CommandResult> {
    const h = this.helper ?? this.start();
    const answer = new Promise<CommandResult | Error>((resolve) => (h.answer = resolve));
    h.child.stdin!.write([String(argv.length), ...argv].map((a) => `${a}\0`).join(''));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(transient(`${argv[0]} did not finish within ${timeoutMs} ms`)), timeoutMs);
    });
    const res = await Promise.race([answer, timedOut]);
    clearTimeout(timer);
    if (res instanceof Error) {
      this.kill(h, res);
      throw res;
    }
    return res;
  }

  private start(): Helper {
    const child = spawn('bash', ['--noprofile', '--norc', '-c', HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    const h: Helper = { child, received: [], answer: null, killed: false };
    this.helper = h;
    child.stdout!.on('data', (chunk: Buffer) => {
      h.received.push(chunk);
      this.parse(h);
    });
    child.on('error', (err) => this.kill(h, transient(`cannot run the command helper (bash): ${err.message}`, err)));
    child.on('exit', (code, signal) => this.kill(h, transient(`the command helper (bash) ended (${signal ?? `exit ${code}`})`)));
    child.stdin!.on('error', () => undefined); // a dead helper: its exit settles the call
    // Idle, the helper must not keep this process alive; a call in flight has its timer.
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    return h;
  }

  /** Settles the call in flight once both NUL-ended fields of its answer are in. */
  private parse(h: Helper): void {
    const data = Buffer.concat(h.received);
    const first = data.indexOf(0);
    const second = first < 0 ? -1 : data.indexOf(0, first + 1);
    if (second < 0) {
      h.received = [data];
      return;
    }
    h.received = second + 1 < data.length ? [data.subarray(second + 1)] : [];
    const answer = h.answer;
    h.answer = null;
    answer?.({ exitCode: Number(data.subarray(0, first).toString()), output: data.subarray(first + 1, second).toString('utf8') });
  }

  /** Kills the helper's process group (the command too) and fails the call in flight. */
  private kill(h: Helper, reason: Error): void {
    if (this.helper === h) this.helper = null;
    const answer = h.answer;
    h.answer = null;
    answer?.(reason);
    if (h.killed || h.child.pid === undefined) return;
    h.killed = true;
    try {
      // The group also when bash itself died: a command it ran may still be there.
      process.kill(-h.child.pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
  }
}
