// Free TCP ports for the benchmarks' tskubelet (healthz, read-only server).
import { createServer, type AddressInfo, type Server } from 'node:net';

/** Free TCP ports on 127.0.0.1 (asked of the kernel, then released: a tiny race is accepted). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<Server>((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => ok(s));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  return ports;
}
