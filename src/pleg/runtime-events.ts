// Runtime events that make the PLEG relist at once instead of at its next 1 s tick, so that a
// container's exit reaches the pod status in tens of milliseconds. containerd 1.6 has no CRI
// event stream (GetContainerEvents came with 1.7 and is not served here), but containerd's own
// event service (containerd.services.events.v1.Events/Subscribe, on the same socket) publishes
// /tasks/exit and /tasks/oom for every container. Only the topic and, for an exit, whose it is
// are read (an exec'd process's exit, e.g. a probe's, is ignored): the relist remains the one
// source of truth, an event only makes it come sooner. A runtime without that service
// (CRI-O) answers UNIMPLEMENTED: the PLEG then keeps its 1 s relist alone, as upstream.
//
// The messages are encoded and read by hand (protobuf wire format), so no containerd .proto files
// are needed: SubscribeRequest { repeated string filters = 1; },
// Envelope { Timestamp timestamp = 1; string namespace = 2; string topic = 3; Any event = 4; }
// and TaskExit { string container_id = 1; string id = 2; ... }.
import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../common/clock.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { grpcTarget } from '../cri/client.ts';

const SUBSCRIBE_PATH = '/containerd.services.events.v1.Events/Subscribe';
/** containerd's namespace of the CRI plugin's containers. */
const CRI_NAMESPACE = 'k8s.io';
/** Topics that mean a container's state changed without the kubelet asking. */
export const TASK_TOPICS = ['/tasks/exit', '/tasks/oom'] as const;
/** Re-subscription backoff after the stream fails, ms: doubles from the first to the cap. */
const RETRY_FIRST_MS = 1_000;
const RETRY_CAP_MS = 30_000;

/** One length-delimited protobuf field (wire type 2). */
function lengthDelimited(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** SubscribeRequest with the given filters (containerd's filter syntax; filters are OR-ed). */
export function encodeSubscribeRequest(filters: readonly string[]): Buffer {
  return Buffer.concat(filters.map((f) => lengthDelimited(1, Buffer.from(f, 'utf8'))));
}

/**
 * The length-delimited fields (strings, bytes, messages) of a protobuf message, by field number
 * (the last one wins); other fields are skipped. Throws on a malformed message (truncated, or a
 * wire type this reader does not know).
 */
export function lengthDelimitedFields(buf: Buffer): Map<number, Buffer> {
  let pos = 0;
  const readVarint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++] as number;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  };
  const out = new Map<number, Buffer>();
  while (pos < buf.length) {
    const key = readVarint();
    switch (key % 8) {
      case 0: readVarint(); break;
      case 1: pos += 8; break;
      case 5: pos += 4; break;
      case 2: {
        const len = readVarint();
        if (pos + len > buf.length) throw new Error('truncated field');
        out.set(Math.floor(key / 8), buf.subarray(pos, pos + len));
        pos += len;
        break;
      }
      default: throw new Error(`unknown wire type ${key % 8}`);
    }
    if (pos > buf.length) throw new Error('truncated field');
  }
  return out;
}

/**
 * Whether an Envelope is about a container itself: an OOM kill, or the exit of its init process
 * (TaskExit.id = its container_id). The exit of an exec'd process (a probe, kubectl exec: its id
 * is the exec's) is not: probes would otherwise make the PLEG relist a hundred times a second.
 * Throws on a malformed message.
 */
export function isContainerEvent(envelope: Buffer): boolean {
  const env = lengthDelimitedFields(envelope);
  const topic = env.get(3)?.toString('utf8') ?? '';
  if (topic === '/tasks/oom') return true;
  if (topic !== '/tasks/exit') return false;
  // Envelope.event is an Any { type_url = 1; value = 2 }; TaskExit { container_id = 1; id = 2; ... }.
  const exit = lengthDelimitedFields(lengthDelimitedFields(env.get(4) ?? Buffer.alloc(0)).get(2) ?? Buffer.alloc(0));
  const containerId = exit.get(1)?.toString('utf8') ?? '';
  const id = exit.get(2)?.toString('utf8') ?? '';
  return containerId !== '' && (id === '' || id === containerId);
}

export interface RuntimeEventsDeps {
  /** The runtime's endpoint (unix:///run/containerd/containerd.sock). */
  endpoint: string;
  clock: Clock;
  logger: Logger;
  /** A container of the CRI namespace exited or was OOM-killed (not an exec'd process). */
  onContainerEvent: () => void;
}

/**
 * Subscribes to containerd's task events until the signal aborts; re-subscribes with backoff when
 * the stream fails; resolves at once (after logging) when the runtime has no event service.
 * Never rejects.
 */
export async function watchRuntimeEvents(deps: RuntimeEventsDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'runtime-events' });
  const client = new grpc.Client(grpcTarget(deps.endpoint), grpc.credentials.createInsecure());
  const filters = TASK_TOPICS.map((t) => `namespace==${CRI_NAMESPACE},topic=="${t}"`);
  let retryMs = RETRY_FIRST_MS;
  try {
    while (!signal.aborted) {
      const outcome = await subscribeOnce(client, filters, deps, signal, () => {
        retryMs = RETRY_FIRST_MS;
      });
      if (signal.aborted) return;
      if (outcome.code === grpc.status.UNIMPLEMENTED) {
        log.info('the runtime has no containerd event service; containers\' exits are seen by the 1 s relist only');
        return;
      }
      log.debug({ err: outcome.message, retryMs }, 'runtime event stream ended; subscribing again');
      try {
        await deps.clock.sleep(retryMs, signal);
      } catch {
        return;
      }
      retryMs = Math.min(retryMs * 2, RETRY_CAP_MS);
    }
  } finally {
    client.close();
  }
}

/** One subscription: resolves with the status it ended with. */
function subscribeOnce(client: grpc.Client, filters: readonly string[], deps: RuntimeEventsDeps, signal: AbortSignal, onData: () => void): Promise<{ code: number; message: string }> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest<readonly string[], Buffer>(
      SUBSCRIBE_PATH,
      (f) => encodeSubscribeRequest(f),
      (b) => b,
      filters,
    );
    const abort = (): void => call.cancel();
    signal.addEventListener('abort', abort, { once: true });
    let done = false;
    const finish = (code: number, message: string): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', abort);
      resolve({ code, message });
    };
    call.on('data', (buf: Buffer) => {
      onData();
      let relevant: boolean;
      try {
        relevant = isContainerEvent(buf);
      } catch (err) {
        deps.logger.debug({ component: 'runtime-events', err: errorMessage(err) }, 'malformed runtime event ignored');
        return;
      }
      if (relevant) deps.onContainerEvent();
    });
    call.on('error', (err: grpc.ServiceError) => finish(err.code ?? grpc.status.UNKNOWN, err.details || err.message));
    call.on('end', () => finish(grpc.status.OK, 'stream ended'));
  });
}
