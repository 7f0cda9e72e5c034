// Events written to the API server (upstream client-go record.EventRecorder + EventCorrelator),
// so that `kubectl describe pod` tells the story. Recording never blocks: events go to a bounded
// queue that one sender drains. A repeat of the same event (same object, type, reason and message)
// within 10 minutes bumps the existing Event's count instead of creating a new one; beyond 25
// events about one object, about one every 5 minutes is sent (upstream's spam filter,
// event-spam.ts); every event is logged whatever happens to its API write.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort, isNotFound } from '../common/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { KubeClient } from './client.ts';
import type { EventRecorder, EventType } from './events.ts';
import type { Pod } from './types.ts';
import { EventSpamFilter } from './event-spam.ts';

/** Events queued at most; beyond, the oldest are dropped (upstream's broadcaster drops too). */
const MAX_QUEUE = 1000;
/** A repeated event within this window updates the existing one (upstream: 10 min). */
const AGGREGATE_WINDOW_MS = 10 * 60_000;
/** Retries of one event write before it is dropped (upstream: 12, with 10 s sleeps; kept short here). */
const MAX_ATTEMPTS = 3;
const RETRY_MS = 1_000;

interface Pending {
  pod: Pod;
  type: EventType;
  reason: string;
  message: string;
  at: number;
}

interface Sent {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
  at: number;
}

export interface ApiEventRecorderDeps {
  client: KubeClient;
  nodeName: string;
  clock: Clock;
  logger: Logger;
  /** Also record here (the log), whatever happens to the API write. */
  next?: EventRecorder;
}

export class ApiEventRecorder implements EventRecorder {
  private readonly deps: ApiEventRecorderDeps;
  private readonly log: Logger;
  private readonly queue: Pending[] = [];
  private readonly sent = new Map<string, Sent>();
  private readonly spam = new EventSpamFilter();
  private wake: (() => void) | null = null;

  constructor(deps: ApiEventRecorderDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'events' });
  }

  event(pod: Pod, type: EventType, reason: string, message: string): void {
    this.deps.next?.event(pod, type, reason, message);
    const m = pod.metadata;
    if (!m?.namespace || !m.name) return;
    // Upstream's spam key: the source (always this kubelet) and the involved object.
    if (!this.spam.allow(`${m.namespace}/${m.name}/${m.uid ?? ''}`, this.deps.clock.now())) return;
    if (this.queue.length >= MAX_QUEUE) this.queue.shift();
    this.queue.push({ pod, type, reason, message: message.slice(0, 1024), at: this.deps.clock.now() });
    this.wake?.();
  }

  /** Sends queued events until the signal aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const next = this.queue.shift();
      if (!next) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
        this.wake = null;
        continue;
      }
      for (let attempt = 1; attempt <= MAX_ATTEMPTS && !signal.aborted; attempt++) {
        try {
          await this.write(next, signal);
          break;
        } catch (err) {
          if (isAbort(err)) return;
          if (attempt === MAX_ATTEMPTS) this.log.debug({ reason: next.reason, err: errorMessage(err) }, 'dropping an event the API server refused');
          else await this.deps.clock.sleep(RETRY_MS * attempt, signal).catch(() => undefined);
        }
      }
      this.forgetOld();
    }
  }

  private async write(e: Pending, signal: AbortSignal): Promise<void> {
    const m = e.pod.metadata!;
    const key = `${m.uid}\n${e.type}\n${e.reason}\n${e.message}`;
    const now = new Date(e.at).toISOString().replace(/\.\d+Z$/, 'Z');
    const previous = this.sent.get(key);
    const ns = encodeURIComponent(m.namespace ?? '');
    if (previous && e.at - previous.at < AGGREGATE_WINDOW_MS) {
      try {
        await this.deps.client.request('PATCH', `/api/v1/namespaces/${ns}/events/${encodeURIComponent(previous.name)}`, {
          body: { count: previous.count + 1, lastTimestamp: now },
          contentType: 'application/merge-patch+json',
          signal,
        });
        previous.count++;
        previous.at = e.at;
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.sent.delete(key); // expired on the server: create it again
      }
    }
    // Upstream names events <object name>.<hex timestamp>; a random suffix avoids collisions.
    const name = `${m.name}.${(BigInt(e.at) * 1000000n).toString(16)}${randomBytes(2).toString('hex')}`;
    await this.deps.client.request('POST', `/api/v1/namespaces/${ns}/events`, {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: m.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion },
        reason: e.reason,
        message: e.message,
        type: e.type,
        source: { component: 'kubelet', host: this.deps.nodeName },
        reportingComponent: 'kubelet',
        reportingInstance: this.deps.nodeName,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
      signal,
    });
    this.sent.set(key, { name, namespace: m.namespace ?? '', count: 1, firstTimestamp: now, at: e.at });
  }

  private forgetOld(): void {
    const now = this.deps.clock.now();
    for (const [k, s] of this.sent) if (now - s.at > AGGREGATE_WINDOW_MS) this.sent.delete(k);
  }
}
