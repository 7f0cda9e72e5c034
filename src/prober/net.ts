// Small network helpers shared by the probes and the lifecycle hooks: ports by number or name
// (upstream probe.ResolveContainerPort), host:port joining, the User-Agent, and Go-style error
// texts, so that events read as upstream's ("dial tcp 10.88.0.5:80: connect: connection refused").
import { isIPv6 } from 'node:net';
import { invalidInput } from '../common/errors.ts';
import type { Container } from '../kube/types.ts';
import { KUBELET_VERSION } from '../node/node-object.ts';

/** `kube-<purpose>/<major>.<minor>` as upstream (kube-probe/1.34, kube-lifecycle/1.34). */
export function userAgent(purpose: 'probe' | 'lifecycle', version = KUBELET_VERSION): string {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? `kube-${purpose}/${m[1]}.${m[2]}` : `kube-${purpose}/`;
}

/**
 * The port of a probe or hook: a number, or the name of one of the container's ports (its
 * containerPort), or a number written as a string. Throws InvalidInput otherwise, with
 * upstream's messages.
 */
export function resolveContainerPort(port: number | string | undefined, container: Container): number {
  let n: number;
  if (typeof port === 'number') n = port;
  else if (typeof port === 'string') {
    const named = (container.ports ?? []).find((p) => p.name === port);
    if (named) n = named.containerPort;
    else if (/^[+-]?\d+$/.test(port)) n = Number.parseInt(port, 10);
    else throw invalidInput(`port ${port} not found`);
  } else throw invalidInput(`intOrString had no kind: ${JSON.stringify(port)}`);
  if (Number.isInteger(n) && n > 0 && n < 65536) return n;
  throw invalidInput(`invalid port number: ${n}`);
}

/** host:port, with brackets around an IPv6 address (Go's net.JoinHostPort). */
export function joinHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connect: connection refused',
  EHOSTUNREACH: 'connect: no route to host',
  ENETUNREACH: 'connect: network is unreachable',
  ECONNRESET: 'read: connection reset by peer',
  ETIMEDOUT: 'i/o timeout',
  EADDRNOTAVAIL: 'connect: cannot assign requested address',
};

/** Go's text for a failed TCP dial: `dial tcp <host:port>: <reason>`. */
export function dialErrorText(hostPort: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reason = (e?.code && ERRNO_TEXT[e.code]) || (e instanceof Error ? e.message : String(err));
  return `dial tcp ${hostPort}: ${reason}`;
}

/** Whether a Node.js network error comes from connecting (so it reads as a dial error). */
export function isDialError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL';
}
