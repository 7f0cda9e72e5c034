// The readiness-probe benchmark's arithmetic (bench/probes.ts): which 'pod status' log lines
// are readiness transitions, which wall-clock boundary each one answers, and its lag. Pure.
//
// The bench pods' container makes itself ready during even 10 s slots of wall-clock time
// (floor(s / 10) even) and unready during odd ones, checking every 0.2 s; so the expected
// flip instants are the 10 s boundaries, the direction of a flip tells which one it follows.

/** Length of one ready or unready slot, ms (the container's schedule: `(s / 10) % 2`). */
export const SLOT_MS = 10_000;

/** Whether the container wants to be ready at wall-clock `tMs` (even slot). */
export function expectedReady(tMs: number): boolean {
  return Math.floor(tMs / SLOT_MS) % 2 === 0;
}

/**
 * The boundary that a transition to `ready` at `tMs` answers: the latest slot start at or
 * before `tMs` whose slot has that readiness (so the lag is in [0, 2 * SLOT_MS)).
 */
export function flipBoundary(tMs: number, ready: boolean): number {
  let b = Math.floor(tMs / SLOT_MS) * SLOT_MS;
  if (expectedReady(b) !== ready) b -= SLOT_MS;
  return b;
}

/** A 'pod status' log line's readiness: pod, all containers ready, line time (ms). Null for other lines. */
export interface ReadinessLine {
  pod: string;
  ready: boolean;
  running: boolean;
  timeMs: number;
}

/** Parses one tskubelet JSON log line; null unless it is a 'pod status' line with pod, ready and time. */
export function parseReadinessLine(line: string): ReadinessLine | null {
  if (!line.includes('"pod status"')) return null;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (o.msg !== 'pod status' || typeof o.pod !== 'string' || typeof o.ready !== 'string') return null;
  const timeMs = typeof o.time === 'string' ? Date.parse(o.time) : typeof o.time === 'number' ? o.time : Number.NaN;
  if (Number.isNaN(timeMs)) return null;
  const [n, of] = o.ready.split('/');
  return { pod: o.pod, ready: Number(of) > 0 && n === of, running: o.status === 'Running', timeMs };
}

/** One readiness transition of one pod as the status showed it. */
export interface Transition {
  pod: string;
  ready: boolean;
  timeMs: number;
  boundaryMs: number;
  lagMs: number;
}

/**
 * Tracks each pod's last readiness and yields a Transition when it changes. The first line of
 * a pod only sets its state (no transition).
 */
export class TransitionTracker {
  private readonly last = new Map<string, boolean>();

  /** Feeds one parsed line; returns the transition it makes, or null. */
  add(l: ReadinessLine): Transition | null {
    const prev = this.last.get(l.pod);
    this.last.set(l.pod, l.ready);
    if (prev === undefined || prev === l.ready) return null;
    const boundaryMs = flipBoundary(l.timeMs, l.ready);
    return { pod: l.pod, ready: l.ready, timeMs: l.timeMs, boundaryMs, lagMs: l.timeMs - boundaryMs };
  }
}

/** The slot boundaries in [fromMs, toMs] (ms), in order. */
export function boundariesIn(fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  for (let b = Math.ceil(fromMs / SLOT_MS) * SLOT_MS; b <= toMs; b += SLOT_MS) out.push(b);
  return out;
}
