// gRPC probes (upstream pkg/probe/grpc): grpc.health.v1.Health/Check over a plaintext
// connection to the pod IP; SERVING succeeds, anything else fails with upstream's messages.
// The two tiny messages are encoded by hand (protobuf wire format), so no .proto is loaded:
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }  UNKNOWN=0 SERVING=1 NOT_SERVING=2 SERVICE_UNKNOWN=3
import * as grpc from '@grpc/grpc-js';
import { joinHostPort, userAgent } from './net.ts';
import type { ProbeOutcome } from './results.ts';

export const HEALTH_CHECK_METHOD = '/grpc.health.v1.Health/Check';
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n >>> 0;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** Reads a varint at `pos`; returns the value and the next position. Throws on truncation. */
function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    if (shift < 32) value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value, pos];
    if (shift > 63) throw new Error('varint too long');
  }
}

/** HealthCheckRequest{service} in protobuf wire format (an empty service is omitted, as proto3 does). */
export function encodeHealthCheckRequest(req: { service: string }): Buffer {
  const s = Buffer.from(req.service, 'utf8');
  return s.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(s.length), s]);
}

export function encodeHealthCheckResponse({ status }: { status: number }): Buffer {
  return status === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x08]), varint(status)]);
}

/** A HealthCheckRequest (unknown fields skipped). Throws on malformed input. */
export function decodeHealthCheckRequest(buf: Buffer): { service: string } {
  let service = '';
  forEachField(buf, (field, wire, _value, bytes) => {
    if (field === 1 && wire === 2) service = bytes!.toString('utf8');
  });
  return { service };
}

/** A HealthCheckResponse (status 0 when absent). Throws on malformed input. */
export function decodeHealthCheckResponse(buf: Buffer): { status: number } {
  let status = 0;
  forEachField(buf, (field, wire, value) => {
    if (field === 1 && wire === 0) status = value;
  });
  return { status };
}

function forEachField(buf: Buffer, visit: (field: number, wire: number, value: number, bytes?: Buffer) => void): void {
  let pos = 0;
  while (pos < buf.length) {
    let tag: number;
    [tag, pos] = readVarint(buf, pos);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      let v: number;
      [v, pos] = readVarint(buf, pos);
      visit(field, wire, v);
    } else if (wire === 2) {
      let len: number;
      [len, pos] = readVarint(buf, pos);
      if (pos + len > buf.length) throw new Error('truncated field');
      visit(field, wire, len, buf.subarray(pos, pos + len));
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (pos > buf.length) throw new Error('truncated field');
  }
}

/** grpc-js status name -> Go's code name (DEADLINE_EXCEEDED -> DeadlineExceeded). */
function goCodeName(code: number): string {
  const name = (grpc.status as unknown as Record<number, string>)[code] ?? String(code);
  return name.toLowerCase().replace(/(^|_)([a-z])/g, (_, __: string, c: string) => c.toUpperCase());
}

/**
 * Runs a gRPC health probe against host:port with the service name. Never rejects except when
 * `signal` aborts. A new connection each time, as upstream, closed afterwards.
 */
export async function grpcProbe(host: string, port: number, service: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome> {
  signal?.throwIfAborted();
  const addr = joinHostPort(host, port);
  const timeoutText = `${Math.round(timeoutMs / 1000)}s`;
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), {
    'grpc.primary_user_agent': userAgent('probe'),
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_retries': 0,
  });
  const deadline = Date.now() + timeoutMs;
  let call: grpc.ClientUnaryCall | null = null;
  const onAbort = (): void => {
    call?.cancel();
    client.close();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // Upstream dials with WithBlock: the connection must be up within the timeout.
    try {
      await new Promise<void>((resolve, reject) => client.waitForReady(deadline, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      signal?.throwIfAborted();
      return { result: 'failure', output: `timeout: failed to connect service ${JSON.stringify(addr)} within ${timeoutText}: ${err instanceof Error ? err.message : String(err)}` };
    }
    let status: number;
    try {
      status = await new Promise<number>((resolve, reject) => {
        call = client.makeUnaryRequest(
          HEALTH_CHECK_METHOD,
          encodeHealthCheckRequest,
          decodeHealthCheckResponse,
          { service },
          new grpc.Metadata(),
          { deadline },
          (err, res) => (err ? reject(err) : resolve(res?.status ?? 0)),
        );
      });
    } catch (err) {
      signal?.throwIfAborted();
      const e = err as grpc.ServiceError;
      if (e.code === grpc.status.UNIMPLEMENTED) return { result: 'failure', output: `this server does not implement the grpc health protocol (grpc.health.v1.Health): ${e.details}` };
      if (e.code === grpc.status.DEADLINE_EXCEEDED) return { result: 'failure', output: `timeout: health rpc did not complete within ${timeoutText}` };
      const text = typeof e.code === 'number' ? `rpc error: code = ${goCodeName(e.code)} desc = ${e.details}` : String(err);
      return { result: 'failure', output: `error: health rpc probe failed: ${text}` };
    }
    if (status !== 1) return { result: 'failure', output: `service unhealthy (responded with ${JSON.stringify(SERVING_STATUS[status] ?? String(status))})` };
    return { result: 'success', output: 'service healthy' };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    client.close();
  }
}
