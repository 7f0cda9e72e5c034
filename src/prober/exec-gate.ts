// ExecGate: how many exec probes the runtime runs for us at once. Every exec is a runc process
// set-up in the runtime; a hundred 1 s exec probes ask a 2-core node for more than it can do, and
// with all of them in flight the runtime thrashes: each exec takes seconds, readiness is seen late
// and the pods still starting wait behind the probes (bench:compare, 100 probe pods created at
// once on 2 cores: start p50/p99 20.0/62.5 s unbounded, 15.7/23.4 s with 4 at once; readiness
// lag p50 6.6 -> 5.1 s; 2 or 8 at once did worse). Upstream bounds nothing here.
//
// Waiting probes go first come first served. An exec holds its place for at most `releaseAfterMs`:
// past that it is waiting on the command (a sleep, a slow check), not loading the runtime, so a
// pod whose probes hang cannot hold the gate shut for the other pods' probes.
import type { Clock } from '../common/clock.ts';
import type { ExecRunner } from './exec.ts';

export interface ExecGateOptions {
  /** Exec probes in flight at once (at least 1). */
  limit: number;
  /** An exec counts against the limit for at most this long (ms). */
  releaseAfterMs: number;
  clock: Clock;
}

export class ExecGate implements ExecRunner {
  private readonly runner: ExecRunner;
  private readonly opts: ExecGateOptions;
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(runner: ExecRunner, opts: ExecGateOptions) {
    this.runner = runner;
    this.opts = { ...opts, limit: Math.max(1, Math.floor(opts.limit)) };
  }

  /** Exec probes waiting for their turn (for diagnosis and tests). */
  get queued(): number {
    return this.waiting.length;
  }

  async execSync(containerId: string, cmd: string[], timeoutSeconds: number, signal?: AbortSignal): ReturnType<ExecRunner['execSync']> {
    await this.acquire(signal);
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    };
    const timer = new AbortController();
    this.opts.clock.sleep(this.opts.releaseAfterMs, timer.signal).then(release, () => undefined);
    try {
      return await this.runner.execSync(containerId, cmd, timeoutSeconds, signal);
    } finally {
      timer.abort();
      release();
    }
  }

  /** Resolves once a place is ours (handed over by release, so `held` stays counted); rejects when `signal` aborts first. */
  private async acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.held < this.opts.limit) {
      this.held++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason as Error);
      };
      this.waiting.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
