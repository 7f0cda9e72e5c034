// TCP socket probes (upstream pkg/probe/tcp): success when a connection opens within the
// timeout; the connection is closed at once. Failure carries Go's dial error text.
import { connect } from 'node:net';
import { dialErrorText, joinHostPort } from './net.ts';
import type { ProbeOutcome } from './results.ts';

/** Opens and closes one TCP connection. Never rejects except when `signal` aborts. */
export function tcpProbe(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome> {
  const hostPort = joinHostPort(host, port);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const socket = connect({ host, port });
    const finish = (outcome: ProbeOutcome | null, err?: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      if (outcome) resolve(outcome);
      else reject(err as Error);
    };
    const onAbort = (): void => finish(null, signal?.reason);
    const timer = setTimeout(() => finish({ result: 'failure', output: `dial tcp ${hostPort}: i/o timeout` }), Math.max(1, timeoutMs));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ result: 'success', output: '' }));
    socket.once('error', (err) => finish({ result: 'failure', output: dialErrorText(hostPort, err) }));
  });
}
