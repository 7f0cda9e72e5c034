// The exec / attach / port-forward proxy: the runtime answers CRI Exec, Attach and PortForward
// with a one-use URL on its own streaming server; the kubelet forwards the client's upgrade
// request there (path replaced by the URL's, headers kept except credentials) and then copies
// bytes both ways until either side closes. SPDY and WebSocket clients alike: the runtime's
// streaming server speaks both, so nothing here parses frames (as upstream's proxyStream).
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { invalidInput } from '../common/errors.ts';

/** Headers never forwarded to the runtime: the caller's credentials and the proxy's own hop headers. */
const DROPPED_HEADERS = new Set(['host', 'authorization', 'proxy-authorization', 'cookie', 'impersonate-user', 'impersonate-group', 'impersonate-uid']);
/** How long the runtime's streaming server may take to accept the connection, ms. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The request head sent to the runtime (pure): the URL's path and query, the client's headers minus credentials, Host of the target. */
export function proxiedRequestHead(req: Pick<IncomingMessage, 'method' | 'rawHeaders'>, target: URL): string {
  const lines = [`${req.method ?? 'GET'} ${target.pathname}${target.search} HTTP/1.1`, `Host: ${target.host}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (DROPPED_HEADERS.has(lower) || lower.startsWith('x-remote-')) continue;
    lines.push(`${name}: ${req.rawHeaders[i + 1]!.replace(/[\r\n]/g, '')}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The runtime's streaming URL, checked: plain http on some host and port (containerd's default). */
export function streamingTarget(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalidInput(`the runtime returned an invalid streaming URL ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:') throw invalidInput(`unsupported streaming URL scheme ${JSON.stringify(u.protocol)} (tskubelet proxies only http streaming servers)`);
  return u;
}

/**
 * Connects to the runtime and splices the two connections. Resolves once the streams are joined
 * (or the runtime could not be reached: rejects, the client socket is left to the caller).
 * `idleTimeoutMs` closes both after that long without traffic (0 = never).
 */
export async function proxyUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, target: URL, idleTimeoutMs: number): Promise<void> {
  const backend: Socket = await new Promise((resolve, reject) => {
    const s = connect({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port || 80) });
    const timer = setTimeout(() => s.destroy(new Error(`connecting to the runtime's streaming server ${target.host} timed out`)), CONNECT_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  const closeBoth = (): void => {
    backend.destroy();
    client.destroy();
  };
  backend.on('error', closeBoth);
  client.on('error', closeBoth);
  backend.on('close', () => client.end());
  client.on('close', () => backend.destroy());
  if (idleTimeoutMs > 0) {
    backend.setTimeout(idleTimeoutMs, closeBoth);
    if ('setTimeout' in client && typeof client.setTimeout === 'function') (client as Socket).setTimeout(idleTimeoutMs, closeBoth);
  }
  backend.setNoDelay(true);
  backend.write(proxiedRequestHead(req, target));
  if (head.length > 0) backend.write(head);
  client.pipe(backend);
  backend.pipe(client);
}
