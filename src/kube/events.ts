// Events about a pod (upstream's record.EventRecorder). Standalone, they are logged; with an API
// server (a later issue) the same calls create Event objects. Never put a secret in a message.
import type { Logger } from '../observability/logger.ts';
import type { Pod } from './types.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  /** Records an event; never blocks and never throws. */
  event(pod: Pod, type: EventType, reason: string, message: string): void;
}

export class LoggingEventRecorder implements EventRecorder {
  private readonly logger: Logger;
  constructor(deps: { logger: Logger }) {
    this.logger = deps.logger.child({ component: 'events' });
  }
  event(pod: Pod, type: EventType, reason: string, message: string): void {
    const fields = { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, podUID: pod.metadata?.uid, type, reason };
    if (type === 'Warning') this.logger.warn(fields, message);
    else this.logger.info(fields, message);
  }
}
