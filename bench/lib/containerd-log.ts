// containerd's own log (its CRI plugin logs every RunPodSandbox, CreateContainer,
// StartContainer, StopContainer, StopPodSandbox and RemovePodSandbox call when it arrives and
// when it returns, with ns timestamps): the one place that shows when tskubelet CALLED the
// runtime, so the time between the calls (tskubelet's own) can be told from the calls' time.
// Parsing is pure; ContainerdLogTail reads what the log gained since a mark.
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** Where containerd's stdout/stderr go on this machine (scripts/setup.sh); absent elsewhere. */
export const CONTAINERD_LOG = '/var/log/containerd.log';

/** One call: when containerd received it and when it returned (wall-clock ms, sub-ms); NaN when not logged. */
export interface CallTimes {
  startMs: number;
  endMs: number;
}

/** The runtime calls of one pod (attempt 0: the first of each kind), as containerd logged them. */
export interface PodCriCalls {
  sandboxId: string;
  runSandbox: CallTimes;
  createContainer: CallTimes;
  startContainer: CallTimes;
  stopContainer: CallTimes;
  stopSandbox: CallTimes;
  removeSandbox: CallTimes;
}

const none = (): CallTimes => ({ startMs: Number.NaN, endMs: Number.NaN });

/** A logrus time="2026-11-28T22:00:35.663850880Z" as ms since the epoch, keeping the sub-ms digits. */
export function parseLogTime(t: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return Number.NaN;
  return Date.parse(`${m[1]}${m[3]}`) + (m[2] ? Number(m[2]) * 1000 : 0);
}

const LINE = /^time="([^"]+)" level=\w+ msg="((?:[^"\\]|\\.)*)"/;
const RUN_SANDBOX = /^RunPodSandbox for &PodSandboxMetadata\{Name:([^,]+),Uid:[^,]*,Namespace:([^,]+),Attempt:\d+,\}(?: returns sandbox id \\"([0-9a-f]+)\\")?$/;
const CREATE = /^CreateContainer within sandbox \\"([0-9a-f]+)\\" for (?:container )?&ContainerMetadata\{[^}]*\}(?: returns container id \\"([0-9a-f]+)\\")?$/;
const BY_ID = /^(StartContainer|StopContainer|StopPodSandbox|RemovePodSandbox) (?:for )?\\"([0-9a-f]+)\\"(.*)$/;

/**
 * The runtime calls of the pods of `namespace`, by pod name, from containerd log text (any
 * amount of it, lines in order). Only the first call of each kind per pod counts; a pod whose
 * RunPodSandbox is not in the text is absent.
 */
export function parseContainerdLog(text: string, namespace: string): Map<string, PodCriCalls> {
  const pods = new Map<string, PodCriCalls>();
  const bySandbox = new Map<string, PodCriCalls>();
  const byContainer = new Map<string, PodCriCalls>();
  const pendingRun = new Map<string, number>(); // pod name -> RunPodSandbox start not yet returned
  const first = (c: CallTimes, which: 'startMs' | 'endMs', at: number): void => {
    if (Number.isNaN(c[which])) c[which] = at;
  };
  for (const line of text.split('\n')) {
    if (!line.includes('Container') && !line.includes('Sandbox')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const at = parseLogTime(m[1] as string);
    const msg = m[2] as string;
    let x = RUN_SANDBOX.exec(msg);
    if (x) {
      if (x[2] !== namespace) continue;
      const name = x[1] as string;
      if (!x[3]) {
        if (!pods.has(name) && !pendingRun.has(name)) pendingRun.set(name, at);
        continue;
      }
      if (pods.has(name)) continue; // a later attempt
      const p: PodCriCalls = {
        sandboxId: x[3], runSandbox: { startMs: pendingRun.get(name) ?? Number.NaN, endMs: at },
        createContainer: none(), startContainer: none(), stopContainer: none(), stopSandbox: none(), removeSandbox: none(),
      };
      pendingRun.delete(name);
      pods.set(name, p);
      bySandbox.set(x[3], p);
      continue;
    }
    x = CREATE.exec(msg);
    if (x) {
      const p = bySandbox.get(x[1] as string);
      if (!p) continue;
      if (x[2]) {
        if (Number.isNaN(p.createContainer.endMs)) byContainer.set(x[2], p);
        first(p.createContainer, 'endMs', at);
      } else {
        first(p.createContainer, 'startMs', at);
      }
      continue;
    }
    x = BY_ID.exec(msg);
    if (x) {
      const [, call, id, rest] = x as unknown as [string, string, string, string];
      const p = call === 'StartContainer' || call === 'StopContainer' ? byContainer.get(id) : bySandbox.get(id);
      if (!p) continue;
      const c = call === 'StartContainer' ? p.startContainer : call === 'StopContainer' ? p.stopContainer : call === 'StopPodSandbox' ? p.stopSandbox : p.removeSandbox;
      first(c, rest.includes('returns successfully') ? 'endMs' : 'startMs', at);
    }
  }
  return pods;
}

/** Reads what a log file gained since mark(); nothing (and no error) when the file is not there. */
export class ContainerdLogTail {
  private readonly path: string;
  private offset = 0;

  constructor(path = CONTAINERD_LOG) {
    this.path = path;
  }

  /** Whether the log can be read here. */
  available(): boolean {
    try {
      closeSync(openSync(this.path, 'r'));
      return true;
    } catch {
      return false;
    }
  }

  /** Remembers the log's current end. */
  mark(): void {
    try {
      this.offset = statSync(this.path).size;
    } catch {
      this.offset = 0;
    }
  }

  /** The text written since mark() (from the start if the file was truncated meanwhile); '' when unreadable. */
  sinceMark(): string {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return '';
    }
    try {
      const size = statSync(this.path).size;
      const from = size < this.offset ? 0 : this.offset;
      const buf = Buffer.alloc(size - from);
      let read = 0;
      while (read < buf.length) {
        const n = readSync(fd, buf, read, buf.length - read, from + read);
        if (n === 0) break;
        read += n;
      }
      return buf.subarray(0, read).toString('utf8');
    } finally {
      closeSync(fd);
    }
  }
}
